"""Online backups of the database, their keys, their expiry, and restoring one.

A backup is taken with SQLite's backup API from a connection of its own: in WAL mode
it reads one consistent snapshot while the site keeps serving and the worker keeps
sending. The copy is checked with `integrity_check` before it gets its final name, so
a file named like a backup is a whole one. The keys it was signed with are written
beside it (mode 0600): a restored database is useless without them, since every link
already sent names its key. Errors are worded in the current locale: the commands run
in STAFF_LANGUAGE.
"""

import json
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_babel import gettext as _

from .. import keys
from ..db import read_only

NAME = re.compile(r"weprode-(\d{8}T\d{6}Z)\.sqlite3")
TIME_FORMAT = "%Y%m%dT%H%M%SZ"
PRIVATE = 0o600


class BackupError(RuntimeError):
    """A backup could not be made, checked or restored; the message says why."""


@dataclass(frozen=True)
class Backup:
    """One backup file and the moment it was taken."""

    path: Path
    taken_at: datetime

    @property
    def keys_path(self) -> Path:
        """The file beside it holding the keys the database was signed with."""
        return keys_path_for(self.path)

    @property
    def size(self) -> int:
        """Bytes on disk."""
        return self.path.stat().st_size


def keys_path_for(path: Path) -> Path:
    """`weprode-<time>.sqlite3` -> `weprode-<time>.keys.json`."""
    return path.with_name(path.name.removesuffix(".sqlite3") + ".keys.json")


def backup_name(now: datetime) -> str:
    """The file name for a backup taken `now` (UTC, sortable)."""
    return f"weprode-{now.astimezone(UTC).strftime(TIME_FORMAT)}.sqlite3"


def parse_backup(path: Path) -> Backup | None:
    """The backup named by `path`, or None for any other file."""
    match = NAME.fullmatch(path.name)
    if not match:
        return None
    taken_at = datetime.strptime(match.group(1), TIME_FORMAT).replace(tzinfo=UTC)
    return Backup(path, taken_at)


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600; a name already taken is an error."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE))


def integrity_problems(path: Path) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong with the database at `path` (empty: ok)."""
    try:
        with read_only(path) as conn:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:
        return [str(error)]
    return [] if rows == ["ok"] else rows


def create(database: str, folder: Path, config: dict, now: datetime) -> Backup:
    """Copy the database into `folder` while it is in use; check it; write its keys."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / backup_name(now)
    partial = target.with_name(target.name + ".partial")
    try:
        create_private(partial)
    except FileExistsError:
        raise BackupError(_("%(path)s exists: another backup is running.", path=partial)) from None
    try:
        with (
            closing(sqlite3.connect(database)) as source,
            closing(sqlite3.connect(partial)) as copy,
        ):
            source.backup(copy)
            # One self-contained file: no -wal beside it to lose when it is copied.
            copy.execute("PRAGMA journal_mode=DELETE")
        problems = integrity_problems(partial)
        if problems:
            raise BackupError(
                _("The copy failed its integrity check: %(problems)s", problems="; ".join(problems))
            )
        write_keys(keys_path_for(target), config)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, now.astimezone(UTC).replace(microsecond=0))


def write_keys(path: Path, config: dict) -> None:
    """The keys a restore needs, readable by the service user only."""
    path.unlink(missing_ok=True)
    create_private(path)
    signing = {
        "SECRET_KEY": as_text(config["SECRET_KEY"]),
        "SECRET_KEY_FALLBACKS": [as_text(key) for key in config["SECRET_KEY_FALLBACKS"]],
    }
    path.write_text(json.dumps(signing, indent=2) + "\n")


def as_text(key: str | bytes) -> str:
    """Keys are written as text (bytes keys as latin-1, which round-trips)."""
    return key.decode("latin-1") if isinstance(key, bytes) else key


