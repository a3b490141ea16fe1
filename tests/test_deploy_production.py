"""The site as deployed: nginx (TLS, the kit's site file) -> gunicorn (the kit's settings)
-> the app, plus the campaign worker, all reading one instance/config.py, run as a
non-root user. Through nginx over https on a non-443 port: signup and confirmation, a
staff login, a campaign sent by the worker, an RFC 8058 one-click opt-out; then the
access log holds no token and no address.
"""

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from deploy_helpers import (
    CONFIG_EXAMPLE,
    GUNICORN_CONF,
    chown_tree,
    free_port,
    make_certificate,
    render_site,
    require_nginx,
    service_user,
    write_nginx_prefix,
)
from newsletter_helpers import VALID_SIGNUP, text_part
from process_helpers import PROJECT_ROOT
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD

BIN = Path(sys.executable).parent
CAMPAIGN_SUBJECT = "Deployed news"
# What the units set (UMask=0027): files the app creates are not world-readable.
UNIT_UMASK = 0o027


class Browser:
    """A small https client: one connection per request, cookies by name, no redirects.

    Trusts only the test's certificate and sends the Host with its port, as a browser
    does; a POST carries the Origin, Sec-Fetch-Site and Referer (the last page fetched)
    a browser would send.
    """

    def __init__(self, port, cafile):
        self.port = port
        self.origin = f"https://localhost:{port}"
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.cookies = {}
        self.page = "/"

    def request(self, method, path, body=None, headers=None, browser=True):
        """(status, headers, text) of one request; `browser=False` sends no cookie or Origin."""
        sent = dict(headers or {})
        if browser and self.cookies and path.startswith("/admin"):
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if browser and method == "POST":
            sent.setdefault("Origin", self.origin)
            sent.setdefault("Sec-Fetch-Site", "same-origin")
            # Flask-WTF compares a secure POST's Referer with the host, port included.
            sent.setdefault("Referer", self.origin + self.page)
        if isinstance(body, dict):
            body = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPSConnection(
            "localhost", self.port, context=self.context, timeout=15
        )
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        if method == "GET":
            self.page = path
        for cookie in response.headers.get_all("Set-Cookie") or []:
            assert "Secure" in cookie and "HttpOnly" in cookie, cookie
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.headers, text

    def csrf_token(self, path):
        """The CSRF token of the form on a staff page."""
        status, _, html = self.request("GET", path)
        assert status == 200, (path, status)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)


def wait_until_serving(browser, processes, deadline):
    """Poll the home page through nginx until gunicorn answers."""
    last = None
    while time.monotonic() < deadline:
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited: {read_output(process)}"
        try:
            status, _, _ = browser.request("GET", "/", browser=False)
            if status == 200:
                return
            last = status
        except OSError as error:
            last = error
        time.sleep(0.1)
    raise AssertionError(f"the site did not come up: {last}")


def read_output(process):
    """What a stopped child printed (its stdout and stderr share one file)."""
    process.log.seek(0)
    return process.log.read().decode("utf-8", "replace")


