"""Time the retention purge: 1,000,000 churned subscribers due, then a run with nothing due.

Fills a temporary database with N churned subscribers (default 1,000,000; each with a
history event and a consent proof, as real ones have) whose churn is older than
3 years, plus 100,000 active ones that must survive; times `retention.purge` (which
also folds anonymous statistics and checkpoints the WAL), then times a second run
with nothing due. Prints both against the targets (< 3 s, < 100 ms). Exit 0.
"""

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402

from weprode.db import isoformat  # noqa: E402
from weprode.privacy import retention  # noqa: E402

NOW = datetime(2026, 11, 26, tzinfo=UTC)
TARGET_FULL_S = 3.0
TARGET_EMPTY_MS = 100.0


def fill(db, churned, active):
    """Churned subscribers past retention (with an event and a consent) and active ones."""
    old = isoformat(NOW - timedelta(days=4 * 365))
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (email, first_name, language, status, source, created_at, "
            "confirmed_at, churned_at, churn_source) "
            "VALUES (?, 'Name', 'en', ?, 'bench', ?, ?, ?, ?)",
            (
                (
                    f"user{i:07d}@example.org",
                    "churned" if i < churned else "active",
                    old,
                    old,
                    old if i < churned else None,
                    "one-click" if i < churned else None,
                )
                for i in range(churned + active)
            ),
        )
        db.execute(
            "INSERT INTO subscriber_events (subscriber_id, kind, at, source) "
            "SELECT id, 'churned', churned_at, 'one-click' FROM subscribers "
            "WHERE churned_at IS NOT NULL"
        )
        db.execute(
            "INSERT INTO consents (subscriber_id, method, submitted_at, confirmed_at) "
            "SELECT id, 'double-opt-in', created_at, confirmed_at FROM subscribers"
        )
        db.execute(
            "INSERT INTO monthly_statistics (month, metric, dimension, value) "
            "VALUES ('2000-01', 'bench', '', 0)"
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=100_000)
    args = parser.parse_args(argv)
    with _harness.migrated_app("weprode-bench-purge-") as (app, db):
        started = time.perf_counter()
        fill(db, args.subscribers, args.active)
        print(
            f"filled {args.subscribers:,} churned + {args.active:,} active subscribers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        with app.app_context():
            started = time.perf_counter()
            results = retention.purge(db, NOW)
            full = time.perf_counter() - started
            started = time.perf_counter()
            again = retention.purge(db, NOW)
            empty_ms = (time.perf_counter() - started) * 1000
        purged = {result.key: result.due for result in results}
        left = db.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        print(
            f"purge: {purged['subscribers']:,} subscribers in {full:.2f} s "
            f"(target < {TARGET_FULL_S:.0f} s): {'PASS' if full < TARGET_FULL_S else 'BELOW'}"
        )
        print(
            f"nothing due: {empty_ms:.1f} ms (target < {TARGET_EMPTY_MS:.0f} ms): "
            f"{'PASS' if empty_ms < TARGET_EMPTY_MS else 'BELOW'}"
        )
        print(
            f"left: {left:,} subscribers (expected {args.active:,}); "
            f"second run found {sum(r.due for r in again)} due"
        )


if __name__ == "__main__":
    main()
