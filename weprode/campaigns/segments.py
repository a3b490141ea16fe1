"""Saved segments: a named set of conditions that narrows a campaign's topic.

Conditions are on what `subscribers` know: language, signup source, import batch, the
signup date (`created_at`) and the confirmation date (`confirmed_at`). Each is
optional; dates are whole days in UTC, both ends included. Company and role are known
only for contacts (`prospects`), never for subscribers, so they are no condition here.
"""

import hashlib
import json
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit
from ..db import Database, first_row, isoformat, write_transaction

LANGUAGES = ("en", "fr")
# Campaigns whose segment cannot be deleted: a draft or scheduled one reads it when it
# freezes its audience; one sending or paused is still going out to the readers it
# names, and staff looking at it must see which segment that is.
LIVE_STATUSES = ("draft", "scheduled", "sending", "paused")
NAME_MAX = 80
SOURCE_MAX = 100
# (field, column compared with ">=", column compared with "<" the next day)
DATE_RANGES = (
    ("signed_up", "created_at"),
    ("confirmed", "confirmed_at"),
)
FIELDS = (
    "name",
    "language",
    "source",
    "import_id",
    "signed_up_from",
    "signed_up_until",
    "confirmed_from",
    "confirmed_until",
)
FIELD_LABELS = {
    "name": _l("Name"),
    "language": _l("Language"),
    "source": _l("Signup source"),
    "import_id": _l("Import"),
    "signed_up_from": _l("Signed up from"),
    "signed_up_until": _l("Signed up until"),
    "confirmed_from": _l("Confirmed from"),
    "confirmed_until": _l("Confirmed until"),
}


class SegmentInUse(Exception):
    """The segment narrows campaigns still to be sent; `campaigns` lists them (id, status)."""

    def __init__(self, campaigns: list[dict]) -> None:
        super().__init__(", ".join(str(campaign["id"]) for campaign in campaigns))
        self.campaigns = campaigns


class SegmentInvalid(ValueError):
    """Staff's values for a segment cannot be saved; `errors` maps each field to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in errors.items()))
        self.errors = errors


def all_segments(db: Database) -> list[dict]:
    """Every segment, by name."""
    return list(db.query("SELECT * FROM segments ORDER BY name COLLATE NOCASE, id"))


def get(db: Database, segment_id: int | None) -> dict | None:
    """The segment row, or None."""
    if segment_id is None:
        return None
    return first_row(db, "SELECT * FROM segments WHERE id = ?", [segment_id])


def sources(db: Database) -> list[str]:
    """The signup sources subscribers carry, to choose from."""
    return [row[0] for row in db.execute("SELECT DISTINCT source FROM subscribers ORDER BY 1")]


def imports(db: Database) -> list[dict]:
    """Finished imports, newest first, to choose one batch."""
    return list(
        db.query(
            "SELECT id, source, started_at, added FROM imports WHERE status = 'done' "
            "ORDER BY id DESC"
        )
    )


def parse_day(text: str) -> date | None:
    """A YYYY-MM-DD day, or None when `text` is not one."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def cleaned(values: dict) -> dict:
    """The submitted values stripped, blanks as None."""
    result = {}
    for field in FIELDS:
        value = values.get(field)
        value = str(value).strip() if value is not None else ""
        result[field] = value or None
    return result