@pytest.fixture
def deployment(mailbox):
    """A production-like tree under a private temp folder, owned by the service user."""
    nginx = require_nginx()
    run_as, uid, gid = service_user()
    readable = subprocess.run(
        [*run_as, sys.executable, "-c", "open('app.py').close()"], cwd=PROJECT_ROOT
    )
    if readable.returncode != 0:
        pytest.fail(
            f"{PROJECT_ROOT} and {sys.executable} must be readable by the service user "
            f"({run_as and 'nobody' or 'this user'}), as /srv/weprode is by weprode: "
            "clone outside a private home folder"
        )
    root = Path(tempfile.mkdtemp(prefix="weprode-deploy-"))
    try:
        ports = {"https": free_port(), "http": free_port(), "gunicorn": free_port()}
        instance, home, tls, prefix = (root / name for name in ("instance", "home", "tls", "nginx"))
        for folder in (instance, home, tls):
            folder.mkdir()
        instance.chmod(0o750)
        cert, key = make_certificate(tls)
        site = render_site(
            https_port=ports["https"],
            http_port=ports["http"],
            upstream=f"127.0.0.1:{ports['gunicorn']}",
            cert=cert,
            key=key,
            static=PROJECT_ROOT / "static",
            logs=prefix / "logs",
        )
        conf = write_nginx_prefix(prefix, site)
        # The shipped example, with what an administrator edits set for this machine.
        (instance / "config.py").write_text(
            CONFIG_EXAMPLE.read_text()
            + f"""
# --- edited for the test ---
PUBLIC_URL = "https://localhost:{ports["https"]}"
SECRET_KEY = {secrets.token_urlsafe(48)!r}
MAIL_SERVER = "127.0.0.1"
MAIL_PORT = {mailbox.port}
MAIL_USE_TLS = False
MAIL_USERNAME = None
MAIL_PASSWORD = None
STAFF_REQUIRE_TOTP = False
"""
        )
        (instance / "config.py").chmod(0o640)
        chown_tree(root, uid, gid)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "WEPRODE_INSTANCE_PATH": str(instance),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        yield {
            "root": root,
            "ports": ports,
            "instance": instance,
            "home": home,
            "cert": cert,
            "nginx": [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/e.log")],
            "access_log": prefix / "logs" / "access.log",
            "run_as": run_as,
            "env": env,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(deployment, *command, **options):
    """Run a command as the service user from the checkout, as a systemd unit would."""
    return subprocess.run(
        [*deployment["run_as"], *command],
        cwd=PROJECT_ROOT,
        env=deployment["env"],
        umask=UNIT_UMASK,
        capture_output=True,
        text=True,
        timeout=60,
        **options,
    )


def start(deployment, *command):
    """Start a long-running child as the service user; its output goes to a temp file."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [*deployment["run_as"], *command],
        cwd=PROJECT_ROOT,
        env=deployment["env"],
        umask=UNIT_UMASK,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log = log
    return process


def stop(processes):
    """SIGTERM every child, then wait; SIGKILL what is still alive after 10 s."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_mail(mailbox, predicate, what):
    """The first message matching `predicate`, waiting up to 15 s for it."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [message for message in list(mailbox.messages) if predicate(message)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {what} arrived; got {[m['Subject'] for m in mailbox.messages]}")


def test_production_stack_through_nginx(deployment, mailbox):
    ports, public = deployment["ports"], f"https://localhost:{deployment['ports']['https']}"
    flask = [str(BIN / "flask"), "--app", "app"]

    migrated = run(deployment, *flask, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = run(
        deployment, *flask, "staff", "create", STAFF_EMAIL, "--password-stdin",
        input=STAFF_PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    processes = {}
    try:
        processes["gunicorn"] = start(
            deployment, str(BIN / "gunicorn"), "--config", str(GUNICORN_CONF),
            "--bind", f"127.0.0.1:{ports['gunicorn']}",
        )  # fmt: skip
        processes["worker"] = start(
            deployment, *flask, "campaigns", "worker", "--poll-seconds", "0.2"
        )
        processes["nginx"] = start(deployment, *deployment["nginx"], "-g", "daemon off;")
        browser = Browser(ports["https"], deployment["cert"])
        wait_until_serving(browser, processes, time.monotonic() + 30)

        # http only redirects to https.
        plain = http.client.HTTPConnection("localhost", ports["http"], timeout=10)
        plain.request("GET", "/newsletter?lang=fr")
        redirect = plain.getresponse()
        assert redirect.status == 301
        assert redirect.headers["Location"] == "https://localhost/newsletter?lang=fr"
        plain.close()

        # Static files come from nginx, compressed, cached for a year under the
        # fingerprinted URL the pages use, for an hour without it.
        css = next(iter(sorted((PROJECT_ROOT / "static").rglob("*.css"))))
        static_path = "/static/" + css.relative_to(PROJECT_ROOT / "static").as_posix()
        status, headers, body = browser.request("GET", static_path, browser=False)
        assert status == 200 and body == css.read_text()
        assert headers["Cache-Control"] == "public, max-age=3600"
        status, _, page = browser.request("GET", "/", browser=False)
        fingerprinted = re.search(r'href="(/static/[^"]+\.css\?v=[0-9a-f]+)"', page).group(1)
        status, headers, _ = browser.request("GET", fingerprinted, browser=False)
        assert status == 200
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["X-Content-Type-Options"] == "nosniff"
        status, headers, _ = browser.request(
            "GET", static_path, headers={"Accept-Encoding": "gzip"}, browser=False
        )
        assert headers["Content-Encoding"] == "gzip"

        # Signup, then the confirmation link: https, with the port.
        status, _, _ = browser.request("POST", "/newsletter", body=VALID_SIGNUP)
        assert status == 200
        confirmation = wait_for_mail(
            mailbox, lambda m: "/newsletter/confirm/" in text_part(m), "confirmation mail"
        )
        match = re.search(
            re.escape(public) + r"(/newsletter/confirm/([^\s?]+))", text_part(confirmation)
        )
        assert match, text_part(confirmation)
        confirm_path, confirm_token = match.groups()
        assert browser.request("GET", confirm_path)[0] == 200
        status, _, page = browser.request("POST", confirm_path)
        assert status == 200, page

        # A POST whose Origin lacks the port is cross-origin: the port reached the app.
        refused = browser.request(
            "POST", "/newsletter", VALID_SIGNUP, {"Origin": "https://localhost"}
        )
        assert refused[0] == 403

        # Staff login through /admin: CSRF and the origin check pass behind nginx.
        token = browser.csrf_token("/admin/login")
        status, headers, _ = browser.request(
            "POST", "/admin/login",
            body={"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "csrf_token": token},
        )  # fmt: skip
        assert status == 302 and urlsplit(headers["Location"]).path == "/admin/"
        assert browser.request("GET", "/admin/")[0] == 200

        # A campaign, sent by the worker.
        status, headers, _ = browser.request(
            "POST", "/admin/campaigns/new",
            body={
                "en-subject": CAMPAIGN_SUBJECT, "en-preheader": "", "audience": "all",
                "topic": "1",  # the main topic, the first one the migrations make
                "en-body_markdown": "Hello {{ first_name }}, news.",
                "csrf_token": browser.csrf_token("/admin/campaigns/new"),
            },
        )  # fmt: skip
        assert status == 302, headers
        campaign = urlsplit(headers["Location"]).path
        status, _, _ = browser.request(
            "POST", f"{campaign}/send",
            body={
                "csrf_token": browser.csrf_token(campaign), "confirm": "yes", "audience": "all",
                "topic": "1", "segment": "", "segment_definition": "",  # what the page showed
            },
        )  # fmt: skip
        assert status == 302
        news = wait_for_mail(mailbox, lambda m: m["Subject"] == CAMPAIGN_SUBJECT, "campaign")
        assert VALID_SIGNUP["email"].lower() in news["To"].lower()
        assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        match = re.fullmatch(
            "<" + re.escape(public) + r"(/unsubscribe/([^>]+))>", news["List-Unsubscribe"]
        )
        assert match, news["List-Unsubscribe"]
        unsubscribe_path, unsubscribe_token = match.groups()

        # Addresses and token-shaped text elsewhere in a URL stay out of the log too.
        probes = ("/admin/subscribers?q=jane%40example.org", "/find/jane@example.org",
                  "/nowhere/" + "A" * 30)  # fmt: skip
        for probe in probes:
            assert browser.request("GET", probe)[0] in (200, 404)

        # The mailbox provider's one-click POST: no cookie, no Origin, through nginx.
        status, _, page = browser.request(
            "POST", unsubscribe_path, body="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"}, browser=False,
        )  # fmt: skip
        assert status == 200, page

        # Monitoring through nginx: the worker beats, nothing is stuck, no cookie.
        status, headers, body = browser.request("GET", "/healthz", browser=False)
        assert (status, json.loads(body)["status"]) == (200, "ok"), body
        assert headers["Cache-Control"] == "no-store" and "Set-Cookie" not in headers
    finally:
        stop(processes)

    for name, process in processes.items():
        assert process.returncode in (0, -signal.SIGTERM), f"{name}: {read_output(process)}"
    database = sqlite3.connect(
        f"file:{deployment['instance'] / 'weprode.sqlite3'}?mode=ro", uri=True
    )
    try:
        [(status,)] = database.execute(
            "SELECT status FROM subscribers WHERE lower(email) = ?",
            (VALID_SIGNUP["email"].lower(),),
        ).fetchall()
    finally:
        database.close()
    assert status == "churned"

    # Every request went through nginx, and its log names no token and no address.
    log = deployment["access_log"].read_text()
    assert "/newsletter/confirm/[token]" in log and "/unsubscribe/[token]" in log
    assert '"POST /admin/login HTTP/1.1" 302' in log
    assert '"GET /admin/subscribers? HTTP/1.1" 200' in log
    assert '"GET [path with an address] HTTP/1.1" 404' in log
    assert '"GET [path with a token] HTTP/1.1" 404' in log
    for secret in (confirm_token, unsubscribe_token):
        assert secret not in log and secret[:24] not in log
    for token in re.findall(r"/(?:unsubscribe|confirm)/([A-Za-z0-9_.-]{24,})", str(news)):
        assert token[:24] not in log
    assert "@" not in log and "%40" not in log.lower()
    # gunicorn opened no control socket in the service user's home.
    assert list(deployment["home"].iterdir()) == []
