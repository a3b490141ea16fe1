"""The retention policy: one table in code, rendered on /privacy and enforced by `purge`.

Each rule says what data, when its clock starts, how long it is kept, and what
happens then. `purge` deletes what is due, one transaction per category, after
folding what statistics need into anonymous monthly counts. Connections run with
`secure_delete` and the purge ends with a WAL checkpoint, so a purged address is
gone from the database files, not only from queries.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from . import bulk_delete, usage_log
from .db import isoformat, write_transaction


def years_before(moment, years):
    """The same calendar moment `years` earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


@dataclass(frozen=True)
class Rule:
    """One category of data and how long we keep it."""

    key: str
    data: str
    clock: str
    period: str
    action: str
    years: int = 0
    days: int = 0
    enforced_here: bool = True

    def cutoff(self, now):
        """Records whose clock started before this moment are due."""
        return years_before(now, self.years) - timedelta(days=self.days)


RULES = (
    Rule(
        "prospects",
        _l("Commercial and prospecting data (contact and meeting requests)"),
        _l("our last interaction with you"),
        _l("3 years"),
        _l("deleted"),
        years=3,
    ),
    Rule(
        "contracts",
        _l("Data needed to manage a contract"),
        _l("the end of the contract"),
        _l("10 years, or until the end of any pending dispute"),
        _l("deleted (kept outside this website)"),
        years=10,
        enforced_here=False,
    ),
    Rule(
        "subscribers",
        _l("Newsletter subscribers’ data, with the e-mails we sent them"),
        _l("the date you unsubscribe"),
        _l("3 years"),
        _l(
            "deleted; counts kept as anonymous statistics, and a keyed fingerprint of the "
            "address so that it is never mailed again"
        ),
        years=3,
    ),
    Rule(
        "pending_signups",
        _l("Newsletter signups never confirmed"),
        _l("the signup"),
        _l("30 days"),
        _l("deleted"),
        days=30,
    ),
    Rule(
        "usage",
        _l("Website login and usage data (access logs, staff logins and actions)"),
        _l("the visit or action"),
        _l("1 year"),
        _l("deleted"),
        years=1,
    ),
    Rule(
        "mail_limits",
        _l("Records that limit how often we mail one address"),
        _l("the e-mail sent"),
        _l("2 days"),
        _l("deleted"),
        days=2,
    ),
    Rule(
        "rights_requests",
        _l("Records of requests to exercise your rights"),
        _l("the request"),
        _l("5 years, to prove we answered"),
        _l("deleted"),
        years=5,
    ),
)
RULES_BY_KEY = {rule.key: rule for rule in RULES}


@dataclass
class CategoryResult:
    """What a purge found (and did) for one rule."""

    key: str
    due: int
    details: dict


def doomed_subscribers(db, cutoff):
    """Fill a temporary table with churned subscribers past their retention."""
    db.execute("DROP TABLE IF EXISTS temp.doomed")
    db.execute("CREATE TEMP TABLE doomed (id INTEGER PRIMARY KEY)")
    db.execute(
        "INSERT INTO temp.doomed SELECT id FROM subscribers "
        "WHERE status = 'churned' AND churned_at < ?",
        [isoformat(cutoff)],
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


def add_statistics(db, metric, rows):
    """Add (month, dimension, value) counts to the anonymous monthly statistics."""
    db.conn.executemany(
        "INSERT INTO monthly_statistics (month, metric, dimension, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (month, metric, dimension) DO UPDATE SET value = value + excluded.value",
        [(month, metric, str(dimension), value) for month, dimension, value in rows],
    )


# Tables that hang off a subscriber (ON DELETE CASCADE), deleted explicitly in bulk.
SUBSCRIBER_CHILDREN = ("subscriber_events", "consents", "deliveries")
PURGE_CACHE_KIB = 512 * 1024


def purge_subscribers(db, now, dry_run):
    """Churned more than 3 years ago: statistics first, then the rows (and deliveries).

    Foreign-key actions are off for the connection meanwhile: children are removed
    set by set before their parents instead of probed once per deleted subscriber.
    A larger page cache keeps the index pages of a big delete in memory. When most
    of the table goes, the survivors are copied instead (see `bulk_delete`).
    """
    cutoff = RULES_BY_KEY["subscribers"].cutoff(now)
    cache_size = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size=-{PURGE_CACHE_KIB}")
    db.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction; restored below
    rebuilt = False
    try:
        with write_transaction(db):
            due = doomed_subscribers(db, cutoff)
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
    return CategoryResult("subscribers", due, {"deliveries": deliveries})


def remove_doomed(db, due):
    """Delete the doomed subscribers and their children; True if tables were rebuilt."""
    if not bulk_delete.worth_rebuilding(db, "subscribers", due):
        for table in SUBSCRIBER_CHILDREN:
            db.execute(f"DELETE FROM {table} WHERE subscriber_id IN (SELECT id FROM temp.doomed)")
        db.execute("DELETE FROM subscribers WHERE id IN (SELECT id FROM temp.doomed)")
        return False
    # The dropped pages are not zeroed (that would write them all); `vacuum` follows.
    db.execute("PRAGMA secure_delete=OFF")
    for table in SUBSCRIBER_CHILDREN:
        bulk_delete.rebuild_keeping(db, table, "subscriber_id NOT IN (SELECT id FROM temp.doomed)")
    bulk_delete.rebuild_keeping(db, "subscribers", "id NOT IN (SELECT id FROM temp.doomed)")
    return True


def delete_where(db, table, condition, params, dry_run, statistics=None):
    """Count (and unless dry-run delete) the rows of `table` matching `condition`."""
    with write_transaction(db):
        due = db.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params).fetchone()[0]
        if due and not dry_run:
            if statistics:
                metric, sql = statistics
                add_statistics(db, metric, db.execute(sql, params).fetchall())
            db.execute(f"DELETE FROM {table} WHERE {condition}", params)
    return due