def validation_errors(db: Database, values: dict, segment_id: int | None = None) -> dict:
    """{field: message} for everything wrong with cleaned `values`."""
    errors = {}
    name = values["name"]
    if not name:
        errors["name"] = _("A name is required.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("At most %(count)s characters.", count=NAME_MAX)
    elif first_row(
        db, "SELECT id FROM segments WHERE name = ? AND id IS NOT ?", [name, segment_id]
    ):
        errors["name"] = _("Another segment has this name.")
    if values["language"] and values["language"] not in LANGUAGES:
        errors["language"] = _("Choose English or French, or any language.")
    if values["source"] and len(values["source"]) > SOURCE_MAX:
        errors["source"] = _("At most %(count)s characters.", count=SOURCE_MAX)
    if values["import_id"] and not (
        values["import_id"].isdigit()
        and first_row(db, "SELECT id FROM imports WHERE id = ?", [int(values["import_id"])])
    ):
        errors["import_id"] = _("Choose an import of the list.")
    for prefix, _column in DATE_RANGES:
        days = {}
        for end in ("from", "until"):
            field = f"{prefix}_{end}"
            if values[field]:
                days[end] = parse_day(values[field])
                if days[end] is None:
                    errors[field] = _("Give a date as YYYY-MM-DD, e.g. 2026-09-01.")
        if days.get("from") and days.get("until") and days["from"] > days["until"]:
            errors[f"{prefix}_until"] = _("This date is before the start date.")
    return errors


def checked(db: Database, values: dict, segment_id: int | None = None) -> dict:
    """The cleaned values; `SegmentInvalid` when anything is wrong."""
    values = cleaned(values)
    errors = validation_errors(db, values, segment_id)
    if errors:
        raise SegmentInvalid(errors)
    if values["import_id"]:
        values["import_id"] = int(values["import_id"])
    return values


def create(db: Database, values: dict, now: datetime) -> int:
    """Save a new segment; returns its id."""
    values = checked(db, values)
    stamp = isoformat(now)
    with write_transaction(db):
        return db.execute(
            f"INSERT INTO segments ({', '.join(FIELDS)}, created_at, updated_at) "
            f"VALUES ({', '.join('?' * len(FIELDS))}, ?, ?)",
            [*(values[field] for field in FIELDS), stamp, stamp],
        ).lastrowid


def update(db: Database, segment_id: int, values: dict, now: datetime) -> None:
    """Change a segment (campaigns not yet sent use it as it is when they are sent)."""
    values = checked(db, values, segment_id)
    with write_transaction(db):
        db.execute(
            f"UPDATE segments SET {', '.join(f'{field} = ?' for field in FIELDS)}, "
            "updated_at = ? WHERE id = ?",
            [*(values[field] for field in FIELDS), isoformat(now), segment_id],
        )


def definition(segment: dict | None) -> str:
    """A short fingerprint of the segment's conditions (its name aside): the send
    confirmation carries the one staff saw, so an edit in between is noticed."""
    if segment is None:
        return ""
    conditions = {field: segment[field] for field in FIELDS if field != "name"}
    text = json.dumps(conditions, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def campaigns_using(db: Database, segment_id: int) -> list[dict]:
    """Campaigns narrowed by the segment, newest first: their id and status."""
    sql = "SELECT id, status FROM campaigns WHERE segment_id = ? ORDER BY id DESC"
    return list(db.query(sql, [segment_id]))


def delete(db: Database, segment_id: int, actor: str, now: datetime) -> None:
    """Delete a segment no live campaign uses (`SegmentInUse` otherwise).

    Sent and cancelled campaigns narrowed by it keep its name in `segment_name`; the
    audit entry keeps its conditions. One transaction: a campaign cannot take the
    segment between the check and the deletion.
    """
    with write_transaction(db):
        segment = get(db, segment_id)
        if segment is None:
            return
        using = campaigns_using(db, segment_id)
        if live := [campaign for campaign in using if campaign["status"] in LIVE_STATUSES]:
            raise SegmentInUse(live)
        db.execute(
            "UPDATE campaigns SET segment_name = ?, segment_id = NULL WHERE segment_id = ?",
            [segment["name"], segment_id],
        )
        db.execute("DELETE FROM segments WHERE id = ?", [segment_id])
        conditions = {field: segment[field] for field in FIELDS if segment[field] is not None}
        kept = [campaign["id"] for campaign in using]
        audit.record(
            db, actor, "segment_deleted", now, target=f"segment:{segment_id}",
            **conditions, campaigns=kept,
        )  # fmt: skip


def condition(segment: dict | None) -> tuple[str, list]:
    """SQL on `subscribers` (and its parameters) holding the segment's people.

    Dates compare as ISO-8601 text: the day's start is its "YYYY-MM-DD" prefix, the end
    of the last day is the next day's prefix, excluded.
    """
    if segment is None:
        return "1", []
    parts, params = [], []
    for column in ("language", "source", "import_id"):
        if segment[column] is not None:
            parts.append(f"{column} = ?")
            params.append(segment[column])
    for prefix, column in DATE_RANGES:
        if start := segment[f"{prefix}_from"]:
            parts.append(f"{column} >= ?")
            params.append(start)
        if end := segment[f"{prefix}_until"]:
            parts.append(f"{column} < ?")
            params.append((date.fromisoformat(end) + timedelta(days=1)).isoformat())
    return " AND ".join(parts) or "1", params
