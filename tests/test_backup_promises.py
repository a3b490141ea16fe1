"""What a backup and a restore promise, down to the edges (operations/backups.py).

A file named like a backup is whole and consistent; its keys are beside it; backups
older than the kept days go, not a day earlier; a restore refuses a damaged backup or
a database in use, with a message an operator can act on, and leaves nothing of the
replaced database's WAL or of its own temporary copy behind. These call the module
directly on plain SQLite files (the CLI is covered by test_backups.py).
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from weprode.operations import backups

KEY = "backup-test-key-that-is-long-enough-0123456789"
OLD_KEY = "older-backup-test-key-long-enough-0123456789"
CONFIG = {"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": [OLD_KEY]}
NOW = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC)


def plain_database(path, rows=20):
    """A small SQLite database in WAL mode, as the site's is."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.execute("CREATE INDEX i ON t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(f"value{n:04d}",) for n in range(rows)])
    conn.close()
    return path


def with_broken_index(path):
    """Make the index disagree with its table: the file opens, integrity_check lists rows."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX i ON t (x DESC)' WHERE name = 'i'")
    conn.commit()
    conn.close()
    problems = backups.integrity_problems(path)
    assert len(problems) > 1  # several rows missing from the index
    return problems


def test_a_backup_refuses_a_source_whose_copy_fails_its_integrity_check(tmp_path):
    source = plain_database(tmp_path / "site.sqlite3")
    problems = with_broken_index(source)
    folder = tmp_path / "backups"
    with pytest.raises(backups.BackupError) as refused:
        backups.create(str(source), folder, CONFIG, NOW)
    assert str(refused.value) == "The copy failed its integrity check: " + "; ".join(problems)
    assert list(folder.iterdir()) == []  # nothing named like a backup, no partial, no keys


def test_a_file_that_is_no_database_has_its_problem_named(tmp_path):
    stray = tmp_path / "garbage"
    stray.write_bytes(b"not a database at all" * 300)
    assert backups.integrity_problems(stray) == ["file is not a database"]


def test_a_backup_goes_into_a_folder_whose_parents_do_not_exist_yet(tmp_path):
    folder = tmp_path / "mnt" / "backup-disk" / "weprode"
    made = backups.create(str(plain_database(tmp_path / "site.sqlite3")), folder, CONFIG, NOW)
    assert made.path.parent == folder and backups.integrity_problems(made.path) == []
    # What `create` returns is what `listing` will find again.
    assert made == backups.parse_backup(made.path) == backups.listing(folder)[0]


def test_a_second_backup_while_one_runs_is_refused_and_leaves_the_running_one_alone(tmp_path):
    source = plain_database(tmp_path / "site.sqlite3")
    folder = tmp_path / "backups"
    folder.mkdir()
    running = folder / (backups.backup_name(NOW) + ".partial")
    running.write_bytes(b"being written")
    with pytest.raises(backups.BackupError, match="another backup is running") as refused:
        backups.create(str(source), folder, CONFIG, NOW)
    assert str(refused.value) == f"{running} exists: another backup is running."
    assert running.read_bytes() == b"being written"
    assert sorted(path.name for path in folder.iterdir()) == [running.name]


def test_backups_are_named_in_utc_whatever_the_servers_time_zone(tmp_path):
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "XYZ-2"  # a server two hours ahead of UTC (POSIX rule, no tzdata)
    time.tzset()
    try:
        local = datetime(2026, 11, 30, 5, 0, 0, tzinfo=UTC).astimezone()
        assert local.utcoffset() == timedelta(hours=2)
        assert backups.backup_name(local) == "weprode-20261130T050000Z.sqlite3"
    finally:
        if previous is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = previous
        time.tzset()


def test_the_keys_file_holds_the_key_and_every_fallback_a_restore_needs(tmp_path):
    bytes_key = "clé-ancienne-0123456789-assez-longue".encode("latin-1")
    config = {"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": [bytes_key, OLD_KEY]}
    made = backups.create(str(plain_database(tmp_path / "site.sqlite3")), tmp_path, config, NOW)
    written = json.loads(made.keys_path.read_text())
    assert written == {
        "SECRET_KEY": KEY,
        "SECRET_KEY_FALLBACKS": ["clé-ancienne-0123456789-assez-longue", OLD_KEY],
    }
    # A bytes key comes back byte for byte.
    assert written["SECRET_KEY_FALLBACKS"][0].encode("latin-1") == bytes_key


def test_a_backup_exactly_keep_days_old_is_kept_and_one_second_older_deleted(tmp_path):
    source = str(plain_database(tmp_path / "site.sqlite3"))
    folder = tmp_path / "backups"
    on_the_day = backups.create(source, folder, CONFIG, NOW - timedelta(days=30))
    older = backups.create(source, folder, CONFIG, NOW - timedelta(days=30, seconds=1))
    assert backups.expired(folder, 30, NOW) == [older]
    assert backups.delete_expired(folder, 30, NOW, dry_run=False) == [older]
    assert not older.path.exists() and not older.keys_path.exists()
    assert on_the_day.path.exists() and on_the_day.keys_path.exists()


def test_an_expired_backup_whose_keys_file_is_gone_is_still_deleted(tmp_path):
    source = str(plain_database(tmp_path / "site.sqlite3"))
    old = backups.create(source, tmp_path / "backups", CONFIG, NOW - timedelta(days=40))
    old.keys_path.unlink()  # removed by hand, or never written (disk full)
    assert backups.delete_expired(tmp_path / "backups", 30, NOW, dry_run=False) == [old]
    assert not old.path.exists()


def a_backup_of(tmp_path, **overrides):
    config = {**CONFIG, **overrides}
    source = str(plain_database(tmp_path / "source.sqlite3"))
    return backups.create(source, tmp_path / "backups", config, NOW)


def test_restore_refuses_a_backup_whose_index_is_broken_naming_each_problem(tmp_path):
    made = a_backup_of(tmp_path)
    problems = with_broken_index(made.path)
    database = plain_database(tmp_path / "site.sqlite3", rows=3)
    with pytest.raises(backups.BackupError) as refused:
        backups.restore(made.path, str(database), CONFIG, NOW)
    assert str(refused.value) == f"{made.path.name} is damaged: " + "; ".join(problems)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    conn.close()


def test_restore_refuses_a_backup_that_is_no_database(tmp_path):
    stray = tmp_path / backups.backup_name(NOW)
    stray.write_bytes(b"not a database at all" * 300)
    with pytest.raises(backups.BackupError) as refused:
        backups.restore(stray, str(tmp_path / "site.sqlite3"), CONFIG, NOW)
    assert str(refused.value) == f"{stray.name} is damaged: file is not a database"


def test_a_backup_signed_with_another_key_is_refused_with_the_fix_spelled_out(tmp_path):
    made = a_backup_of(tmp_path)
    with sqlite3.connect(made.path) as conn:  # as `flask migrate` records it
        conn.execute("CREATE TABLE instance_keys (key_fingerprint TEXT)")
        conn.execute("INSERT INTO instance_keys VALUES (?)", [backups.keys.fingerprint(OLD_KEY)])
    conn.close()
    stranger = {"SECRET_KEY": KEY, "SECRET_KEY_FALLBACKS": []}
    problem = backups.key_problem(made.path, stranger)
    assert problem == (
        f"{made.path.name} was signed with another SECRET_KEY than this configuration's. "
        f"Put the keys from {made.keys_path.name} into instance/config.py (SECRET_KEY, "
        "SECRET_KEY_FALLBACKS), then restore again."
    )
    assert backups.key_problem(made.path, CONFIG) is None  # the old key is a fallback here


def holder(database):
    """A process that opened the database (SQLite opens the main file at once) and waits."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
            "print('open', flush=True); time.sleep(60)",
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "open"
    return process