def listing(folder: Path) -> list[Backup]:
    """The backups in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = (parse_backup(path) for path in folder.iterdir())
    return sorted((backup for backup in found if backup), key=lambda backup: backup.taken_at)


def expired(folder: Path, keep_days: int, now: datetime) -> list[Backup]:
    """Backups older than `keep_days`."""
    cutoff = now - timedelta(days=keep_days)
    return [backup for backup in listing(folder) if backup.taken_at < cutoff]


def delete_expired(folder: Path, keep_days: int, now: datetime, dry_run: bool) -> list[Backup]:
    """Delete backups (and their keys) older than `keep_days`; return them."""
    due = expired(folder, keep_days, now)
    if not dry_run:
        for backup in due:
            backup.keys_path.unlink(missing_ok=True)
            backup.path.unlink(missing_ok=True)
    return due


def recorded_fingerprint(path: Path) -> str | None:
    """The key fingerprint a backed-up database was signed with, if it recorded one."""
    with read_only(path) as conn:
        try:
            row = conn.execute("SELECT key_fingerprint FROM instance_keys").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def key_problem(path: Path, config: dict) -> str | None:
    """Why this process could not use the backup with its keys, or None."""
    fingerprint = recorded_fingerprint(path)
    configured = [config["SECRET_KEY"], *config["SECRET_KEY_FALLBACKS"]]
    if fingerprint is None or fingerprint in {keys.fingerprint(key) for key in configured}:
        return None
    return _(
        "%(name)s was signed with another SECRET_KEY than this configuration's. Put the "
        "keys from %(keys)s into instance/config.py (SECRET_KEY, SECRET_KEY_FALLBACKS), "
        "then restore again.",
        name=path.name,
        keys=keys_path_for(path).name,
    )


def processes_using(database: str) -> list[int]:
    """Other processes that have the database (or its WAL) open, from /proc."""
    names = {os.path.realpath(database + suffix) for suffix in ("", "-wal")}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue  # gone, or not ours to look at
        if links & names:
            found.append(int(entry.name))
    return sorted(found)


def restore(backup_path: Path, database: str, config: dict, now: datetime) -> Path:
    """Put the backup in the database's place; return where the replaced one was kept.

    Refuses while another process has the database open (the site or the worker would
    keep writing into the replaced file), when the backup is damaged, or when it was
    signed with a key this configuration does not have.
    """
    backup = parse_backup(backup_path)
    if backup is None or not backup_path.is_file():
        raise BackupError(_("%(path)s is not a backup (weprode-<time>.sqlite3).", path=backup_path))
    users = processes_using(database)
    if users:
        raise BackupError(
            _(
                "The database is in use by process(es) %(processes)s. Stop the site and the "
                "worker first: sudo systemctl stop weprode-web weprode-worker "
                "weprode-purge.timer weprode-outbox-retry.timer",
                processes=", ".join(map(str, users)),
            )
        )
    problems = integrity_problems(backup_path)
    if problems:
        raise BackupError(
            _(
                "%(name)s is damaged: %(problems)s",
                name=backup_path.name,
                problems="; ".join(problems),
            )
        )
    problem = key_problem(backup_path, config)
    if problem:
        raise BackupError(problem)
    return replace_database(backup_path, Path(database), now)


def replace_database(backup_path: Path, database: Path, now: datetime) -> Path:
    """Copy the backup beside the database, then swap it in with one rename."""
    incoming = database.with_name(database.name + ".restoring")
    incoming.unlink(missing_ok=True)
    create_private(incoming)
    with (
        read_only(backup_path) as source,
        closing(sqlite3.connect(incoming)) as copy,
    ):
        source.backup(copy)
    kept = database.with_name(f"{database.name}.before-restore-{now.strftime(TIME_FORMAT)}")
    if database.exists():
        # Fold the WAL into the file we keep; nothing else has it open (checked above).
        with closing(sqlite3.connect(database)) as old:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.replace(database, kept)
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    os.replace(incoming, database)
    return kept
