"""Reading a report that came back: a bounce, a complaint, an auto-reply, or nothing of ours.

Standard reports are read by their MIME structure: delivery status notifications
(RFC 3464, `message/delivery-status`) give each recipient's action and enhanced status
code; feedback reports (ARF, RFC 5965, `message/feedback-report`) are complaints.
Bounces in older, non-standard shapes (Exim, qmail, Exchange, Yahoo...) are left to
flufl.bounce's detectors, Mailman's long-tested collection, then to the few shapes of
`detectors`; we then look for a status code in the text (see `status_codes`).
Auto-replies (RFC 3834 `Auto-Submitted`, out-of-office, vacation) are recognised so
that they are ignored.
"""

import email
import email.message
import re
from dataclasses import dataclass, field
from email.errors import StartBoundaryNotFoundDefect

from flufl.bounce import all_failures

from . import detectors
from .status_codes import dsn_status, status_in

# Where a plain-text bounce starts quoting the returned message (qmail, Exim, Outlook...).
RETURNED_MESSAGE = re.compile(
    r"^-*\s*(Below this line is a copy of the message|This is a copy of the message|"
    r"Original message|The header of the original message|Original message headers|"
    r"Returned message|Original Message follows)",
    re.IGNORECASE | re.MULTILINE,
)
# "opt-out" (a feedback loop passing on the person's wish to leave) unsubscribes too.
COMPLAINT_FEEDBACK_TYPES = {"abuse", "fraud", "virus", "other", "opt-out"}
AUTO_REPLY_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto.?reply|autoreply|vacation|absence|"
    r"r[ée]ponse automatique|message automatique|abwesenheit",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's line in a report: what the reporting MTA did and why."""

    address: str
    action: str  # failed, delayed, delivered... ("failed" for non-standard bounces)
    status: str  # enhanced status code, e.g. "5.1.1"
    diagnostic: str = ""


@dataclass
class Report:
    """What a message turned out to be."""

    kind: str  # bounce, delay, complaint, auto_reply, delivered, not_a_complaint, unrecognised
    shape: str  # dsn, arf, heuristic, or what gave an auto-reply away
    recipients: list[RecipientStatus] = field(default_factory=list)
    feedback_type: str = ""


def parse(raw: bytes) -> Report:
    """Read one RFC 5322 message and say what it reports."""
    return read(message_from(raw))


def message_from(raw: bytes) -> email.message.Message:
    """The parsed message (compat32: six times faster than `policy.default`, and we
    read fields, not rich objects), its multipart boundary repaired if need be.

    Some relays rewrite the boundary in the header but not in the body (Sisimai's
    rhost-google-02, rhost-franceptt-07): the parser then sees no parts at all, and
    the delivery-status part is lost. The body's first delimiter line says the real
    boundary.
    """
    message = email.message_from_bytes(raw)
    if message.is_multipart() or not any(
        isinstance(defect, StartBoundaryNotFoundDefect) for defect in message.defects
    ):
        return message
    declared = message.get_boundary()
    pieces = re.split(rb"(\r?\n\r?\n)", raw, maxsplit=1)
    if not declared or len(pieces) != 3:
        return message
    head, separator, body = pieces
    delimiter = re.search(rb"^--([ -~]{1,70}?)[ \t]*\r?$", body, re.MULTILINE)
    if delimiter is None:
        return message
    repaired = head.replace(declared.encode(), delimiter.group(1), 1)
    return email.message_from_bytes(repaired + separator + body)


def read(message: email.message.Message) -> Report:
    """Say what an already parsed message reports."""
    found = report_parts(message)
    feedback = found.get("message/feedback-report")
    if feedback is not None:
        return feedback_report(feedback)
    statuses = found.get("message/delivery-status")
    from_statuses = None
    if statuses is not None and statuses.is_multipart():
        from_statuses = delivery_status(statuses)
        if from_statuses.kind != "delivered":
            return from_statuses
    # A "delivered" report without a real recipient line: let the detectors look.
    temporary, permanent = detected_failures(message)
    if permanent or temporary:
        code = status_in(own_text(message))
        found = [
            RecipientStatus(address.decode("ascii", "replace"), "failed", code)
            for address in sorted(permanent)
        ]
        if found:
            return Report("bounce", "heuristic", found)
        # flufl's temporary failures are "still trying" warnings.
        delayed = [
            RecipientStatus(a.decode("ascii", "replace"), "delayed", "4.0.0") for a in temporary
        ]
        return Report("delay", "heuristic", delayed)
    if from_statuses is not None:
        return from_statuses
    known = other_shapes(message)
    if known is not None:
        return known
    clue = auto_reply_clue(message)
    if clue:
        return Report("auto_reply", clue)
    return Report("unrecognised", "")


