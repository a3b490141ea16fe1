"""Subscriber statistics for the staff dashboard: counts by status, signups and churn."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ..db import Database, isoformat
from .subscribers import STATUSES, VISIBLE

SIGNUP_EVENTS = ("confirmed", "added_by_staff", "resubscribed")


def counts_by_status(db: Database) -> dict[str, int]:
    """How many subscribers are active, pending and churned."""
    counts = dict.fromkeys(STATUSES, 0)
    sql = f"SELECT status, count(*) AS n FROM subscribers WHERE {VISIBLE} GROUP BY status"
    for row in db.query(sql):
        counts[row["status"]] = row["n"]
    return counts


def count_events(db: Database, kinds: Sequence[str], since: datetime, until: datetime) -> int:
    """How many events of these kinds happened in [since, until]."""
    placeholders = ", ".join("?" for _ in kinds)
    sql = (
        f"SELECT count(*) FROM subscriber_events WHERE kind IN ({placeholders}) "
        "AND at >= ? AND at <= ?"
    )
    return db.execute(sql, [*kinds, isoformat(since), isoformat(until)]).fetchone()[0]


def recent_activity(db: Database, now: datetime, days: int = 30) -> dict[str, int]:
    """Signups (confirmations, staff additions, undos) and churn over the last `days`."""
    since = now - timedelta(days=days)
    return {
        "days": days,
        "signups": count_events(db, SIGNUP_EVENTS, since, now),
        "churn": count_events(db, ("churned",), since, now),
    }


def weekly_activity(db: Database, now: datetime, weeks: int = 52) -> list[dict]:
    """Signups and churn per week for the last `weeks` weeks, oldest first."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    series = [
        {"start": (start + timedelta(weeks=i)).date(), "signups": 0, "churn": 0}
        for i in range(weeks)
    ]
    kinds = (*SIGNUP_EVENTS, "churned")
    placeholders = ", ".join("?" for _ in kinds)
    rows = db.query(
        "SELECT kind, CAST((julianday(at) - julianday(?)) / 7 AS INTEGER) AS week, "
        f"count(*) AS n FROM subscriber_events WHERE kind IN ({placeholders}) AND at >= ? "
        "GROUP BY kind, week",
        [isoformat(start), *kinds, isoformat(start)],
    )
    for row in rows:
        if 0 <= row["week"] < weeks:
            key = "churn" if row["kind"] == "churned" else "signups"
            series[row["week"]][key] += row["n"]
    return series
