"""The relay's faults: TLS is verified by default, and a relay that stalls mid-DATA
costs at most MAIL_TIMEOUT (issue 12, item 6). Real servers on real sockets."""

import socket
import ssl
import threading
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from deploy_helpers import find_program, free_port, make_certificate

from devtools.mailsink import MailSinkHandler
from weprode.db import connect
from weprode.mail import messages, outbox

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate naming `localhost` only (not 127.0.0.1)."""
    if find_program("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    return make_certificate(tmp_path_factory.mktemp("tls"), names="DNS:localhost")


def tls_sink(certificate, implicit):
    """A sink speaking STARTTLS, or TLS from the first byte (`implicit`)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = MailSinkHandler()
    port = free_port()
    options = {"ssl_context": context} if implicit else {"tls_context": context}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, handler, port


def send_one(app):
    with app.app_context():
        message = messages.build_message("jane.doe@example.org", "Hello", "Hi Jane", None)
        messages.send(message)


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_tls_to_the_relay_refuses_a_certificate_nobody_vouches_for(make_app, certificate, implicit):
    controller, handler, port = tls_sink(certificate, implicit)
    try:
        mode = {"MAIL_USE_SSL": True} if implicit else {"MAIL_USE_TLS": True}
        app = make_app(MAIL_SERVER="localhost", MAIL_PORT=port, **mode)
        with pytest.raises(messages.MailDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            send_one(app)
        assert handler.messages == []
        # Trusting its CA (a private relay's) lets the mail through, checked.
        trusted = make_app(
            MAIL_SERVER="localhost", MAIL_PORT=port, MAIL_TLS_CA_FILE=str(certificate[0]), **mode
        )
        send_one(trusted)
        assert [message["To"] for message in handler.wait_for(1)] == ["jane.doe@example.org"]
    finally:
        controller.stop()


def test_tls_to_the_relay_refuses_a_certificate_for_another_name(make_app, certificate):
    controller, handler, port = tls_sink(certificate, implicit=False)
    try:
        # The certificate names localhost; the relay is reached as 127.0.0.1.
        app = make_app(
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_USE_TLS=True,
            MAIL_TLS_CA_FILE=str(certificate[0]),
        )
        with pytest.raises(messages.MailDeliveryError, match="match|mismatch"):
            send_one(app)
        unchecked = make_app(
            MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=True, MAIL_TLS_VERIFY=False
        )
        send_one(unchecked)  # explicitly turned off: for a relay on this host only
        assert len(handler.wait_for(1)) == 1
    finally:
        controller.stop()


class StallingRelay:
    """Answers like a relay up to the end of DATA, then never replies."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.release.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.converse, args=(connection,), daemon=True).start()

    def converse(self, connection):
        with connection, connection.makefile("rb") as lines:
            connection.sendall(b"220 stalling relay\r\n")
            in_data = False
            for line in lines:
                if in_data:
                    if line == b".\r\n":
                        self.stalled.set()
                        self.release.wait(60)  # the reply to the message never comes
                        return
                    continue
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    connection.sendall(b"250-stalling relay\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    in_data = True
                    connection.sendall(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:
                    connection.sendall(b"250 ok\r\n")

    def close(self):
        self.release.set()
        self.listener.close()


def test_a_relay_stalling_mid_data_costs_at_most_the_timeout_and_the_mail_waits(make_app):
    relay = StallingRelay()
    try:
        app = make_app(MAIL_PORT=relay.port, MAIL_TIMEOUT=1)
        db = connect(app.config["DATABASE"])
        with app.app_context():
            message = messages.build_message("jane.doe@example.org", "Hello", "Hi Jane", None)
            message_id = outbox.enqueue(db, "contact_ack", message, NOW)
            db.conn.commit()
        done = threading.Event()
        reports = []

        def retry():
            with app.app_context():
                reports.append(outbox.send_due(db, NOW))
            done.set()

        threading.Thread(target=retry, daemon=True).start()
        assert relay.stalled.wait(10), "the message never reached the end of DATA"
        # A hang detector, not a speed check: MAIL_TIMEOUT is 1 s.
        assert done.wait(30), "the sender was still waiting for the stalled relay"
        assert reports[0].sent == 0 and reports[0].waiting == 1
        row = db["outbox"].get(message_id)
        assert row["attempts"] == 1 and "timed out" in row["last_error"]
    finally:
        relay.close()
