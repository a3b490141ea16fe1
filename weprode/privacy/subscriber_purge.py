"""Purging subscribers past their retention period: statistics first, then the rows.

`retention` decides when (its "subscribers" rule); this is how, for the table that
grows largest. What statistics need is folded into anonymous monthly counts, then
the subscribers and the rows hanging off them go in bulk, by copying the survivors
when most of the table is due (see `bulk_delete`).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from ..db import Database, durable_transaction, isoformat
from . import bulk_delete


def doomed_subscribers(db: Database, cutoff: datetime, requests_before: datetime) -> int:
    """Fill a temporary table with churned (or bounced) subscribers past their retention.

    Someone who left long ago and has since asked to subscribe again stays churned
    until they confirm; their request is kept as long as a pending signup would be
    (requested at or after `requests_before`), so their confirmation link still works.
    """
    db.execute("DROP TABLE IF EXISTS temp.doomed")
    db.execute("CREATE TEMP TABLE doomed (id INTEGER PRIMARY KEY)")
    db.execute(
        "INSERT INTO temp.doomed SELECT id FROM subscribers "
        "WHERE ((status = 'churned' AND churned_at < :cutoff) "
        "OR (status = 'bounced' AND bounced_at < :cutoff)) "
        "AND (requested_at IS NULL OR requested_at < :requests)",
        {"cutoff": isoformat(cutoff), "requests": isoformat(requests_before)},
    )
    return db.execute("SELECT count(*) FROM temp.doomed").fetchone()[0]


STATISTICS_QUERIES = {
    # metric: SQL giving (month, dimension, value) for the doomed subscribers
    "signups": "SELECT substr(e.at, 1, 7), e.kind, count(*) FROM subscriber_events e "
    "JOIN temp.doomed d ON d.id = e.subscriber_id WHERE e.kind IN "
    "('confirmed', 'added_by_staff', 'imported') GROUP BY 1, 2",
    "churn": "SELECT substr(e.at, 1, 7), coalesce(e.source, ''), count(*) "
    "FROM subscriber_events e JOIN temp.doomed d ON d.id = e.subscriber_id "
    "WHERE e.kind = 'churned' GROUP BY 1, 2",
    "campaign_deliveries": "SELECT substr(c.created_at, 1, 7), "
    "dl.campaign_id || ':' || dl.status, count(*) FROM deliveries dl "
    "JOIN temp.doomed d ON d.id = dl.subscriber_id JOIN campaigns c ON c.id = dl.campaign_id "
    "GROUP BY 1, 2",
    "campaign_unsubscribes": "SELECT substr(s.churned_at, 1, 7), s.churn_campaign_id, count(*) "
    "FROM subscribers s JOIN temp.doomed d ON d.id = s.id "
    "WHERE s.churn_campaign_id IS NOT NULL GROUP BY 1, 2",
}


def add_statistics(db: Database, metric: str, rows: Iterable[Sequence]) -> None:
    """Add (month, dimension, value) counts to the anonymous monthly statistics."""
    db.conn.executemany(
        "INSERT INTO monthly_statistics (month, metric, dimension, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (month, metric, dimension) DO UPDATE SET value = value + excluded.value",
        [(month, metric, str(dimension), value) for month, dimension, value in rows],
    )


def subscriber_children(db: Database) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to `subscribers`, read from the schema.

    Their rows are deleted explicitly in bulk, foreign-key actions being off: a list
    written by hand forgot the bounce tables when they came, and would forget the next.
    """
    return [
        (table, key.column)
        for table in db.table_names()
        for key in db[table].foreign_keys
        if key.other_table == "subscribers"
    ]


PURGE_CACHE_KIB = 512 * 1024


def purge_subscribers(
    db: Database, cutoff: datetime, dry_run: bool, *, requests_before: datetime
) -> tuple[int, int]:
    """Churned before `cutoff`: statistics first, then the rows (and deliveries).

    Returns (subscribers due, their deliveries); with `dry_run` nothing is changed.

    Foreign-key actions are off for the connection meanwhile: children are removed
    set by set before their parents instead of probed once per deleted subscriber.
    A larger page cache keeps the index pages of a big delete in memory. When most
    of the table goes, the survivors are copied instead (see `bulk_delete`).
    """
    cache_size = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size=-{PURGE_CACHE_KIB}")
    db.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction; restored below
    rebuilt = False
    try:
        with durable_transaction(db):
            due = doomed_subscribers(db, cutoff, requests_before)
            deliveries = db.execute(
                "SELECT count(*) FROM deliveries "
                "WHERE subscriber_id IN (SELECT id FROM temp.doomed)"
            ).fetchone()[0]
            if due and not dry_run:
                for metric, sql in STATISTICS_QUERIES.items():
                    add_statistics(db, metric, db.execute(sql).fetchall())
                rebuilt = remove_doomed(db, due)
            db.execute("DROP TABLE temp.doomed")
        if rebuilt:
            bulk_delete.vacuum(db)
    finally:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA secure_delete=ON")
        db.execute(f"PRAGMA cache_size={cache_size}")
    return due, deliveries


def remove_doomed(db: Database, due: int) -> bool:
    """Delete the doomed subscribers and their children; True if tables were rebuilt."""
    children = subscriber_children(db)
    if not bulk_delete.worth_rebuilding(db, "subscribers", due):
        for table, column in children:
            db.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM temp.doomed)")
        db.execute("DELETE FROM subscribers WHERE id IN (SELECT id FROM temp.doomed)")
        return False
    # The dropped pages are not zeroed (that would write them all); `vacuum` follows.
    db.execute("PRAGMA secure_delete=OFF")
    for table, column in children:
        bulk_delete.rebuild_keeping(db, table, f"{column} NOT IN (SELECT id FROM temp.doomed)")
    bulk_delete.rebuild_keeping(db, "subscribers", "id NOT IN (SELECT id FROM temp.doomed)")
    return True
