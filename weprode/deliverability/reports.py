"""Reading a report that came back: a bounce, a complaint, an auto-reply, or nothing of ours.

Standard reports are read by their MIME structure: delivery status notifications
(RFC 3464, `message/delivery-status`) give each recipient's action and enhanced status
code; feedback reports (ARF, RFC 5965, `message/feedback-report`) are complaints.
Bounces in older, non-standard shapes (Exim, qmail, Exchange, Yahoo...) are left to
flufl.bounce's detectors, Mailman's long-tested collection; we then look for a status
code in the text. Auto-replies (RFC 3834 `Auto-Submitted`, out-of-office, vacation)
are recognised so that they are ignored.
"""

import email
import email.message
import re
from dataclasses import dataclass, field

from flufl.bounce import all_failures

# RFC 3463 enhanced status codes: class.subject.detail.
ENHANCED_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
BASIC_CODE = re.compile(r"\b([45])\d\d[ -]")
COMPLAINT_FEEDBACK_TYPES = {"abuse", "fraud", "virus", "other"}
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


def severity(status: str) -> str | None:
    """How much a status code says about the address: hard, soft, policy, or None (success).

    Address failures (5.1.x, 5.2.1 disabled mailbox) are hard. Policy and reputation
    refusals (5.7.x) are about us, not the address: recorded, nobody is unsubscribed.
    Temporary failures (4.x.x) are soft, and so is any other permanent failure (a full
    mailbox 5.2.2, system or network trouble 5.3/5.4, unspecified 5.0.0): none proves
    the address is gone, but three on different days count as hard.
    """
    match = ENHANCED_CODE.search(status or "")
    if match is None:
        return None
    klass, subject, detail = match.groups()
    if klass == "2":
        return None
    if klass == "4":
        return "soft"
    if subject == "1" or (subject, detail) == ("2", "1"):
        return "hard"
    if subject == "7":
        return "policy"
    return "soft"


def status_in(text: str, permanent: bool = True) -> str:
    """The first enhanced status code in an SMTP reply or a bounce's text.

    A bare reply code (`550 no such user`) gives `5.0.0` or `4.0.0`; no code at all
    gives the unspecified code of the failure's class.
    """
    match = ENHANCED_CODE.search(text or "")
    if match:
        return ".".join(match.groups())
    basic = BASIC_CODE.search(text or "")
    if basic:
        return f"{basic.group(1)}.0.0"
    return "5.0.0" if permanent else "4.0.0"


def parse(raw: bytes) -> Report:
    """Read one RFC 5322 message and say what it reports."""
    message = email.message_from_bytes(raw)
    feedback = first_part(message, "message/feedback-report")
    if feedback is not None:
        return feedback_report(feedback)
    statuses = first_part(message, "message/delivery-status")
    if statuses is not None and statuses.is_multipart():
        return delivery_status(statuses)
    temporary, permanent = heuristic_failures(message)
    if permanent or temporary:
        text = body_text(message)
        code = status_in(text)
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
    clue = auto_reply_clue(message)
    if clue:
        return Report("auto_reply", clue)
    return Report("unrecognised", "")


def heuristic_failures(message: email.message.Message) -> tuple[frozenset, frozenset]:
    """flufl.bounce's guess at (temporary, permanent) failed addresses; none when one of
    its detectors fails on the message (its Yale detector raises on a plain message
    without From): anyone can mail us anything, and one odd message must not stop
    `bounces ingest` nor the messages after it."""
    try:
        return all_failures(message)
    except Exception:
        return frozenset(), frozenset()


def first_part(message: email.message.Message, content_type: str) -> email.message.Message | None:
    """The first MIME part of this type, or None."""
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def body_text(message: email.message.Message) -> str:
    """The text parts of a message, decoded, for looking for status codes."""
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(texts)


def field_address(value: str | None) -> str:
    """`rfc822; jane@example.org` -> `jane@example.org`."""
    return (value or "").partition(";")[2].strip().strip("<>") if value else ""


def delivery_status(part: email.message.Message) -> Report:
    """An RFC 3464 report: one block per recipient after the per-message block."""
    found = []
    for block in part.get_payload()[1:]:
        action = (block.get("Action") or "").strip().lower()
        diagnostic = " ".join((block.get("Diagnostic-Code") or "").split())
        status = (block.get("Status") or "").strip()
        code = status_in(status or diagnostic, permanent=action == "failed")
        address = field_address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        found.append(RecipientStatus(address, action, code, diagnostic.partition(";")[2].strip()))
    if any(item.action == "failed" for item in found):
        return Report("bounce", "dsn", [item for item in found if item.action == "failed"])
    if any(item.action == "delayed" for item in found):
        return Report("delay", "dsn", found)
    return Report("delivered", "dsn", found)


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
