"""The only module that talks SMTP: renders messages from templates and sends them.

Sending happens in the caller's thread and raises `MailDeliveryError` on failure, so
no error is lost in a fire-and-forget thread; callers decide whether to retry.
"""

import smtplib

from flask import current_app, render_template
from flask_mail import BadHeaderError, Connection, Mail, Message

mail = Mail()


class MailDeliveryError(RuntimeError):
    """The relay could not be reached or refused the message."""


class TimeoutConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a stuck relay cannot hang us."""

    def configure_host(self):
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


def render_message(recipient, subject, template, headers=None, reply_to=None, **context):
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


def open_connection():
    """An SMTP connection to reuse for several messages (use as a context manager)."""
    return TimeoutConnection(current_app.extensions["mail"])


def send(message, connection=None):
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


def init_app(app):
    """Bind Flask-Mail to the app."""
    mail.init_app(app)


class TemporaryFailure(MailDeliveryError):
    """Worth retrying later: a 4xx reply, or the relay unreachable or hanging up."""


class PermanentFailure(MailDeliveryError):
    """The relay refused this recipient or message for good (5xx)."""


def classify_reply(code, message):
    """Turn an SMTP status into our failure type, keeping the relay's words."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    reply = f"{code} {text}".strip()
    return PermanentFailure(reply) if 500 <= code < 600 else TemporaryFailure(reply)


def send_raw(connection, sender, recipient, message_bytes):
    """Send pre-built message bytes to one recipient over an open connection.

    Campaigns build their MIME themselves (see campaigns.render) because building each
    message with Flask-Mail costs ~1 ms; the SMTP session is still this module's.
    """
    host = connection.host
    try:
        refused = host.sendmail(sender, [recipient], message_bytes)
    except smtplib.SMTPRecipientsRefused as error:
        code, message = error.recipients[recipient]
        raise classify_reply(code, message) from error
    except smtplib.SMTPResponseException as error:
        raise classify_reply(error.smtp_code, error.smtp_error) from error
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(str(error) or type(error).__name__) from error
    if refused:
        code, message = refused[recipient]
        raise classify_reply(code, message)


def close_quietly(connection):
    """End a session that may already be broken."""
    host = getattr(connection, "host", None)
    if host is None:
        return
    try:
        host.quit()
    except (smtplib.SMTPException, OSError):
        host.close()


def connect():
    """An open SMTP session for many messages; end it with `close_quietly`."""
    connection = open_connection()
    try:
        connection.host = connection.configure_host()
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"cannot reach the mail relay: {error}") from error
    return connection