def test_restore_refuses_while_processes_hold_the_database_and_names_them_all(tmp_path):
    made = a_backup_of(tmp_path)
    database = plain_database(tmp_path / "site.sqlite3", rows=3)
    holders = [holder(database), holder(database)]
    try:
        # Neither has read anything yet: no WAL open, only the database file.
        for process in holders:
            links = {os.readlink(fd) for fd in Path(f"/proc/{process.pid}/fd").iterdir()}
            assert str(database) in links and f"{database}-wal" not in links
        with pytest.raises(backups.BackupError) as refused:
            backups.restore(made.path, str(database), CONFIG, NOW)
    finally:
        for process in holders:
            process.kill()
            process.wait()
    pids = ", ".join(str(process.pid) for process in sorted(holders, key=lambda p: p.pid))
    assert str(refused.value) == (
        f"The database is in use by process(es) {pids}. Stop the site and the worker "
        "first: sudo systemctl stop weprode-web weprode-worker weprode-purge.timer "
        "weprode-outbox-retry.timer"
    )


def test_a_restore_leaves_no_stale_wal_and_no_copy_of_an_interrupted_restore(tmp_path):
    """The database file was lost but its -wal and -shm stayed, and an earlier restore
    died mid-copy: the restored database is the backup alone, and the half copy (personal
    data) does not stay on disk."""
    made = a_backup_of(tmp_path)
    database = tmp_path / "site.sqlite3"
    stale = {suffix: Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", ".restoring")}
    for path in stale.values():
        path.write_bytes(b"left over")
    backups.restore(made.path, str(database), CONFIG, NOW)
    assert [path for path in stale.values() if path.exists()] == []
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (20,)
    conn.close()
