"""`bounces fetch`: read the bounce mailbox over IMAP, for sites whose MX is elsewhere.

Each message of BOUNCE_IMAP_FOLDER is read (without marking it seen), ingested like
`bounces ingest` does, and once its report is on disk moved to
BOUNCE_IMAP_PROCESSED_FOLDER (created if missing). A message whose storing failed
stays where it is for the next poll; a message stored but not moved (a crash in
between) is read again next time and answered "already ingested".

The session is TLS from the start by default (IMAPS, port 993); STARTTLS on port 143
is the alternative. Plain text is allowed only to a server on this machine: the
password and the reports (addresses, quoted mails) must not cross a network in clear.
Errors are worded in the current locale (`bounces fetch` runs in STAFF_LANGUAGE).
"""

import imaplib
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import click
from flask_babel import gettext as _

from ..db import Database
from . import ingest, intake
from .readers import Readers

SECURITY_MODES = ("tls", "starttls", "none")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}
# Messages fetched and committed together, then moved together.
CHUNK = 200


class MailboxError(RuntimeError):
    """The mailbox cannot be used now (unreachable, refused login, missing folder)."""


@dataclass(frozen=True)
class ImapSettings:
    """Where the bounce mailbox is and how to log in."""

    host: str
    port: int
    user: str
    password: str
    folder: str
    processed_folder: str
    security: str
    ca_file: str
    timeout: float


def settings_from(config: Mapping[str, Any]) -> ImapSettings:
    """The BOUNCE_IMAP_* settings, checked; MailboxError says what is wrong."""
    host = str(config.get("BOUNCE_IMAP_HOST") or "")
    security = str(config.get("BOUNCE_IMAP_SECURITY") or "tls").lower()
    if not host:
        raise MailboxError(_("BOUNCE_IMAP_HOST is not set"))
    if security not in SECURITY_MODES:
        modes = ", ".join(SECURITY_MODES)
        raise MailboxError(_("BOUNCE_IMAP_SECURITY must be one of %(modes)s", modes=modes))
    if security == "none" and host.lower() not in LOCAL_HOSTS:
        raise MailboxError(
            _(
                "%(setting)s is only allowed to a server on this machine (localhost): use "
                "%(tls)s or %(starttls)s",
                setting="BOUNCE_IMAP_SECURITY = 'none'",
                tls="'tls'",
                starttls="'starttls'",
            )
        )
    folders = [str(config.get("BOUNCE_IMAP_FOLDER") or "INBOX")]
    folders.append(str(config.get("BOUNCE_IMAP_PROCESSED_FOLDER") or "Processed"))
    if not all(name.isascii() and name.isprintable() for name in folders):
        raise MailboxError(_("IMAP folder names must be printable ASCII"))
    return ImapSettings(
        host=host,
        port=int(config.get("BOUNCE_IMAP_PORT") or DEFAULT_PORTS[security]),
        user=str(config.get("BOUNCE_IMAP_USER") or ""),
        password=str(config.get("BOUNCE_IMAP_PASSWORD") or ""),
        folder=folders[0],
        processed_folder=folders[1],
        security=security,
        ca_file=str(config.get("BOUNCE_IMAP_CA_FILE") or ""),
        timeout=float(config.get("BOUNCE_IMAP_TIMEOUT") or 30),
    )


def quoted(name: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def connect(settings: ImapSettings) -> imaplib.IMAP4:
    """A logged-in session; MailboxError when the server cannot be reached or refuses."""
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    try:
        if settings.security == "tls":
            session: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=settings.timeout
            )
        else:
            session = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
            if settings.security == "starttls":
                session.starttls(ssl_context=context)
        session.login(settings.user, settings.password)
    except (imaplib.IMAP4.error, OSError) as error:
        where = f"{settings.host}:{settings.port}"
        raise MailboxError(
            _("cannot log in to %(where)s: %(error)s", where=where, error=error)
        ) from error
    return session


def checked(answer: tuple[str, list], what: str) -> list:
    """The data of an OK answer; MailboxError for NO or BAD."""
    status, data = answer
    if status != "OK":
        detail = b" ".join(item for item in data if isinstance(item, bytes)).decode(
            errors="replace"
        )
        raise MailboxError(f"{what}: {status} {detail}")
    return data


