"""The only module that talks SMTP: renders messages from templates and sends them.

Sending happens in the caller's thread and raises `MailDeliveryError` on failure, so
no error is lost in a fire-and-forget thread; callers decide whether to retry.
"""

import re
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


class RelayUnavailable(TemporaryFailure):
    """The session itself failed (unreachable, dropped, timed out): reconnect later."""


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
        raise RelayUnavailable(str(error) or type(error).__name__) from error
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
        raise RelayUnavailable(f"cannot reach the mail relay: {error}") from error
    return connection


def dot_stuffed(message):
    """Message content as sent after DATA: leading dots doubled, ended by CRLF.CRLF."""
    content = re.sub(rb"(?m)^\.", b"..", message)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content + b".\r\n"


def send_many(connection, sender, messages):
    """Send [(recipient, message bytes)] over one session.

    Returns (results, usable): one None (accepted) or MailDeliveryError per message,
    and whether the session can carry on. With PIPELINING (RFC 2920) each write
    carries the previous message's content and the next MAIL, RCPT and DATA, so a
    message costs one round trip instead of four; without it, one message at a time.
    """
    host = connection.host
    try:
        host.ehlo_or_helo_if_needed()
    except (smtplib.SMTPException, OSError) as error:
        failure = RelayUnavailable(str(error) or type(error).__name__)
        return [failure] * len(messages), False
    if not host.has_extn("pipelining"):
        return send_one_by_one(connection, sender, messages)
    results = [None] * len(messages)
    unresolved = set(range(len(messages)))
    pending = None  # the message whose DATA was accepted and whose content is next
    try:
        for index, (recipient, _message) in enumerate(messages):
            chunk = dot_stuffed(messages[pending][1]) if pending is not None else b""
            chunk += f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii")
            host.send(chunk)
            if pending is not None:
                results[pending] = reply_failure(*host.getreply())
                unresolved.discard(pending)
                pending = None
            mail, rcpt, data = host.getreply(), host.getreply(), host.getreply()
            refusal = next((r for r in (mail, rcpt) if r[0] not in (250, 251)), None)
            if data[0] == 354 and refusal is None:
                pending = index
                continue
            if data[0] == 354:
                # A relay that opened DATA without a recipient: end the empty message.
                host.send(b".\r\n")
                host.getreply()
            results[index] = classify_reply(*(refusal or data))
            unresolved.discard(index)
            if mail[0] == 250:
                host.send(b"RSET\r\n")
                host.getreply()
        if pending is not None:
            host.send(dot_stuffed(messages[pending][1]))
            results[pending] = reply_failure(*host.getreply())
            unresolved.discard(pending)
    except (smtplib.SMTPException, OSError) as error:
        for index in unresolved:
            results[index] = RelayUnavailable(str(error) or type(error).__name__)
        return results, False
    return results, True


def reply_failure(code, message):
    """None for an accepting reply, else the failure it means."""
    return None if code == 250 else classify_reply(code, message)


def send_one_by_one(connection, sender, messages):
    """`send_many` for relays without PIPELINING."""
    results = []
    for position, (recipient, message) in enumerate(messages):
        try:
            send_raw(connection, sender, recipient, message)
            results.append(None)
        except RelayUnavailable as failure:
            # The session is broken: leave the rest for another attempt.
            results += [failure] * (len(messages) - position)
            return results, False
        except MailDeliveryError as failure:
            results.append(failure)
    return results, True
