"""The only module that talks SMTP: renders messages from templates and sends them.

Sending happens in the caller's thread and raises `MailDeliveryError` on failure, so
no error is lost in a fire-and-forget thread; callers decide whether to retry.
"""

import re
import smtplib
import ssl
import time
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import parseaddr
from typing import Any

from flask import Flask, current_app, render_template
from flask_mail import BadHeaderError, Connection, Mail, Message

from . import wire

mail = Mail()

# RFC 2047 encoded words open with "=?": a mail program decodes what follows into any
# text, CR LF included, and some Python patch levels (CVE-2024-6923) wrote a decoded
# CR LF back out raw when refolding a header, so `=?utf-8?q?x=0D=0AReply-To:...?=` in a
# name became a header of its own. Nothing a visitor typed may carry that syntax.
ENCODED_WORD_OPENING = "=?"
# C0 controls (CR, LF, NUL, TAB...), DEL, C1 controls (NEL U+0085...) and the Unicode
# line and paragraph separators: each ends a line for some parser or terminal.
UNSAFE_HEADER_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Encoded words hidden inside encoded words are decoded this many levels deep.
DECODE_DEPTH = 3
SMTPUTF8 = "SMTPUTF8"


class MailDeliveryError(RuntimeError):
    """The relay could not be reached or refused the message."""


class UndeliverableMessage(MailDeliveryError):
    """This message can never be sent as it is (refused for good, or it cannot be built)."""