def ensure_folder(session: imaplib.IMAP4, name: str) -> None:
    """Create the folder unless it exists."""
    listed = checked(session.list('""', quoted(name)), f"LIST {name}")
    if not any(item for item in listed if item):
        checked(session.create(quoted(name)), f"CREATE {name}")


def message_uids(session: imaplib.IMAP4, folder: str) -> list[bytes]:
    """The UIDs of every message in the folder (processed ones have been moved away)."""
    checked(session.select(quoted(folder)), f"SELECT {folder}")
    data = checked(session.uid("SEARCH", None, "ALL"), "UID SEARCH")
    return data[0].split() if data and data[0] else []


def fetch_message(session: imaplib.IMAP4, uid: bytes) -> bytes | None:
    """One message's bytes, leaving it unseen; None when it vanished meanwhile."""
    data = checked(session.uid("FETCH", uid, "(BODY.PEEK[])"), f"FETCH {uid!r}")
    for item in data:
        if isinstance(item, tuple) and re.search(rb"\bUID\s+" + uid + rb"\b", item[0]):
            return item[1]
    return None


def move(session: imaplib.IMAP4, uids: list[bytes], folder: str) -> None:
    """Move messages to `folder`: MOVE (RFC 6851) where offered, else copy and expunge."""
    if not uids:
        return
    uid_set = b",".join(uids).decode()
    if "MOVE" in session.capabilities:
        checked(session.uid("MOVE", uid_set, quoted(folder)), f"MOVE to {folder}")
        return
    checked(session.uid("COPY", uid_set, quoted(folder)), f"COPY to {folder}")
    checked(session.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE \\Deleted")
    if "UIDPLUS" in session.capabilities:
        checked(session.uid("EXPUNGE", uid_set), "UID EXPUNGE")
    else:
        checked(session.expunge(), "EXPUNGE")


def chunks(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    """`items` in lists of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


Report = Callable[[int, bytes, ingest.IngestResult], None]


def echo_line(number: int, _key: object, result: ingest.IngestResult) -> None:
    """The one line `bounces ingest` and `bounces fetch` print for a message."""
    click.echo(f"{number}: {result.line}")


def ingest_chunk(
    db: Database,
    session: imaplib.IMAP4,
    settings: ImapSettings,
    uids: list[bytes],
    report: Report,
    numbered_from: int,
    readers: Readers | None = None,
) -> tuple[int, int]:
    """Fetch, ingest and move some messages; (how many read, how many not stored).

    Lines are numbered on from `numbered_from` (the messages of earlier chunks)."""
    fetched = [(uid, fetch_message(session, uid)) for uid in uids]
    present = [(uid, raw) for uid, raw in fetched if raw is not None]
    stored: list[bytes] = []

    def note(number: int, uid: bytes, result: ingest.IngestResult) -> None:
        if result.stored:
            stored.append(uid)
        report(numbered_from + number, uid, result)

    failed = intake.ingest_many(db, present, note, batch_size=len(uids), readers=readers)
    move(session, stored, settings.processed_folder)
    return len(present), failed


def fetch(
    db: Database, settings: ImapSettings, report: Report, readers: Readers | None = None
) -> int:
    """Ingest every message of the folder, moving the stored ones; returns how many
    could not be stored (they stay). MailboxError when the mailbox cannot be used.

    `report(number, uid, result)` is told each message's line once it is on disk;
    `readers` parse each chunk (in worker processes), else this process does.
    """
    session = connect(settings)
    failed, done = 0, 0
    try:
        ensure_folder(session, settings.processed_folder)
        for chunk in chunks(message_uids(session, settings.folder), CHUNK):
            count, chunk_failed = ingest_chunk(db, session, settings, chunk, report, done, readers)
            done, failed = done + count, failed + chunk_failed
    except (imaplib.IMAP4.error, OSError) as error:
        raise MailboxError(_("the IMAP session failed: %(error)s", error=error)) from error
    finally:
        try:
            session.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return failed
