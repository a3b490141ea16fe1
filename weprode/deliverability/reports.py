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
FAILURE_CODE = re.compile(r"\b([45])\.(\d{1,3})\.(\d{1,3})\b")
BASIC_CODE = re.compile(r"\b([45])\d\d[ -]")
# Where a plain-text bounce starts quoting the returned message (qmail, Exim, Outlook...).
RETURNED_MESSAGE = re.compile(
    r"^-*\s*(Below this line is a copy of the message|This is a copy of the message|"
    r"Original message|The header of the original message|Original message headers|"
    r"Returned message|Original Message follows)",
    re.IGNORECASE | re.MULTILINE,
)
# What old MTAs say instead of a code (flufl.bounce's corpus, and French providers):
# the enhanced code each wording stands for. Looked at in this order.
WORDINGS = [
    (
        "5.2.2",
        re.compile(
            r"over ?quota|quota exceeded|exceeded (its|the) quota|mail ?(box|folder) is full|"
            r"mailbox full|insufficient (storage|disk)|bo[iî]te (aux lettres )?pleine",
            re.IGNORECASE,
        ),
    ),
    (
        "5.1.1",
        re.compile(
            r"user unknown|unknown (user|recipient|local.?part)|recipient unknown|no such "
            r"(user|mailbox|recipient|address)|does ?n[o']t exist|unknown or illegal user|"
            r"invalid (recipient|mailbox|address)|user not found|mailbox not found|"
            r"account (is )?(disabled|deactivated|closed|expired)|no mailbox here|"
            r"utilisateur (inconnu|non recens)|adresse (inconnue|invalide)|n'existe pas|"
            r"unrouteable address",
            re.IGNORECASE,
        ),
    ),
    ("5.1.2", re.compile(r"host or domain name not found|name service error", re.IGNORECASE)),
    (
        "5.7.1",
        re.compile(
            r"not accepting mail from|\bspam\b|blacklist|blocklist|blocked|\bpolicy\b|"
            r"reputation",
            re.IGNORECASE,
        ),
    ),
]
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
    """The first failure's enhanced status code in an SMTP reply or a bounce's text.

    Without one, the wording says it (`550 user unknown` is 5.1.1, "mailbox full"
    5.2.2); else a bare reply code gives `5.0.0` or `4.0.0`, and no code at all the
    unspecified code of the failure's class. A 2.x.x (or a version number that looks
    like one) is never a failure's code.
    """
    match = FAILURE_CODE.search(text or "")
    if match:
        return ".".join(match.groups())
    basic = BASIC_CODE.search(text or "")
    klass = basic.group(1) if basic else ("5" if permanent else "4")
    return refined(f"{klass}.0.0", text)


def refined(status: str, text: str) -> str:
    """An unspecified permanent code (5.0.0) made precise by the diagnostic's wording."""
    if status != "5.0.0":
        return status
    for code, wording in WORDINGS:
        if wording.search(text or ""):
            return code
    return status


def parse(raw: bytes) -> Report:
    """Read one RFC 5322 message and say what it reports."""
    return read(email.message_from_bytes(raw))


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
    clue = auto_reply_clue(message)
    if clue:
        return Report("auto_reply", clue)
    return Report("unrecognised", "")


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
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
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
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
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
        code = status_in(status or diagnostic, permanent=action == "failed")
        code = refined(code, diagnostic)
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
