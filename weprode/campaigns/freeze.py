"""Freezing a campaign's audience: one ledger row per recipient, then the send starts.

The rows are written a window of FREEZE_IDS subscriber ids per transaction (fewer while
other writers wait), as a bulk job that leaves room for them
(`write_transaction(background=True)`, `bulk_chunk_rows`); nothing claims them until the
transaction that finds no higher id marks the campaign `sending`. At a million
subscribers that takes seconds, longer than staff should wait on the Send button: a
start given a time budget hands what is left to the campaign worker (`hand_over`).
"""

import functools
import time
from datetime import datetime

from flask_babel import gettext as _

from ..db import Database, bulk_chunk_rows, first_row, isoformat, write_transaction
from ..deliverability.providers import provider_of
from . import audiences, ledger, segments

# Subscriber ids looked at per transaction when freezing an audience: one transaction
# for 20,000 recipients held the write lock for 100-400 ms, and every one-click
# unsubscribe meanwhile waited that long.
FREEZE_IDS = 5000


@functools.lru_cache(maxsize=65_536)
def provider_of_domain(domain: str) -> str:
    """`provider_of`, remembered: a million recipients share a few thousand domains."""
    return provider_of(domain)


def provider_of_address(address: str) -> str:
    """The provider of an address, looked up once per domain (the freeze calls this for
    every recipient: one Python call per row, `domain_of` inlined)."""
    return provider_of_domain(address[address.rfind("@") + 1 :].lower())


def start(
    db: Database, campaign_id: int, now: datetime, seconds: float | None = None
) -> int | None:
    """Freeze the audience (the topic's readers in the audience and the segment, one row
    per recipient) and mark the campaign sending; returns the number of recipients.

    With `seconds`, stop once that long has gone by after a window, hand the rest to
    the worker (`hand_over`) and return None: the Send button answers in about that
    time whatever the audience's size.

    Rows already there (a start whose process died or ran out of time, or one running
    in another process) are kept when they still belong to the audience and deleted
    otherwise, window by window (staff may have chosen another audience since):
    deleting them all first would delete another start's rows behind it, and it would
    mark the campaign sending without them. Idempotent: rows are unique per (campaign,
    subscriber), so starting again adds nobody twice. Each row notes the recipient's
    mailbox provider, which paces the send (see `pacing`).
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    frozen_target, after, window, prune = None, 0, FREEZE_IDS, False
    while True:
        with write_transaction(db, background=True):
            campaign = ledger.require(
                db, campaign_id, "draft", "scheduled", "sending", action="send"
            )
            if campaign["status"] == "sending":
                break
            condition, params = audiences.recipients(
                ledger.chosen_audience(campaign),
                campaign["topic_id"],
                segments.get(db, campaign["segment_id"]),
                row_by_row=True,
            )
            # The first window, or staff chose other readers since an earlier start.
            if (condition, params) != frozen_target:
                frozen_target, after = (condition, params), 0
                prune = first_row(
                    db, "SELECT 1 FROM deliveries WHERE campaign_id = ? LIMIT 1", [campaign_id]
                )
            (highest,) = db.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()
            if after >= highest:
                db.execute(
                    "UPDATE campaigns SET status = 'sending', started_at = ?, "
                    "scheduled_at = NULL WHERE id = ?",
                    [isoformat(now), campaign_id],
                )
                break
            freeze_window(db, campaign_id, condition, params, after, after + window, bool(prune))
            after += window
        if deadline is not None and time.monotonic() >= deadline:
            hand_over(db, campaign_id, now)
            return None
        window = bulk_chunk_rows(db, window, FREEZE_IDS)
    return ledger.recipients(db, campaign_id)


def hand_over(db: Database, campaign_id: int, now: datetime) -> None:
    """Leave the rest of the freeze to the campaign worker: the campaign becomes due
    now (`scheduled` at `now`), and the worker's start carries on from the rows there."""
    with write_transaction(db):
        db.execute(
            "UPDATE campaigns SET status = 'scheduled', scheduled_at = ? "
            "WHERE id = ? AND status IN ('draft', 'scheduled')",
            [isoformat(now), campaign_id],
        )


def preparing_message(prepared: int) -> str:
    """What staff read when the Send button handed the freeze over to the worker."""
    return _(
        "Preparing the recipients (%(prepared)s so far): the campaign worker finishes "
        "and starts sending in a few seconds.",
        prepared=prepared,
    )


def freeze_window(
    db: Database,
    campaign_id: int,
    condition: str,
    params: list,
    after: int,
    last: int,
    prune: bool = False,
) -> None:
    """Write the rows of the recipients (`condition` on `subscribers`, from
    `audiences.recipients`) whose id is in (`after`, `last`]; with `prune`, first delete
    the rows there of subscribers outside them.

    NOT INDEXED: the audience's condition would otherwise lead SQLite to its status
    index, and every window would read all active subscribers; by id, each reads its own
    (the rowid range still bounds the scan).
    """
    window = [*params, after, last]
    members = f"FROM subscribers NOT INDEXED WHERE ({condition}) AND id > ? AND id <= ?"
    if prune:
        db.execute(
            "DELETE FROM deliveries WHERE campaign_id = ? AND subscriber_id > ? "
            f"AND subscriber_id <= ? AND subscriber_id NOT IN (SELECT id {members})",
            [campaign_id, after, last, *window],
        )
    db.conn.create_function("provider_of", 1, provider_of_address, deterministic=True)
    db.execute(
        "INSERT OR IGNORE INTO deliveries (campaign_id, subscriber_id, provider) "
        f"SELECT ?, id, provider_of(email) {members}",
        [campaign_id, *window],
    )