def other_shapes(message: email.message.Message) -> Report | None:
    """A bounce or complaint in one of the shapes of `detectors`, else None."""
    failed = detectors.failed_recipient(own_text(message))
    if failed is not None:
        address, words = failed
        item = RecipientStatus(address, "failed", status_in(words), words[:300])
        return Report("bounce", "heuristic", [item])
    if detectors.is_hotmail_complaint(str(message["From"] or ""), str(message["Subject"] or "")):
        recipient = ""
        for part in message.walk():
            if part.get_content_type() == "message/rfc822" and part.is_multipart():
                recipient = str(part.get_payload(0).get("X-HmXmrOriginalRecipient") or "")
                break
        item = RecipientStatus(recipient.strip(), "complained", "")
        return Report("complaint", "hotmail", [item], "abuse")
    return None


def decoded(part: email.message.Message) -> str:
    """A text part's content as text; an unknown charset is read as UTF-8, never an
    error (anyone can write `charset=x-nonsense`)."""
    payload = part.get_payload(decode=True) or b""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def detected_failures(message: email.message.Message) -> tuple[set[bytes], set[bytes]]:
    """flufl.bounce's (temporary, permanent) addresses; none when a detector breaks.

    Its detectors trust what they read: an empty `From:` makes one raise IndexError.
    Anyone can mail us anything, so a detector's crash means "not recognised", never a
    failed ingest (which would make the MTA retry it forever).
    """
    try:
        return all_failures(message)
    except Exception:  # noqa: BLE001 (any detector's bug, on anyone's input)
        return set(), set()


REPORT_TYPES = ("message/feedback-report", "message/delivery-status")


def report_parts(message: email.message.Message) -> dict[str, email.message.Message]:
    """The first feedback-report and delivery-status parts, by type (one walk)."""
    found: dict[str, email.message.Message] = {}
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in REPORT_TYPES:
            found.setdefault(content_type, part)
    return found


def body_text(message: email.message.Message) -> str:
    """The text parts of a message, decoded, for looking for status codes."""
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(decoded(part))
    return "\n".join(texts)


def own_text(message: email.message.Message) -> str:
    """The reporting MTA's own words: its text parts, without the returned message.

    The quoted original (our newsletter, with its "privacy policy" and maybe a code
    of its own) must not decide what the failure was.
    """
    texts = []
    stack = [message]
    while stack:
        part = stack.pop(0)
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            continue
        if part.is_multipart():
            stack[:0] = part.get_payload()
        elif part.get_content_maintype() == "text":
            texts.append(decoded(part))
    return RETURNED_MESSAGE.split("\n".join(texts), maxsplit=1)[0]


def field_address(value: str | None) -> str:
    """`rfc822; jane@example.org` -> `jane@example.org`."""
    return (value or "").partition(";")[2].strip().strip("<>") if value else ""


def delivery_status(part: email.message.Message) -> Report:
    """An RFC 3464 report: one block per recipient after the per-message block."""
    found = []
    for block in part.get_payload()[1:]:
        diagnostic = " ".join((block.get("Diagnostic-Code") or "").split())
        status = (block.get("Status") or "").strip()
        action = action_of(block.get("Action"), status)
        code = dsn_status(status, diagnostic, permanent=action == "failed")
        address = field_address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        found.append(RecipientStatus(address, action, code, diagnostic.partition(";")[2].strip()))
    if any(item.action == "failed" for item in found):
        return Report("bounce", "dsn", [item for item in found if item.action == "failed"])
    if any(item.action == "delayed" for item in found):
        return Report("delay", "dsn", found)
    return Report("delivered", "dsn", found)


def action_of(value: str | None, status: str) -> str:
    """RFC 3464's action, from what MTAs write: `failed (bad destination mailbox
    address)`, or a non-standard `error` with a 5.x.x status, are failures."""
    words = (value or "").strip().lower().split()
    action = words[0] if words else ""
    if action not in {"failed", "delayed", "delivered", "relayed", "expanded"}:
        return "failed" if status.startswith("5") else action
    return action


def feedback_report(part: email.message.Message) -> Report:
    """An ARF report: a complaint unless its feedback type says otherwise."""
    payload = part.get_payload()
    fields = (
        payload[0]
        if isinstance(payload, list) and payload
        else email.message_from_string(str(payload))
    )
    feedback_type = (fields.get("Feedback-Type") or "").strip().lower()
    recipient = (fields.get("Original-Rcpt-To") or "").strip().strip("<>")
    found = [RecipientStatus(recipient, "complained", "")]
    if feedback_type in COMPLAINT_FEEDBACK_TYPES:
        return Report("complaint", "arf", found, feedback_type)
    return Report("not_a_complaint", "arf", found, feedback_type)


def auto_reply_clue(message: email.message.Message) -> str:
    """Why the message looks like an automatic reply ("" when it does not)."""
    auto_submitted = (message.get("Auto-Submitted") or "no").strip().lower()
    if auto_submitted != "no":
        return "Auto-Submitted"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if message.get(name):
            return name
    if (message.get("Precedence") or "").strip().lower() == "auto_reply":
        return "Precedence"
    if AUTO_REPLY_SUBJECT.search(str(message.get("Subject") or "")):
        return "Subject"
    return ""
