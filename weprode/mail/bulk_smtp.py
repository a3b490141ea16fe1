"""Many messages over one SMTP session, pipelined: the campaign sender's transport.

Campaigns build their MIME themselves (see campaigns.render) and hand the bytes here;
every failure comes back classified as temporary (retry later) or permanent.
"""

import re
import smtplib
from collections.abc import Callable, Sequence
from typing import Protocol

from flask_mail import Connection

from .messages import MailDeliveryError, TimeoutConnection, UndeliverableMessage, open_connection

# Told each message's fate as soon as it is known: (its index, None or the failure).
ResultCallback = Callable[[int, MailDeliveryError | None], None]


class TemporaryFailure(MailDeliveryError):
    """Worth retrying later: a 4xx reply, or the relay unreachable or hanging up."""


class RelayUnavailable(TemporaryFailure):
    """The session itself failed (unreachable, dropped, timed out): reconnect later."""


class ProviderThrottled(TemporaryFailure):
    """ "Slow down": a 421, or a 4.7.x enhanced status (RFC 3463: policy, reputation, rate).

    The mailbox provider's (or the relay's) pacing, not this recipient's fault: the
    sender waits for that provider alone.
    """


class PermanentFailure(UndeliverableMessage):
    """The relay refused this recipient or message for good (5xx)."""


THROTTLE_STATUS = re.compile(r"^\s*4\.7\.\d{1,3}\b")


class Stoppable(Protocol):
    """What `send_many` polls before each message: a threading.Event, or alike."""

    def is_set(self) -> bool:
        """True once no further message should begin."""
        ...


