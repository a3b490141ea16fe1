"""The retention policy: one table in code, rendered on /privacy and enforced by `purge`.

Each rule says what data, when its clock starts, how long it is kept, and what
happens then. `purge` deletes what is due, one transaction per category, after
folding what statistics need into anonymous monthly counts. Connections run with
`secure_delete` and the purge ends with a WAL checkpoint, so a purged address is
gone from the database files, not only from queries.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l

from .. import usage_log
from ..db import Database, checkpoint, durable_transaction, isoformat
from . import subscriber_purge


def years_before(moment: datetime, years: int) -> datetime:
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
    # (db, cutoff, now, dry_run, log_folder) -> (how many were due, details by table);
    # None for data this website does not hold (the privacy page still lists it).
    purge: Callable | None = None
    enforced_here: bool = True

    def cutoff(self, now: datetime) -> datetime:
        """Records whose clock started before this moment are due."""
        return years_before(now, self.years) - timedelta(days=self.days)


@dataclass
class CategoryResult:
    """What a purge found (and did) for one rule."""

    key: str
    due: int
    details: dict


def purge_subscribers(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Churned more than 3 years ago: see `subscriber_purge.purge_subscribers`."""
    requests_before = RULES_BY_KEY["pending_signups"].cutoff(now)
    due, deliveries = subscriber_purge.purge_subscribers(
        db, cutoff, dry_run, requests_before=requests_before
    )
    return due, {"deliveries": deliveries}


def delete_where(
    db: Database,
    table: str,
    condition: str,
    params: Sequence,
    dry_run: bool,
    statistics: tuple[str, str] | None = None,
) -> int:
    """Count (and unless dry-run delete) the rows of `table` matching `condition`."""
    with durable_transaction(db):
        due = db.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params).fetchone()[0]
        if due and not dry_run:
            if statistics:
                metric, sql = statistics
                rows = db.execute(sql, params).fetchall()
                subscriber_purge.add_statistics(db, metric, rows)
            db.execute(f"DELETE FROM {table} WHERE {condition}", params)
    return due


