"""Finding subscribers for the staff list and its CSV export.

The list stays fast at a million rows: keyset pagination on (created_at, id) instead
of OFFSET, and prefix searches that use indexes instead of `LIKE '%...%'` scans.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from ..db import Database, format_keyset_cursor, keyset_page, parse_keyset_cursor
from ..forms import EMAIL_MAX_LENGTH
from . import export, subscribers

PAGE_SIZE = 50
SORTS = {"newest": "DESC", "oldest": "ASC"}


@dataclass(frozen=True)
class SubscriberFilter:
    """The list's search box and filters, as given in the URL."""

    query: str = ""
    status: str = ""
    language: str = ""
    sort: str = "newest"

    def __post_init__(self) -> None:
        if self.status and self.status not in subscribers.STATUSES:
            raise ValueError(_l("Unknown status."))
        if self.language and self.language not in subscribers.LANGUAGES:
            raise ValueError(_l("Unknown language."))
        if self.sort not in SORTS:
            raise ValueError(_l("Unknown sort order."))
        if len(self.query) > EMAIL_MAX_LENGTH:
            raise ValueError(_l("The search is too long."))


@dataclass
class Page:
    """One page of subscribers plus the cursor of the next one, if any."""

    rows: list
    next_cursor: str | None = None
    filters: SubscriberFilter = field(default_factory=SubscriberFilter)


def prefix_range(prefix: str) -> tuple[str, str]:
    """(low, high) bounds matching every string that starts with `prefix`."""
    return prefix, prefix + "\U0010ffff"


# Above this many matches a search reads the date index and filters as it goes
# (the first page fills quickly); below it, it collects the matches by index first.
DENSE_MATCHES = 2000
EMAIL_RANGE = "email >= ? AND email < ?"
NAME_RANGE = "lower(first_name) >= ? AND lower(first_name) < ?"


def matches_are_dense(db: Database, low: str, high: str) -> bool:
    """True when a prefix matches many rows (counted by index, capped)."""
    sql = (
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM subscribers WHERE {EMAIL_RANGE} LIMIT ?))"
        f" + (SELECT count(*) FROM (SELECT 1 FROM subscribers WHERE {NAME_RANGE} LIMIT ?))"
    )
    count = db.execute(sql, [low, high, DENSE_MATCHES, low, high, DENSE_MATCHES]).fetchone()[0]
    return count >= DENSE_MATCHES


def where_clause(db: Database, filters: SubscriberFilter) -> tuple[list[str], list[str]]:
    """SQL conditions and parameters for the filters (not the cursor)."""
    conditions, params = [subscribers.VISIBLE], []
    if filters.status:
        conditions.append("status = ?")
        params.append(filters.status)
    if filters.language:
        conditions.append("language = ?")
        params.append(filters.language)
    query = filters.query.strip().lower()
    if query:
        low, high = prefix_range(query)
        if matches_are_dense(db, low, high):
            # Unary + keeps SQLite off the e-mail index so it walks the date order.
            conditions.append(
                "((+email >= ? AND +email < ?) OR (lower(first_name) || '' >= ? "
                "AND lower(first_name) || '' < ?))"
            )
        else:
            conditions.append(
                f"id IN (SELECT id FROM subscribers WHERE {EMAIL_RANGE} "
                f"UNION SELECT id FROM subscribers WHERE {NAME_RANGE})"
            )
        params += [low, high, low, high]
    return conditions, params


def search(
    db: Database, filters: SubscriberFilter, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page:
    """A page of subscribers matching `filters`, continuing after `cursor`."""
    conditions, params = where_clause(db, filters)
    rows, last = keyset_page(
        db,
        "SELECT id, email, first_name, language, status, created_at, confirmed_at, "
        "churned_at FROM subscribers",
        ("created_at", "id"),
        limit=limit,
        after=parse_keyset_cursor(cursor),
        conditions=conditions,
        params=params,
        descending=SORTS[filters.sort] == "DESC",
    )
    return Page(rows, format_keyset_cursor(last), filters)


def filtered_rows(db: Database, filters: SubscriberFilter) -> Iterator[dict]:
    """Every row matching `filters`, for the CSV export, in list order."""
    conditions, params = where_clause(db, filters)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    direction = SORTS[filters.sort]
    return db.query(
        f"SELECT {export.SELECT_COLUMNS} FROM subscribers {where} "
        f"ORDER BY created_at {direction}, id {direction}",
        params,
    )
