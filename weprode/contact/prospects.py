"""Prospect records: one per e-mail address, their requests, staff notes, retention.

Fed by the contact and meeting-request forms (`weprode.contact`), read by the staff
area. Every function takes `db` and, where time matters, `now`. Prospecting data is
kept 3 years from the last interaction with the person (see the privacy policy).
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..db import (
    Database,
    first_row,
    format_keyset_cursor,
    isoformat,
    keyset_page,
    parse_keyset_cursor,
    write_transaction,
)
from ..forms import EMAIL_MAX_LENGTH
from ..newsletter import export

STATUSES = ("new", "in_progress", "answered", "closed")
# What staff read, in the staff area's language.
STATUS_LABELS = {
    "new": _l("New"),
    "in_progress": _l("In progress"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
}
# A new request from someone whose file was answered or closed needs a look again.
REOPENED_STATUSES = ("answered", "closed")
INTERACTION_KINDS = ("contact", "meeting")
MEETING_FORMATS = ("video", "on_site")
PAGE_SIZE = 50
IDENTITY_FIELDS = ("last_name", "first_name", "job_title", "company", "phone")
EXPORT_COLUMNS = [
    "email",
    "last_name",
    "first_name",
    "job_title",
    "company",
    "phone",
    "status",
    "created_at",
    "last_interaction_at",
    "interactions",
]


@dataclass(frozen=True)
class Identity:
    """Who wrote: the identity fields shared by both forms, already validated."""

    email: str
    last_name: str
    first_name: str
    company: str
    job_title: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Interaction:
    """One request: a message (subject, message) or a meeting (topic, format, slots)."""

    kind: str
    subject: str | None = None
    message: str | None = None
    topic: str | None = None
    format: str | None = None
    time_slots: tuple = ()
    language: str = "en"

    def __post_init__(self) -> None:
        if self.kind not in INTERACTION_KINDS:
            raise ValueError("Unknown kind of request.")
        if self.format is not None and self.format not in MEETING_FORMATS:
            raise ValueError("Unknown meeting format.")


def get(db: Database, prospect_id: int) -> dict | None:
    """The prospect row as a dict, or None."""
    return first_row(db, "SELECT * FROM prospects WHERE id = ?", [prospect_id])


def find_by_email(db: Database, email: str) -> dict | None:
    """The prospect with this (normalised) address, or None."""
    return first_row(db, "SELECT * FROM prospects WHERE email = ?", [email])


def record_request(
    db: Database, identity: Identity, interaction: Interaction, now: datetime
) -> tuple[int, int]:
    """Store a request: create or update the prospect, append the interaction.

    The latest request's identity wins (people change jobs), but a field left empty
    does not erase what we knew. Returns (prospect_id, interaction_id).
    """
    stamp = isoformat(now)
    with write_transaction(db):
        existing = find_by_email(db, identity.email)
        values = {
            name: getattr(identity, name)
            for name in IDENTITY_FIELDS
            if getattr(identity, name) or existing is None
        }
        values |= {"language": interaction.language, "last_interaction_at": stamp}
        if existing is None:
            values |= {"email": identity.email, "status": "new", "created_at": stamp}
            prospect_id = db["prospects"].insert(values).last_pk
        else:
            prospect_id = existing["id"]
            if existing["status"] in REOPENED_STATUSES:
                values["status"] = "new"
            db["prospects"].update(prospect_id, values)
        interaction_id = (
            db["interactions"]
            .insert(
                {
                    "prospect_id": prospect_id,
                    "kind": interaction.kind,
                    "at": stamp,
                    "subject": interaction.subject,
                    "message": interaction.message,
                    "topic": interaction.topic,
                    "format": interaction.format,
                    "time_slots": json.dumps(list(interaction.time_slots), ensure_ascii=False)
                    if interaction.time_slots
                    else None,
                    "language": interaction.language,
                }
            )
            .last_pk
        )
    return prospect_id, interaction_id


def interactions(db: Database, prospect_id: int) -> list[dict]:
    """The prospect's requests, newest first, with time slots decoded."""
    rows = list(
        db.query(
            "SELECT * FROM interactions WHERE prospect_id = ? ORDER BY at DESC, id DESC",
            [prospect_id],
        )
    )
    for row in rows:
        row["time_slots"] = json.loads(row["time_slots"]) if row["time_slots"] else []
    return rows


def notes(db: Database, prospect_id: int) -> list[dict]:
    """Staff notes about the prospect, newest first."""
    return list(
        db.query(
            "SELECT * FROM prospect_notes WHERE prospect_id = ? ORDER BY at DESC, id DESC",
            [prospect_id],
        )
    )


def add_note(db: Database, prospect_id: int, author: str, body: str, now: datetime) -> int:
    """Append an internal note by `author`; return its id."""
    row = {"prospect_id": prospect_id, "author": author, "at": isoformat(now), "body": body}
    return db["prospect_notes"].insert(row).last_pk


def set_status(db: Database, prospect_id: int, status: str) -> str | None:
    """Move the prospect to `status`; return the previous status (None if not found)."""
    if status not in STATUSES:
        raise ValueError("Unknown status.")
    with write_transaction(db):
        prospect = get(db, prospect_id)
        if prospect is None:
            return None
        db["prospects"].update(prospect_id, {"status": status})
    return prospect["status"]


def counts_by_status(db: Database) -> dict[str, int]:
    """How many prospects are in each status (every status present, zeros included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in db.execute("SELECT status, count(*) FROM prospects GROUP BY status"):
        counts[status] = count
    return counts


@dataclass(frozen=True)
class ProspectFilter:
    """The staff list's search box and status filter, as given in the URL."""

    query: str = ""
    status: str = ""

    def __post_init__(self) -> None:
        if self.status and self.status not in STATUSES:
            raise ValueError(_l("Unknown status."))
        if len(self.query) > EMAIL_MAX_LENGTH:
            raise ValueError(_l("The search is too long."))


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\', with the user's % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def where_clause(filters: ProspectFilter) -> tuple[list[str], list[str]]:
    """SQL conditions and parameters for the filters.

    A substring match (a full scan) is fine here: prospects number in the thousands,
    not the million rows the subscriber list is built for.
    """
    conditions, params = [], []
    if filters.status:
        conditions.append("status = ?")
        params.append(filters.status)
    query = filters.query.strip()
    if query:
        columns = ("email", "last_name", "first_name", "company")
        conditions.append(
            "(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in columns) + ")"
        )
        params += [like_pattern(query)] * len(columns)
    return conditions, params


def search(
    db: Database, filters: ProspectFilter, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], str | None]:
    """(rows, next cursor): prospects matching `filters`, latest interaction first."""
    conditions, params = where_clause(filters)
    rows, last = keyset_page(
        db,
        "SELECT * FROM prospects",
        ("last_interaction_at", "id"),
        limit=limit,
        after=parse_keyset_cursor(cursor),
        conditions=conditions,
        params=params,
    )
    return rows, format_keyset_cursor(last)


def filtered_rows(db: Database, filters: ProspectFilter) -> Iterator[dict]:
    """Every prospect matching `filters` with their number of requests, in list order."""
    conditions, params = where_clause(filters)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return db.query(
        "SELECT prospects.*, (SELECT count(*) FROM interactions "
        "WHERE interactions.prospect_id = prospects.id) AS interactions "
        f"FROM prospects {where} ORDER BY last_interaction_at DESC, id DESC",
        params,
    )


def csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    """Formula-safe CSV with a header, one line at a time (for streaming)."""
    return export.csv_lines(rows, EXPORT_COLUMNS)