def purge_pending_signups(db, now, dry_run):
    """Signups nobody confirmed within 30 days never became consent: delete them."""
    cutoff = isoformat(RULES_BY_KEY["pending_signups"].cutoff(now))
    due = delete_where(
        db,
        "subscribers",
        "status = 'pending' AND coalesce(requested_at, created_at) < ?",
        [cutoff],
        dry_run,
        statistics=(
            "unconfirmed_signups",
            "SELECT substr(created_at, 1, 7), '', count(*) "
            "FROM subscribers WHERE status = 'pending' "
            "AND coalesce(requested_at, created_at) < ? GROUP BY 1",
        ),
    )
    return CategoryResult("pending_signups", due, {})


def purge_prospects(db, now, dry_run):
    """No interaction for 3 years: the prospect and its requests, notes and mails go."""
    cutoff = isoformat(RULES_BY_KEY["prospects"].cutoff(now))
    due = delete_where(db, "prospects", "last_interaction_at < ?", [cutoff], dry_run)
    return CategoryResult("prospects", due, {})


def purge_usage(db, now, dry_run, log_folder=None):
    """Staff logins, sessions, failed attempts, audit entries and access logs: 1 year."""
    cutoff = isoformat(RULES_BY_KEY["usage"].cutoff(now))
    details = {
        "audit_log": delete_where(db, "audit_log", "at < ?", [cutoff], dry_run),
        "login_failures": delete_where(db, "login_failures", "at < ?", [cutoff], dry_run),
        "staff_sessions": delete_where(db, "staff_sessions", "last_seen_at < ?", [cutoff], dry_run),
        "log_files": old_log_files(log_folder, now, dry_run),
    }
    return CategoryResult("usage", sum(details.values()), details)


def log_folder(app):
    """Where the daily access-log files are."""
    return usage_log.log_folder(app)


def old_log_files(folder, now, dry_run):
    """Access-log files past a year (deleted unless `dry_run`); returns how many."""
    if folder is None:
        return 0
    if dry_run:
        return len(list(usage_log.old_logs(folder, now)))
    return len(usage_log.delete_old_logs(folder, now))


def purge_mail_limits(db, now, dry_run):
    """Per-address send records only matter for a day's limits."""
    cutoff = isoformat(RULES_BY_KEY["mail_limits"].cutoff(now))
    due = delete_where(db, "newsletter_mail_sends", "sent_at < ?", [cutoff], dry_run)
    return CategoryResult("mail_limits", due, {})


def purge_rights_requests(db, now, dry_run):
    """Records of rights requests, after the period in which we may have to prove them."""
    cutoff = isoformat(RULES_BY_KEY["rights_requests"].cutoff(now))
    due = delete_where(db, "rights_requests", "received_at < ?", [cutoff], dry_run)
    return CategoryResult("rights_requests", due, {})


def purge(db, now, dry_run=False, log_folder=None):
    """Apply every rule enforced here; returns one `CategoryResult` per category.

    Safe to run at any time and idempotent: a second run finds nothing due.
    """
    results = [
        purge_subscribers(db, now, dry_run),
        purge_pending_signups(db, now, dry_run),
        purge_prospects(db, now, dry_run),
        purge_usage(db, now, dry_run, log_folder),
        purge_mail_limits(db, now, dry_run),
        purge_rights_requests(db, now, dry_run),
    ]
    if not dry_run and any(result.due for result in results):
        # Copy the zeroed pages into the main file and empty the WAL, so no old page
        # image of a purged row survives in either file.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return results


def statistics(db):
    """The anonymous monthly statistics, for the staff area and the tests."""
    return list(db.query("SELECT * FROM monthly_statistics ORDER BY month, metric, dimension"))
