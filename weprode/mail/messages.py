"""The only module that talks SMTP: renders messages from templates and sends them.

Sending happens in the caller's thread and raises `MailDeliveryError` on failure, so
no error is lost in a fire-and-forget thread; callers decide whether to retry.
"""

import smtplib
from typing import Any

from flask import Flask, current_app, render_template
from flask_mail import BadHeaderError, Connection, Mail, Message

mail = Mail()


class MailDeliveryError(RuntimeError):
    """The relay could not be reached or refused the message."""


class TimeoutConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a stuck relay cannot hang us."""

    def configure_host(self) -> smtplib.SMTP:
        """Open the SMTP session like Flask-Mail does, but never wait forever."""
        timeout = current_app.config["MAIL_TIMEOUT"]
        server, port = self.mail.server, self.mail.port
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(server, port, timeout=timeout)
        else:
            host = smtplib.SMTP(server, port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def render_message(
    recipient: str,
    subject: str,
    template: str,
    headers: dict[str, str] | None = None,
    reply_to: str | tuple[str, str] | None = None,
    **context: Any,
) -> Message:
    """Build a text + HTML message from `email/<template>.txt` and `.html`.

    `reply_to` is an address or a (name, address) pair.
    """
    return Message(
        subject=subject,
        recipients=[recipient],
        reply_to=reply_to,
        body=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
        extra_headers=headers,
    )


def open_connection() -> TimeoutConnection:
    """An SMTP connection to reuse for several messages (use as a context manager)."""
    return TimeoutConnection(current_app.extensions["mail"])


def send(message: Message, connection: Connection | None = None) -> None:
    """Send one message, over `connection` when given, else over a new one."""
    try:
        if connection is not None:
            connection.send(message)
            return
        with open_connection() as fresh:
            fresh.send(message)
    except BadHeaderError as error:
        raise MailDeliveryError("refused a header containing a line break") from error
    except (smtplib.SMTPException, OSError) as error:
        raise MailDeliveryError(str(error) or type(error).__name__) from error


def init_app(app: Flask) -> None:
    """Bind Flask-Mail to the app."""
    mail.init_app(app)
