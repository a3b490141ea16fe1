"""What `GET /healthz` answers: can the site do its job right now?

A handful of cheap checks, each returning the reasons it fails in a few words, with
counts, ages and campaign ids only (the answer is public: no address, no name):
the database answers and takes writes, the campaign worker's loop is alive, no
campaign is left in `sending` without a live sender, and the outbox is not piling up.
Reasons are worded in the current locale: `/healthz` answers in English (monitoring
reads it), `flask doctor` quotes them in STAFF_LANGUAGE.
"""

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask_babel import gettext as _

from ..campaigns import senders, worker_heartbeats
from ..db import Database
from ..mail import outbox

# How long the write probe waits for a writer that holds the lock. Ordinary writes
# last milliseconds; a writer holding the lock longer than this already makes
# requests wait, and a health probe must answer quickly.
WRITE_PROBE_TIMEOUT_SECONDS = 1.0


@dataclass
class Health:
    """The verdict: failing when any reason is given; warnings never fail it."""

    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops the site from working."""
        return not self.reasons

    def as_json(self) -> dict[str, Any]:
        """The body of /healthz."""
        return {
            "status": "ok" if self.ok else "failing",
            "reasons": self.reasons,
            "warnings": self.warnings,
        }


def database_write_problem(path: str, timeout: float = WRITE_PROBE_TIMEOUT_SECONDS) -> str | None:
    """Why the database cannot take a write now, or None.

    First the file as it is now: a file system remounted read-only (as ext4 does after
    an I/O error) or a file or folder this process may no longer write. SQLite alone
    would not tell: it hands a new connection the still-open descriptor of an earlier
    one, opened when the file was writable. Then SQLite itself, on a connection of its
    own with a short busy timeout and without the process's write lock (which waits
    without limit behind a long writer): `BEGIN IMMEDIATE` takes SQLite's write lock,
    an UPDATE matching no row must be allowed to write, and `ROLLBACK` lets the lock
    go at once. Nothing is written: no page, no WAL frame.
    """
    folder = Path(path).parent
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        return _("the database's file system is mounted read-only")
    if not os.access(path, os.W_OK):
        return _("this process may not write the database file")
    if not os.access(folder, os.W_OK):
        return _("this process may not write the database folder")
    try:
        connection = sqlite3.connect(
            f"file:{quote(path)}?mode=rw", uri=True, timeout=timeout, isolation_level=None
        )
    except sqlite3.Error as error:
        return _("database cannot be opened for writing: %(error)s", error=error)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("UPDATE worker_heartbeats SET beat_at = beat_at WHERE 0")
        finally:
            connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return _(
                "database write lock held by another writer for over %(seconds)s s",
                seconds=format(timeout, "g"),
            )
        return _("database is not writable: %(error)s", error=error)
    finally:
        connection.close()
    return None


def disk_space_problem(path: str, minimum_mb: int) -> str | None:
    """Why the database's disk is too full to grow, or None."""
    stats = os.statvfs(Path(path).parent)
    free_mb = stats.f_bavail * stats.f_frsize // (1024 * 1024)
    if free_mb < minimum_mb:
        return _(
            "only %(free)s MB free on the database's disk (minimum %(minimum)s MB)",
            free=free_mb,
            minimum=minimum_mb,
        )
    return None


def worker_problem(db: Database, now: datetime, max_age: timedelta) -> str | None:
    """Why the campaign worker does not look alive, or None."""
    last_beat = worker_heartbeats.latest(db)
    if last_beat is None:
        return _("no campaign worker has ever run")
    age = now - last_beat
    if age > max_age:
        return _("campaign worker heartbeat is %(seconds)s s old", seconds=int(age.total_seconds()))
    return None


def campaign_problems(db: Database, now: datetime) -> list[str]:
    """One reason per campaign left in `sending` with nobody live sending it."""
    reasons = []
    for campaign in senders.abandoned(db, now):
        idle = campaign["idle_for"]
        if idle is None:
            reason = _("campaign %(id)s is sending but no live sender has it", id=campaign["id"])
        else:
            reason = _(
                "campaign %(id)s is sending but no live sender has it for %(seconds)s s",
                id=campaign["id"],
                seconds=int(idle.total_seconds()),
            )
        reasons.append(reason)
    return reasons


def outbox_problems(db: Database, limit: int) -> tuple[list[str], list[str]]:
    """(reasons, warnings) about the outbox: too many waiting mails; parked ones."""
    waiting, parked = outbox.backlog(db)
    reasons = []
    if waiting > limit:
        reasons.append(
            _("%(count)s outbox mails waiting (limit %(limit)s)", count=waiting, limit=limit)
        )
    warnings = []
    if parked:
        warnings.append(_("%(count)s outbox mails parked, see `flask outbox list`", count=parked))
    return reasons, warnings


def check(db: Database, config: dict[str, Any], now: datetime) -> Health:
    """Run every check; a database that does not answer stops the rest."""
    health = Health()
    path = config["DATABASE"]
    try:
        db.execute("SELECT 1 FROM worker_heartbeats LIMIT 1").fetchall()
    except sqlite3.Error as error:
        health.reasons.append(_("database does not answer: %(error)s", error=error))
        return health
    for problem in (
        database_write_problem(path),
        disk_space_problem(path, int(config["HEALTH_MIN_FREE_DISK_MB"])),
    ):
        if problem:
            health.reasons.append(problem)
    if config["HEALTH_REQUIRE_WORKER"]:
        max_age = timedelta(seconds=float(config["WORKER_HEARTBEAT_MAX_AGE_SECONDS"]))
        problem = worker_problem(db, now, max_age)
        if problem:
            health.reasons.append(problem)
    health.reasons += campaign_problems(db, now)
    reasons, warnings = outbox_problems(db, int(config["OUTBOX_BACKLOG_LIMIT"]))
    health.reasons += reasons
    health.warnings += warnings
    return health
