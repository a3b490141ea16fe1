"""The pure half of ingesting a report: its bytes in, what it says and whom it names out.

Nothing here touches the database, the app or a secret: what a message reports, the
fingerprint that recognises it when read again, and the VERP tags and Message-IDs of
ours it quotes depend on its bytes (and on the bounce address, passed in) alone. That
is most of an ingest's cost (MIME parsing, flufl.bounce's detectors, searching the
text), so bulk ingest runs it in worker processes (see `readers`), while checking the
tags' signatures and every write stay with the one process that holds the database.
"""

import email
import email.message
import hashlib
import re
import traceback
from dataclasses import dataclass

from . import reports, verp

# Reports that are no bounce and no complaint: read, answered with a line, not stored.
IGNORED = {"auto_reply", "delay", "delivered", "not_a_complaint", "unrecognised"}
# What campaigns.render.message_id writes.
CAMPAIGN_MESSAGE_ID = re.compile(
    r"<campaign-(\d{1,19})\.(\d{1,19})\.([0-9a-f]{16})@([A-Za-z0-9.-]{1,253})>"
)


@dataclass(frozen=True)
class Reading:
    """What one message reports, and what in it may tie it to a delivery of ours."""

    report: reports.Report
    fingerprint: str = ""  # "" for ignored reports: they are not stored
    tags: tuple[str, ...] = ()  # VERP tags of our bounce address, in order of appearance
    message_ids: tuple[str, ...] = ()  # Message-IDs shaped like ours (only without tags)


@dataclass(frozen=True)
class Unreadable:
    """A message whose reading raised: a bug of ours, to log; the MTA should retry."""

    error: str
    details: str


def read(raw: bytes, bounce_address: tuple[str, str] | None) -> Reading:
    """Read one RFC 5322 message. `bounce_address` is (local part, domain), or None when
    VERP is off (no tag can be ours then)."""
    message = reports.message_from(raw)
    report = reports.read(message)
    if report.kind in IGNORED:
        return Reading(report)
    tags, message_ids = references(raw, message, bounce_address)
    return Reading(report, fingerprint(raw, message), tags, message_ids)


def read_safely(raw: bytes, bounce_address: tuple[str, str] | None) -> Reading | Unreadable:
    """`read`, with any exception turned into an `Unreadable` (picklable, unlike some
    exceptions, so a worker can hand it back)."""
    try:
        return read(raw, bounce_address)
    except Exception as error:  # noqa: BLE001 (one unreadable report must not stop a batch)
        return Unreadable(f"{type(error).__name__}: {error}", traceback.format_exc())


def read_all(
    raws: list[bytes], bounce_address: tuple[str, str] | None
) -> list[Reading | Unreadable]:
    """Several messages: one task for a worker process."""
    return [read_safely(raw, bounce_address) for raw in raws]


def references(
    raw: bytes, message: email.message.Message, bounce_address: tuple[str, str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(VERP tags, Message-IDs shaped like ours) quoted in the message.

    The raw bytes are searched first (the VERP address is in the headers of most
    reports); the decoded text parts only when they show no tag, since a quoted
    original may be base64 or quoted-printable. Message-IDs matter only without a tag.
    """
    tags = verp.tags_of(raw, bounce_address)
    if tags:
        return tags, ()
    text = raw.decode("utf-8", "replace") + "\n" + reports.body_text(message)
    tags = verp.tags_of(text, bounce_address)
    if tags:
        return tags, ()
    return (), tuple(match.group(0) for match in CAMPAIGN_MESSAGE_ID.finditer(text))


def fingerprint(raw: bytes, message: email.message.Message) -> str:
    """What makes a report the same one read again: its Message-ID and body, else its
    bytes' hash.

    The body counts too, so that two different reports from a sloppy MTA that reuses
    a Message-ID are both kept; headers do not, since each delivery of the same report
    adds its own (Received, Delivered-To).
    """
    message_id = " ".join(str(message.get("Message-ID") or "").split())
    if message_id:
        body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[-1]
        return f"message-id:{message_id[:400]}:{hashlib.sha256(body).hexdigest()[:32]}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()