def purge_pending_signups(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Signups nobody confirmed within 30 days never became consent: delete them."""
    due = delete_where(
        db,
        "subscribers",
        "status = 'pending' AND coalesce(requested_at, created_at) < ?",
        [isoformat(cutoff)],
        dry_run,
        statistics=(
            "unconfirmed_signups",
            "SELECT substr(created_at, 1, 7), '', count(*) "
            "FROM subscribers WHERE status = 'pending' "
            "AND coalesce(requested_at, created_at) < ? GROUP BY 1",
        ),
    )
    return due, {}


def purge_prospects(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """No interaction for 3 years: the prospect and its requests, notes and mails go."""
    return delete_where(
        db, "prospects", "last_interaction_at < ?", [isoformat(cutoff)], dry_run
    ), {}


def purge_usage(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Staff logins, sessions, failed attempts, audit entries and access logs: 1 year."""
    params = [isoformat(cutoff)]
    details = {
        "audit_log": delete_where(db, "audit_log", "at < ?", params, dry_run),
        "login_failures": delete_where(db, "login_failures", "at < ?", params, dry_run),
        "staff_sessions": delete_where(db, "staff_sessions", "last_seen_at < ?", params, dry_run),
        "log_files": old_log_files(log_folder, now, dry_run),
    }
    return sum(details.values()), details


def log_folder(app: Flask) -> Path:
    """Where the daily access-log files are."""
    return usage_log.log_folder(app)


def old_log_files(folder: str | os.PathLike[str] | None, now: datetime, dry_run: bool) -> int:
    """Access-log files past a year (deleted unless `dry_run`); returns how many."""
    if folder is None:
        return 0
    if dry_run:
        return len(list(usage_log.old_logs(folder, now)))
    return len(usage_log.delete_old_logs(folder, now))


def purge_mail_limits(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Per-address send records only matter for a day's limits."""
    params = [isoformat(cutoff)]
    return delete_where(db, "newsletter_mail_sends", "sent_at < ?", params, dry_run), {}


def purge_rights_requests(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Records of rights requests, after the period in which we may have to prove them."""
    params = [isoformat(cutoff)]
    return delete_where(db, "rights_requests", "received_at < ?", params, dry_run), {}


def purge_bounce_reports(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Raw bounce and complaint messages quote addresses and mail: 30 days is enough.

    The events drawn from them stay with the subscriber (and go with them).
    """
    params = [isoformat(cutoff)]
    return delete_where(db, "bounce_reports", "received_at < ?", params, dry_run), {}


def purge_provider_throttles(
    db: Database,
    cutoff: datetime,
    now: datetime,
    dry_run: bool,
    log_folder: str | os.PathLike[str] | None,
) -> tuple[int, dict[str, int]]:
    """Forget the providers that have not throttled us for 30 days.

    `provider_throttles` (see campaigns.pacing) holds no personal data: one row per
    mailbox provider (Gmail, Orange...) or per domain whose mail servers told our
    sender to slow down, with their reply stripped of any address. Hence it is not on
    the privacy page. A row only paces sending: 30 days after its last throttle, the
    provider is long past its backoff, and a new throttle starts from the base delay.
    """
    params = [isoformat(cutoff)]
    condition = "throttled_until IS NULL OR throttled_until < ?"
    return delete_where(db, "provider_throttles", condition, params, dry_run), {}


RULES = (
    Rule(
        "prospects",
        _l("Commercial and prospecting data (contact and meeting requests)"),
        _l("our last interaction with you"),
        _l("3 years"),
        _l("deleted"),
        years=3,
        purge=purge_prospects,
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
        _l("the date you leave your last topic"),
        _l("3 years"),
        _l(
            "deleted; counts kept as anonymous statistics, and a keyed fingerprint of the "
            "address so that it is never mailed again"
        ),
        years=3,
        purge=purge_subscribers,
    ),
    Rule(
        "pending_signups",
        _l("Newsletter signups never confirmed"),
        _l("the signup"),
        _l("30 days"),
        _l("deleted"),
        days=30,
        purge=purge_pending_signups,
    ),
    Rule(
        "bounce_reports",
        _l("Delivery failure and spam complaint reports about e-mails we sent you"),
        _l("the report's arrival"),
        _l("30 days"),
        _l("deleted; what they said (bounce or complaint, its code) stays in your history"),
        days=30,
        purge=purge_bounce_reports,
    ),
    Rule(
        "usage",
        _l("Website login and usage data (access logs, staff logins and actions)"),
        _l("the visit or action"),
        _l("1 year"),
        _l("deleted"),
        years=1,
        purge=purge_usage,
    ),
    Rule(
        "mail_limits",
        _l("Records that limit how often we mail one address"),
        _l("the e-mail sent"),
        _l("2 days"),
        _l("deleted"),
        days=2,
        purge=purge_mail_limits,
    ),
    Rule(
        "backups",
        _l("Backup copies of this website’s database"),
        _l("the day the copy is made"),
        _l("%(days)s days"),
        _l(
            "deleted; until then a copy may still hold data deleted from the website "
            "since it was made"
        ),
        # Enforced by `flask backup create`, which deletes copies older than
        # BACKUP_KEEP_DAYS each time it makes one; the page shows that setting.
        enforced_here=False,
    ),
    Rule(
        "suppressions",
        _l(
            "Keyed fingerprint of an address that unsubscribed, objected to marketing or "
            "was erased (the address cannot be read back from it)"
        ),
        _l("the unsubscription, objection or erasure"),
        _l("as long as we send e-mails, so that the address is never written to again"),
        _l("deleted"),
        # Kept on purpose: forgetting it would let an import or a form mail the address
        # again. Nothing here deletes it.
        enforced_here=False,
    ),
    Rule(
        "rights_requests",
        _l("Records of requests to exercise your rights"),
        _l("the request"),
        _l("5 years, to prove we answered"),
        _l("deleted"),
        years=5,
        purge=purge_rights_requests,
    ),
)
RULES_BY_KEY = {rule.key: rule for rule in RULES}
# Purged like the rules above but holding no personal data: not on the privacy page
# (whose table is RULES) nor in an Article 15 export. `retention purge` prints their
# name (translated); the other texts are for staff reading the code, never rendered.
HOUSEKEEPING = (
    Rule(
        "provider_throttles",
        _l("How often each mailbox provider told our sender to slow down"),
        "the provider's last throttle",
        "30 days",
        "deleted",
        days=30,
        purge=purge_provider_throttles,
    ),
)


def purge(
    db: Database,
    now: datetime,
    dry_run: bool = False,
    log_folder: str | os.PathLike[str] | None = None,
) -> list[CategoryResult]:
    """Apply every rule enforced here; returns one `CategoryResult` per category.

    Safe to run at any time and idempotent: a second run finds nothing due. Subscribers
    go first: their mass purge is the one that rebuilds tables.
    """
    rules = sorted(
        (rule for rule in (*RULES, *HOUSEKEEPING) if rule.enforced_here),
        key=lambda rule: rule.key != "subscribers",
    )
    results = []
    for rule in rules:
        due, details = rule.purge(db, rule.cutoff(now), now, dry_run, log_folder)
        results.append(CategoryResult(rule.key, due, details))
    if not dry_run:
        # Copy the zeroed pages into the main file and empty the WAL, so no old page
        # image of a purged (or erased) row survives in either file; also when nothing
        # was due, to finish a checkpoint an erasure could not complete.
        checkpoint(db)
    return results


def statistics(db: Database) -> list[dict]:
    """The anonymous monthly statistics, for the staff area and the tests."""
    return list(db.query("SELECT * FROM monthly_statistics ORDER BY month, metric, dimension"))