def classify_reply(code: int, message: bytes | str) -> MailDeliveryError:
    """Turn an SMTP status into our failure type, keeping the relay's words."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    reply = f"{code} {text}".strip()
    if 500 <= code < 600:
        return PermanentFailure(reply)
    if code == 421 or (400 <= code < 500 and THROTTLE_STATUS.match(text)):
        return ProviderThrottled(reply)
    return TemporaryFailure(reply)


def send_raw(connection: Connection, sender: str, recipient: str, message_bytes: bytes) -> None:
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


def close_quietly(connection: Connection | None) -> None:
    """End a session that may already be broken."""
    host = getattr(connection, "host", None)
    if host is None:
        return
    try:
        host.quit()
    except (smtplib.SMTPException, OSError):
        host.close()


def connect() -> TimeoutConnection:
    """An open SMTP session for many messages; end it with `close_quietly`."""
    connection = open_connection()
    try:
        connection.host = connection.configure_host()
    except (smtplib.SMTPException, OSError) as error:
        raise RelayUnavailable(f"cannot reach the mail relay: {error}") from error
    return connection


NEWLINE_DOT = re.compile(rb"\n\.")


def dot_stuffed(message: bytes) -> bytes:
    """Message content as sent after DATA: leading dots doubled, ended by CRLF.CRLF."""
    # A regex search (it skips from line end to line end), then a plain replace only
    # when a line starts with a dot: the regex substitution alone cost a seventh of a
    # campaign message's CPU (40 us for 5 kB; now 2 us, 10 us with dots).
    content = message
    if NEWLINE_DOT.search(message):
        content = message.replace(b"\n.", b"\n..")
    if content.startswith(b"."):
        content = b"." + content
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content + b".\r\n"


def send_many(
    connection: Connection,
    sender: str,
    messages: Sequence[tuple[str, bytes]],
    senders: Sequence[str] | None = None,
    *,
    on_result: ResultCallback | None = None,
    stop: Stoppable | None = None,
) -> tuple[list[MailDeliveryError | None], bool]:
    """Send [(recipient, message bytes)] over one session.

    `senders`, when given, is each message's own envelope sender (VERP), else every
    message goes out with `sender`.

    Returns (results, usable): one None (accepted) or MailDeliveryError per message
    begun, and whether the session can carry on. With PIPELINING (RFC 2920) each write
    carries the previous message's content and the next MAIL, RCPT and DATA, so a
    message costs one round trip instead of four; without it, one message at a time.

    `on_result(index, failure)` is called the moment a message's fate is known, before
    the next message's content is sent, so the caller can record it meanwhile (at most
    one accepted message per session is ever unreported). Once `stop` is set no further
    message begins: the one in flight is finished, and `results` covers only the
    messages begun (the first len(results)).
    """
    host = connection.host
    try:
        host.ehlo_or_helo_if_needed()
    except (smtplib.SMTPException, OSError) as error:
        failure = RelayUnavailable(str(error) or type(error).__name__)
        return report_all(failure, len(messages), on_result), False
    envelope = list(senders) if senders is not None else [sender] * len(messages)
    if not host.has_extn("pipelining"):
        return send_one_by_one(connection, messages, envelope, on_result=on_result, stop=stop)
    results: list[MailDeliveryError | None] = []
    unresolved = set()

    def resolve(index: int, failure: MailDeliveryError | None) -> None:
        results[index] = failure
        unresolved.discard(index)
        if on_result is not None:
            on_result(index, failure)

    pending = None  # the message whose DATA was accepted and whose content is next
    try:
        for index, (recipient, _message) in enumerate(messages):
            if stop is not None and stop.is_set():
                break
            results.append(None)
            unresolved.add(index)
            chunk = dot_stuffed(messages[pending][1]) if pending is not None else b""
            chunk += (f"MAIL FROM:<{envelope[index]}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n").encode(
                "ascii"
            )
            host.send(chunk)
            if pending is not None:
                resolve(pending, reply_failure(*host.getreply()))
                pending = None
            mail, rcpt = host.getreply(), host.getreply()
            refusal = next((r for r in (mail, rcpt) if r[0] not in (250, 251)), None)
            try:
                data = host.getreply()
            except (smtplib.SMTPException, OSError):
                if refusal is None or refusal[0] != 421:
                    raise
                # A 421 announces the end of the session (RFC 5321 3.8): keep its words.
                resolve(index, classify_reply(*refusal))
                return results, False
            if data[0] == 354 and refusal is None:
                pending = index
                continue
            if data[0] == 354:
                # A relay that opened DATA without a recipient: end the empty message.
                host.send(b".\r\n")
                host.getreply()
            resolve(index, classify_reply(*(refusal or data)))
            if mail[0] == 250:
                host.send(b"RSET\r\n")
                host.getreply()
        if pending is not None:
            host.send(dot_stuffed(messages[pending][1]))
            resolve(pending, reply_failure(*host.getreply()))
    except (smtplib.SMTPException, OSError) as error:
        failure = RelayUnavailable(str(error) or type(error).__name__)
        for index in sorted(unresolved):
            resolve(index, failure)
        return results, False
    return results, True


def report_all(
    failure: MailDeliveryError, count: int, on_result: ResultCallback | None
) -> list[MailDeliveryError | None]:
    """The same failure for `count` messages, each reported to `on_result`."""
    if on_result is not None:
        for index in range(count):
            on_result(index, failure)
    return [failure] * count


def reply_failure(code: int, message: bytes | str) -> MailDeliveryError | None:
    """None for an accepting reply, else the failure it means."""
    return None if code == 250 else classify_reply(code, message)


def send_one_by_one(
    connection: Connection,
    messages: Sequence[tuple[str, bytes]],
    envelope: Sequence[str],
    *,
    on_result: ResultCallback | None = None,
    stop: Stoppable | None = None,
) -> tuple[list[MailDeliveryError | None], bool]:
    """`send_many` for relays without PIPELINING; `envelope` is each message's sender."""
    results = []
    for position, (recipient, message) in enumerate(messages):
        if stop is not None and stop.is_set():
            break
        try:
            send_raw(connection, envelope[position], recipient, message)
            failure = None
        except RelayUnavailable as broken:
            # The session is broken: leave the rest for another attempt.
            for index in range(position, len(messages)):
                results.append(broken)
                if on_result is not None:
                    on_result(index, broken)
            return results, False
        except MailDeliveryError as refused:
            failure = refused
        results.append(failure)
        if on_result is not None:
            on_result(position, failure)
    return results, True
