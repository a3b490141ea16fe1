"""Browser fixtures: one Chromium per session, one live server per module, a fresh page per test.

The `page` fixture records every console error and uncaught page error in `browser_problems`.
Chromium reports Content Security Policy violations as console errors ("... violates the
following Content Security Policy directive ..."), so CSP violations land there too.
"""

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from app_helpers import base_config, migrated_app
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fail fast: a missing element should not cost the default 30 seconds.
ACTION_TIMEOUT_MS = 5000
BROWSER_SECRET_KEY = "browser-test-secret-key-that-is-long-enough-0123456789"


def chromium_path():
    """The Chromium binary to drive: $WEPRODE_CHROMIUM, else Debian's."""
    return os.environ.get("WEPRODE_CHROMIUM") or DEFAULT_CHROMIUM


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session.

    Without a Chromium binary the browser tests are skipped, unless
    WEPRODE_REQUIRE_BROWSER=1 (as in CI), where a missing browser is a failure.
    """
    path = chromium_path()
    if not Path(path).exists():
        message = f"Chromium not found at {path}; install Debian's chromium"
        if os.environ.get("WEPRODE_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class LiveServer:
    """The app served over real HTTP on a free local port."""

    url: str
    app: object


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, smtp_sink):
    """A migrated app served by werkzeug in a daemon thread, shared by a test module
    (the root conftest's `app_config` is function-scoped)."""
    tmp = tmp_path_factory.mktemp("live")
    config = base_config(tmp / "test.sqlite3", smtp_sink.port, SECRET_KEY=BROWSER_SECRET_KEY)
    app = migrated_app(config, tmp / "instance")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@dataclass
class BrowserProblem:
    """A console error or an uncaught exception seen by the page."""

    kind: str  # "console" or "pageerror"
    text: str
    url: str

    def __str__(self):
        return f"[{self.kind}] {self.text} (at {self.url})"


@pytest.fixture
def browser_problems():
    """What went wrong in the page during the test; tests assert it is empty."""
    return []


@pytest.fixture
def context(browser):
    """A fresh browser context: no cookies or storage carried over between tests."""
    browser_context = browser.new_context()
    browser_context.set_default_timeout(ACTION_TIMEOUT_MS)
    yield browser_context
    browser_context.close()


@pytest.fixture
def page(context, browser_problems):
    """A new page whose console errors, CSP violations and page errors are recorded."""
    new_page = context.new_page()

    def on_console(message):
        if message.type == "error":
            location = message.location.get("url", "")
            browser_problems.append(BrowserProblem("console", message.text, location))

    def on_page_error(error):
        browser_problems.append(BrowserProblem("pageerror", str(error), new_page.url))

    new_page.on("console", on_console)
    new_page.on("pageerror", on_page_error)
    return new_page
