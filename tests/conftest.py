"""Fixtures: an app on a temporary instance folder, a real SMTP sink, a CLI runner."""

import socket

import pytest
from app_helpers import base_config, migrated_app
from staff_helpers import ENGLISH_STAFF, STAFF_EMAIL, STAFF_PASSWORD, log_in

from devtools.mailsink import start_sink
from weprode.db import connect, utcnow
from weprode.staff import accounts


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory):
    """A real aiosmtpd server for the whole session; each test clears its messages."""
    port = free_port()
    controller, handler = start_sink("127.0.0.1", port, tmp_path_factory.mktemp("mail"))
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def mailbox(smtp_sink):
    """The sink, emptied for this test."""
    smtp_sink.clear()
    return smtp_sink


@pytest.fixture
def app_config(tmp_path, smtp_sink):
    """The test config; tests may change it before asking for `app`."""
    return base_config(tmp_path / "test.sqlite3", smtp_sink.port)


@pytest.fixture
def make_app(app_config, tmp_path):
    """Build another migrated app from the test config with some keys changed."""
    built = []

    def build(**overrides):
        config = {**app_config, **overrides}
        instance = tmp_path / f"instance{len(built)}"
        if built and "DATABASE" not in overrides:
            config["DATABASE"] = str(instance / "test.sqlite3")
        application = migrated_app(config, instance)
        built.append(application)
        return application

    return build


@pytest.fixture
def app(make_app):
    """A migrated app on a temporary instance folder."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client without cookies carried over between tests."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Runs `flask` commands against the app."""
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """A connection to the test database, for arranging and checking state."""
    connection = connect(app.config["DATABASE"])
    yield connection
    connection.close()


@pytest.fixture
def staff_client(app, client, db):
    """The test client, signed in as a freshly created staff account."""
    with app.app_context():
        accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)
    log_in(client)
    return client
