"""Durable commits from several threads of one process share WAL flushes, and each
still returns only once a flush that began after its commit has ended."""

import os
import sqlite3
import threading

import pytest

from weprode import db as database
from weprode.group_commit import GroupCommit

THREADS = 4
COMMITS_PER_THREAD = 25


@pytest.fixture
def flush_log(monkeypatch, tmp_path):
    """Every fdatasync of the WAL, as the set of rows committed when it began (read by a
    fresh connection: a commit is visible to new readers once it has returned)."""
    path = tmp_path / "group.sqlite3"
    setup = database.connect(path)
    setup.execute("CREATE TABLE promises (id INTEGER PRIMARY KEY, thread INTEGER)")
    setup.close()
    real_fdatasync = os.fdatasync
    flushes, guard = [], threading.Lock()

    def observed_fdatasync(fd):
        reader = sqlite3.connect(path)
        try:
            committed = {row[0] for row in reader.execute("SELECT id FROM promises")}
        finally:
            reader.close()
        threading.Event().wait(0.005)  # a slow disk: others commit meanwhile
        real_fdatasync(fd)
        with guard:
            flushes.append(committed)

    monkeypatch.setattr(database.os, "fdatasync", observed_fdatasync)
    return path, flushes, guard


def test_each_durable_commit_returns_after_a_flush_that_covers_it_and_flushes_are_shared(
    flush_log,
):
    path, flushes, guard = flush_log
    uncovered, errors = [], []

    def commit_promises(thread):
        connection = database.connect(path)
        try:
            for _ in range(COMMITS_PER_THREAD):
                with database.durable_transaction(connection):
                    row_id = connection.execute(
                        "INSERT INTO promises (thread) VALUES (?)", [thread]
                    ).lastrowid
                with guard:
                    if not any(row_id in committed for committed in flushes):
                        uncovered.append(row_id)
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=commit_promises, args=(n,)) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert uncovered == []  # none returned before a flush begun after its commit ended
    total = THREADS * COMMITS_PER_THREAD
    assert set().union(*flushes) == set(range(1, total + 1))
    assert len(flushes) < total  # commits waiting together shared a flush


def test_a_ticket_already_flushed_by_another_does_not_flush_again():
    group, flushed = GroupCommit(), []
    first, second = group.ticket(), group.ticket()
    group.wait_until_flushed(second, lambda: flushed.append("for both"))
    group.wait_until_flushed(first, lambda: flushed.append("again"))
    assert flushed == ["for both"]
    third = group.ticket()
    group.wait_until_flushed(third, lambda: flushed.append("for the third"))
    assert flushed == ["for both", "for the third"]


def test_a_failed_flush_covers_nobody():
    group = GroupCommit()
    ticket = group.ticket()

    def failing_flush():
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):
        group.wait_until_flushed(ticket, failing_flush)
    retried = []
    group.wait_until_flushed(ticket, lambda: retried.append(ticket))
    assert retried == [ticket]
