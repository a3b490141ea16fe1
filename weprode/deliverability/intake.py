"""Many reports in a row (an mbox, a Maildir, an IMAP folder), stored in batches.

The messages are read (parsed) by `readers`, in worker processes for a large mailbox;
this process attributes and stores them.

Each report is ingested in its own savepoint, and a batch of them commits (durably)
once: one flush to disk for the batch instead of one per report, which is what lets
a large mailbox go through at thousands of reports a second. A report whose storing
failed is rolled back alone; if the batch's commit itself fails, every report of the
batch is said not stored, so the caller keeps them for the next run. Lines are only
handed out after the commit: what they say is on disk.
"""

import dataclasses
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from flask import current_app

from ..db import Database, durable_transaction, utcnow
from . import effects, ingest, verp
from .readers import Readers
from .reading import Reading, Unreadable

BATCH_SIZE = 500
Key = TypeVar("Key")


def not_stored(error: BaseException) -> ingest.IngestResult:
    """The result of a report that could not be stored (the sender should retry)."""
    return ingest.IngestResult(False, f"NOT STORED, try again: {error}")


def ingest_one(db: Database, raw: bytes, read: Reading | Unreadable) -> ingest.IngestResult:
    """One report, its storage errors turned into a NOT STORED result."""
    if isinstance(read, Unreadable):
        current_app.logger.error("bounces: a report could not be read: %s", read.details)
        return not_stored(read.error)
    try:
        return ingest.store(db, raw, read, utcnow(), check_campaign=False)
    except (sqlite3.Error, OSError) as error:
        return not_stored(error)
    except Exception as error:  # noqa: BLE001 (one unreadable report must not stop a batch)
        current_app.logger.exception("bounces: a report could not be stored")
        return not_stored(error)


def ingest_batch(
    db: Database, messages: list[tuple[bytes, Reading | Unreadable]]
) -> list[ingest.IngestResult]:
    """Ingest several read reports in one durable transaction; one result each."""
    try:
        with durable_transaction(db):
            results = [ingest_one(db, raw, read) for raw, read in messages]
            check_campaigns(db, results)
    except (sqlite3.Error, OSError) as error:
        return [not_stored(error) for _ in messages]
    return results


def check_campaigns(db: Database, results: list[ingest.IngestResult]) -> None:
    """Pause the campaigns the batch's reports push past the bounce or complaint limits.

    Once per campaign per batch rather than once per report: counting a large
    campaign's attempts costs milliseconds. The line of the campaign's last report in
    the batch says it paused the campaign.
    """
    last = {result.campaign_id: index for index, result in enumerate(results)}
    for campaign_id, index in last.items():
        if campaign_id is not None and effects.pause_if_unsafe(db, campaign_id, utcnow()):
            result = results[index]
            results[index] = dataclasses.replace(result, line=f"{result.line}; campaign paused")


def batches(items: Iterable[Key], size: int) -> Iterator[list[Key]]:
    """`items` in lists of at most `size`."""
    batch: list[Key] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_many(
    db: Database,
    messages: Iterable[tuple[Key, bytes]],
    report: Callable[[int, Key, ingest.IngestResult], None],
    batch_size: int = BATCH_SIZE,
    readers: Readers | None = None,
) -> int:
    """Ingest (key, raw) pairs in batches; `report(number, key, result)` for each after
    its batch is committed. Returns how many could not be stored.

    `readers` parses them (in worker processes, see `readers`); without, this process
    reads them one by one.
    """
    readers = readers or Readers(1, verp.bounce_address())
    failed, number = 0, 0
    for batch in batches(readers.read(messages), batch_size):
        results = ingest_batch(db, [(raw, read) for _, raw, read in batch])
        for (key, _, _), result in zip(batch, results, strict=True):
            number += 1
            failed += not result.stored
            report(number, key, result)
    return failed