def decoded_words(text: str) -> str:
    """`text` as a mail reader would show it: RFC 2047 encoded words decoded, nested too.

    What cannot be decoded (an unknown charset, broken base64) stays as it is; the
    caller breaks any `=?` left over, so nothing is hidden from it either way.
    """
    for _ in range(DECODE_DEPTH):
        if ENCODED_WORD_OPENING not in text:
            break
        try:
            decoded = str(make_header(decode_header(text)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError):
            break
        if decoded == text:
            break
        text = decoded
    return text


def header_text(value: str) -> str:
    """The one way text from outside enters a header: safe whatever the Python patch level.

    Decodes encoded words first, so a line break hidden in one is seen; then turns every
    control or line-separator character into a space and breaks every `=?` left (as
    `= ?`), so the value holds nothing a mail program would decode into a new line.
    """
    text = UNSAFE_HEADER_CHARACTER.sub(" ", decoded_words(value))
    return text.replace(ENCODED_WORD_OPENING, "= ?")


def is_header_safe(value: str) -> bool:
    """True when `value` can go into a header unchanged (what forms accept)."""
    return header_text(value) == value


def header_address(address: str) -> str:
    """An address for a header or the envelope; refused (never altered) when unsafe.

    Changing an address would send the mail to someone else, so unlike names and
    subjects it is not neutralised: the message is undeliverable.
    """
    if not is_header_safe(address):
        raise UndeliverableMessage("refused an address with encoded-word or control characters")
    return address


def header_reply_to(reply_to: str | tuple[str, str] | None) -> str | tuple[str, str] | None:
    """A Reply-To (an address or a (name, address) pair) with its parts made safe."""
    if isinstance(reply_to, str):
        return header_address(reply_to)
    if reply_to is not None:
        name, address = reply_to
        return header_text(name), header_address(address)
    return None


def address_pair(item: str | tuple[str, str]) -> tuple[str, str]:
    """(name, address) from an address or a pair."""
    return item if isinstance(item, tuple) else parseaddr(item)


class OutgoingMessage(Message):
    """Flask-Mail's message, written on the wire by `wire` rather than by Flask-Mail.

    Flask-Mail wraps the alternative in a needless multipart/mixed, sends 8-bit lines
    of any length, encodes a pure ASCII name, dates in the local zone and takes the
    Message-ID's domain from this machine's host name. Headers are never parsed and
    refolded either: the refolding policies decode encoded words, and some patch levels
    then wrote a decoded CR LF raw (CVE-2024-6923), or a decoded display name holding
    "@" or ":" unquoted.

    `envelope_sender`, when set, is the `MAIL FROM` address (a VERP bounce address, see
    deliverability.verp); otherwise the From address is.
    """

    envelope_sender: str | None = None

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.msgId = wire.new_message_id(self.sender)

    def as_bytes(self) -> bytes:
        """The bytes to send: CRLF lines, 7-bit but for SMTPUTF8 addresses.

        Under SMTPUTF8 an address's non-ASCII local part goes out as UTF-8 (RFC 6532);
        otherwise `prepare_for_relay` has refused the message before this.
        """
        utf8 = SMTPUTF8 in self.mail_options
        lines = [
            wire.address_field("From", [self.sender], utf8),
            wire.address_field("To", self.recipients, utf8),
            wire.unstructured("Subject", self.subject or ""),
            f"Date: {wire.date_value(self.date)}",
            f"Message-ID: {self.msgId}",
        ]
        if self.reply_to:
            lines.append(wire.address_field("Reply-To", [self.reply_to], utf8))
        for name, value in (self.extra_headers or {}).items():
            lines.append(wire.unstructured(name, value))
        mime_headers, body = wire.content(self.body or "", self.html)
        head = wire.CRLF.join([*lines, *mime_headers])
        return f"{head}{wire.CRLF}{wire.CRLF}{body}".encode()

    def send_utf8(self, connection: Connection) -> None:
        """Hand the message to an open session with SMTPUTF8 (Flask-Mail's `send` cannot)."""
        if self.date is None:
            self.date = time.time()
        recipients = [address_pair(item)[1] for item in self.send_to]
        connection.host.sendmail(
            self.envelope_sender or address_pair(self.sender)[1],
            recipients,
            self.as_bytes(),
            self.mail_options,
            self.rcpt_options,
        )


def relay_tls_context() -> ssl.SSLContext:
    """TLS to the relay checks its certificate and name, as a browser would.

    smtplib's own default (no context given) accepts any certificate, which lets anyone
    on the path read every mail and its opt-out link. MAIL_TLS_CA_FILE trusts a private
    CA; MAIL_TLS_VERIFY = False turns the checks off (only for a relay on this host).
    """
    config = current_app.config
    return tls_context(config["MAIL_TLS_VERIFY"], config["MAIL_TLS_CA_FILE"])


def tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client TLS context: verifying (against `ca_file`'s CA when given) or not at all."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class TimeoutConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a stuck relay cannot hang us.

    The timeout bounds every wait on the socket, the reply to the end of DATA included:
    a relay that stalls mid-message costs at most MAIL_TIMEOUT, then the message
    counts as not sent and is retried.
    """

    def configure_host(self) -> smtplib.SMTP:
        """Open the SMTP session like Flask-Mail does, but never wait forever."""
        timeout = current_app.config["MAIL_TIMEOUT"]
        server, port = self.mail.server, self.mail.port
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(server, port, timeout=timeout, context=relay_tls_context())
        else:
            host = smtplib.SMTP(server, port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls(context=relay_tls_context())
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(self, *exc: object) -> None:
        """Say QUIT when the session is still up; a failing QUIT never hides the cause.

        After a timeout smtplib has already closed the socket, and Flask-Mail's QUIT
        would replace "timed out" with "please run connect() first".
        """
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()


def render_message(
    recipient: str,
    subject: str,
    template: str,
    headers: dict[str, str] | None = None,
    reply_to: str | tuple[str, str] | None = None,
    sender: str | None = None,
    **context: Any,
) -> Message:
    """Build a text + HTML message from `email/<template>.txt` and `.html`.

    `reply_to` is an address or a (name, address) pair; `sender` (from our config, never
    from a visitor) replaces MAIL_DEFAULT_SENDER. The HTML part gets `subject` too, for
    its `<title>`.
    """
    return build_message(
        recipient,
        subject,
        render_template(f"email/{template}.txt", **context),
        render_template(f"email/{template}.html", subject=subject, **context),
        headers=headers,
        reply_to=reply_to,
        sender=sender,
    )


def build_message(
    recipient: str,
    subject: str,
    body: str,
    html: str | None,
    headers: dict[str, str] | None = None,
    reply_to: str | tuple[str, str] | None = None,
    sender: str | None = None,
) -> Message:
    """The only constructor of outgoing mail: every header value passes `header_text`.

    Raises `UndeliverableMessage` for an unsafe recipient or Reply-To address.
    """
    return OutgoingMessage(
        subject=header_text(subject),
        recipients=[header_address(recipient)],
        reply_to=header_reply_to(reply_to),
        body=body,
        html=html,
        extra_headers={name: header_text(value) for name, value in (headers or {}).items()} or None,
        sender=sender,
    )


def open_connection() -> TimeoutConnection:
    """An SMTP connection to reuse for several messages (use as a context manager)."""
    return TimeoutConnection(current_app.extensions["mail"])


def smtputf8_enabled() -> bool:
    """True when `MAIL_SMTPUTF8` is on and the relay advertises SMTPUTF8 (RFC 6531).

    The relay is asked once per process and the answer kept; while it cannot be
    reached the answer is no (and it is asked again next time).
    """
    if not current_app.config["MAIL_SMTPUTF8"]:
        return False
    known = current_app.extensions.setdefault("weprode_smtputf8", {})
    if "relay" not in known:
        try:
            with open_connection() as connection:
                connection.host.ehlo_or_helo_if_needed()
                known["relay"] = connection.host.has_extn("smtputf8")
        except (smtplib.SMTPException, OSError):
            return False
    return known["relay"]


def needs_smtputf8(address: str) -> bool:
    """True when the part before the @ is not ASCII: only SMTPUTF8 can carry it."""
    return not address.rpartition("@")[0].isascii()


def message_addresses(message: Message) -> list[str]:
    """Every address the message names: sender, recipients and Reply-To."""
    extra = [message.sender, message.reply_to]
    pairs = [item if isinstance(item, tuple) else ("", item) for item in extra if item]
    return [*message.send_to, *(address for _name, address in pairs)]


def prepare_for_relay(message: Message) -> None:
    """Ask for SMTPUTF8 when an address needs it, or refuse the message for good."""
    if not any(needs_smtputf8(address) for address in message_addresses(message)):
        return
    if not smtputf8_enabled():
        raise UndeliverableMessage(
            "an address needs SMTPUTF8, which MAIL_SMTPUTF8 or the relay does not allow"
        )
    if SMTPUTF8 not in message.mail_options:
        message.mail_options = [*message.mail_options, SMTPUTF8]


def hand_over(message: Message, connection: Connection) -> None:
    """Send over an open session: Flask-Mail's way, or ours when SMTPUTF8 is needed."""
    if isinstance(message, OutgoingMessage) and SMTPUTF8 in message.mail_options:
        message.send_utf8(connection)
    else:
        connection.send(message, envelope_from=getattr(message, "envelope_sender", None))


def is_permanent(code: int) -> bool:
    """An SMTP reply that will not change by retrying (5xx)."""
    return 500 <= code < 600


def send(message: Message, connection: Connection | None = None) -> None:
    """Send one message, over `connection` when given, else over a new one.

    Raises `UndeliverableMessage` when retrying cannot help (the recipient or the
    content refused with 5xx, an address the relay cannot carry), else
    `MailDeliveryError`; never anything else for a problem with the message.
    """
    try:
        prepare_for_relay(message)
        if connection is not None:
            hand_over(message, connection)
            return
        with open_connection() as fresh:
            hand_over(message, fresh)
    except BadHeaderError as error:
        raise UndeliverableMessage("refused a header containing a line break") from error
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _text in error.recipients.values()]
        refusal = UndeliverableMessage if all(map(is_permanent, codes)) else MailDeliveryError
        raise refusal(str(error.recipients)) from error
    except smtplib.SMTPDataError as error:
        refusal = UndeliverableMessage if is_permanent(error.smtp_code) else MailDeliveryError
        raise refusal(str(error)) from error
    except smtplib.SMTPNotSupportedError as error:
        raise UndeliverableMessage(str(error) or "the relay refused an option") from error
    except (smtplib.SMTPException, OSError) as error:
        raise MailDeliveryError(str(error) or type(error).__name__) from error
    except UnicodeError as error:
        raise UndeliverableMessage(f"cannot be written for the relay: {error}") from error


def init_app(app: Flask) -> None:
    """Bind Flask-Mail to the app."""
    mail.init_app(app)
