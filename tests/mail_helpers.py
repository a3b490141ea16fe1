"""Helpers for checking mails as they arrive: every kind sent for real, read from the raw bytes."""

import email
import email.policy
import re
from email.utils import parseaddr, parsedate_to_datetime

from campaign_helpers import add_subscribers, new_campaign, send
from contact_helpers import VALID_CONTACT, VALID_MEETING
from newsletter_helpers import sign_up

NOTIFY = "contact@weprode.com"
# RFC 2047 section 2: an encoded word, whatever its charset and encoding.
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
# Long enough to fold, with accents, as French staff write them.
FRENCH_SUBJECT = (
    "Nouveautés de Weprode : le guide du cloud éducatif souverain est paru, à lire vite"
)


def send_every_kind(app, client, db, mailbox, language):
    """Make the site send each kind of mail once in `language`; {kind: raw bytes}.

    Every kind goes to its own address, so the mails can be told apart on arrival.
    """
    query = "?lang=fr" if language == "fr" else ""
    address = {
        "confirm_subscription": f"confirm.{language}@example.org",
        "already_subscribed": f"already.{language}@example.org",
        "contact_acknowledgement": f"contact.{language}@example.org",
        "meeting_acknowledgement": f"meeting.{language}@example.org",
        "rights_verify": f"rights.{language}@example.org",
        "campaign": f"campaign.{language}@example.org",
    }
    add_subscribers(
        app,
        db,
        [
            (address["already_subscribed"], "Zoë", language),
            (address["campaign"], "Zoë", language),
        ],
    )
    sign_up(client, email=address["confirm_subscription"], first_name="Zoë", language=language)
    sign_up(client, email=address["already_subscribed"], first_name="Zoë", language=language)
    contact = {**VALID_CONTACT, "contact-email": address["contact_acknowledgement"]}
    assert client.post(f"/contact{query}", data=contact).status_code == 303
    meeting = {**VALID_MEETING, "meeting-email": address["meeting_acknowledgement"]}
    assert client.post(f"/contact/meeting{query}", data=meeting).status_code == 303
    rights = {"email": address["rights_verify"], "kind": "access"}
    assert client.post(f"/privacy/request{query}", data=rights).status_code == 200
    subject = FRENCH_SUBJECT if language == "fr" else "Weprode news for {{ first_name }}"
    assert send(app, db, new_campaign(db, language=language, subject=subject)) == "sent"
    mailbox.wait_for(len(address) + 2)
    raws = list(mailbox.raw)
    by_address = {}
    for raw in raws:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        by_address.setdefault(parsed["To"], []).append((parsed, raw))
    mails = {kind: by_address[to][0][1] for kind, to in address.items()}
    notifications = by_address[NOTIFY]
    for parsed, raw in notifications:
        kind = "meeting" if parsed["Subject"].startswith("Meeting") else "contact"
        mails[f"{kind}_notification"] = raw
    assert len(mails) == 8, sorted(mails)
    return mails


def header_section(raw):
    """The raw bytes of the message's header section (without the blank line)."""
    return raw.split(b"\r\n\r\n", 1)[0]


def header_fields(raw):
    """[(name, raw value with its folding)] in order, straight from the bytes."""
    fields = []
    for line in header_section(raw).split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        else:
            name, _, value = line.partition(b":")
            fields.append((name.decode("ascii"), value))
    return fields


def header_problems(raw):
    """Header fields named twice, or with encoded words too long, glued or on long lines."""
    problems = []
    names = [name.lower() for name, _ in header_fields(raw)]
    problems += [f"{name} twice" for name in sorted({n for n in names if names.count(n) > 1})]
    for name, value in header_fields(raw):
        for word in ENCODED_WORD.finditer(value):
            if len(word.group()) > 75:
                problems.append(f"{name}: an encoded word of {len(word.group())} characters")
            before = value[word.start() - 1 : word.start()]
            after = value[word.end() : word.end() + 1]
            if before not in (b" ", b"\t", b"\n") or after not in (b"", b" ", b"\r"):
                problems.append(f"{name}: an encoded word glued to other text")
        if value.count(b"=?") != len(ENCODED_WORD.findall(value)):
            problems.append(f"{name}: '=?' that opens no complete encoded word")
        lines = value.split(b"\r\n")
        lines[0] = name.encode() + b":" + lines[0]
        if any(len(line) > 76 and ENCODED_WORD.search(line) for line in lines):
            problems.append(f"{name}: a line with encoded words over 76 characters")
    return problems


def wire_problems(raw):
    """Everything in `raw` that breaks RFC 5322, 2045 or 2047 as we promise to keep them."""
    problems = []
    if b"\n" in raw.replace(b"\r\n", b"") or b"\r" in raw.replace(b"\r\n", b""):
        problems.append("a line ending other than CRLF")
    longest = max(len(line) for line in raw.split(b"\r\n"))
    if longest > 998:
        problems.append(f"a line of {longest} octets")
    problems += header_problems(raw)
    try:
        message = email.message_from_bytes(raw, policy=email.policy.strict)
        for name, value in message.items():
            problems += [f"{name}: {defect!r}" for defect in value.defects]
        for part in message.walk():
            problems += [f"{part.get_content_type()}: {defect!r}" for defect in part.defects]
            if not part.is_multipart():
                part.get_content()
    except Exception as error:  # noqa: BLE001 (any failure to parse is the finding)
        return [*problems, f"strict parsing failed: {error!r}"]
    if not message["Date"] or not message["Date"].endswith("+0000"):
        problems.append(f"Date not in +0000: {message['Date']}")
    elif parsedate_to_datetime(str(message["Date"])).utcoffset().total_seconds() != 0:
        problems.append("Date not in UTC")
    sender_domain = parseaddr(str(message["From"]))[1].rpartition("@")[2]
    if not str(message["Message-ID"]).endswith(f"@{sender_domain}>"):
        problems.append(f"Message-ID {message['Message-ID']} not on {sender_domain}")
    return problems


def strict(raw):
    """The message parsed with email.policy.strict."""
    return email.message_from_bytes(raw, policy=email.policy.strict)
