"""Time a campaign's audience at 1,000,000 subscribers over 3 topics: the live count and
the freeze.

Fills a temporary database with N subscribers (default 1,000,000; mixed languages,
signup sources, an import batch, signup dates over two years, 5 % churned) spread over
3 topics (the main one for nearly everyone, "events" for ~40 %, "watch" for ~25 %),
and one saved segment (French speakers who signed up through the form in the first half
of 2026). Then prints, each the median of `--repeat` runs:

- a baseline from the same run: a full scan counting the active subscribers (the
  machine is shared, so the figures are also given as multiples of it);
- the live count (`audiences.counts`, what `/admin/audience-count` answers) for a topic
  plus the segment, against 200 ms; and for a topic alone, and the main topic alone;
- the freeze (`freeze.start`) of a campaign to a topic plus the segment, and of one to
  the whole main topic, against 3 s.
Exit 0.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402

from weprode.campaigns import audiences, compose, freeze, segments  # noqa: E402
from weprode.db import isoformat  # noqa: E402

NOW = datetime(2026, 11, 30, tzinfo=UTC)
START = datetime(2024, 11, 30, tzinfo=UTC)
TARGET_COUNT_MS = 200.0
TARGET_FREEZE_S = 3.0
SOURCES = ("form", "form", "form", "staff: fairs", "import: crm")
DOMAINS = ("gmail.com", "orange.fr", "ac-paris.fr", "example.org", "outlook.com")


def subscriber_rows(count, seed=14):
    """(email, language, status, source, created_at, confirmed_at, churned_at, import_id)."""
    rng = random.Random(seed)
    span = (NOW - START).total_seconds()
    for i in range(count):
        created = START + timedelta(seconds=rng.random() * span)
        churned = rng.random() < 0.05
        source = rng.choice(SOURCES)
        yield (
            f"reader{i:07d}@{rng.choice(DOMAINS)}",
            "fr" if rng.random() < 0.6 else "en",
            "churned" if churned else "active",
            source,
            isoformat(created),
            isoformat(created + timedelta(minutes=10)),
            isoformat(created + timedelta(days=30)) if churned else None,
            1 if source == "import: crm" else None,
        )


def fill(db, count):
    """Subscribers, their topics (subscriptions), one finished import and three topics."""
    with db.atomic():
        db.execute(
            "INSERT INTO imports (id, actor, mode, source, legal_basis, file_sha256, status, "
            "started_at, total_rows, merged_duplicates, entries) VALUES (1, 'bench', "
            "'confirmed', 'crm', 'consent', 'x', 'done', ?, 0, 0, 0)",
            [isoformat(START)],
        )
        db.conn.executemany(
            "INSERT INTO subscribers (email, language, status, source, created_at, "
            "confirmed_at, churned_at, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            subscriber_rows(count),
        )
        for slug, position in (("events", 1), ("watch", 2)):
            db.execute(
                "INSERT INTO topics (slug, name_en, name_fr, position, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [slug, slug.title(), slug.title(), position, isoformat(START)],
            )
        # The main topic for 95 %, events for 40 %, watch for 25 % (by id, spread evenly).
        for slug, share in (("newsletter", 95), ("events", 40), ("watch", 25)):
            db.execute(
                "INSERT INTO subscriptions (subscriber_id, topic_id, status, subscribed_at, "
                "churned_at) SELECT s.id, t.id, CASE s.status WHEN 'churned' THEN 'churned' "
                "ELSE 'active' END, s.confirmed_at, s.churned_at FROM subscribers s, topics t "
                "WHERE t.slug = ? AND (s.id * 7919) % 100 < ?",
                [slug, share],
            )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")


def median_ms(function, repeat):
    """The median of `repeat` timed calls, in milliseconds, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def campaign(db, topic_id, segment_id):
    """A draft to the audience "all" of `topic_id`, narrowed by `segment_id`."""
    return compose.create(
        db,
        versions={"en": compose.Version("Bench", "", "Hello")},
        audience="all",
        author="bench",
        now=NOW,
        topic_id=topic_id,
        segment_id=segment_id,
    )


def timed_freeze(db, topic_id, segment_id):
    """Seconds to freeze a new campaign's audience, and its recipients."""
    campaign_id = campaign(db, topic_id, segment_id)
    started = time.perf_counter()
    recipients = freeze.start(db, campaign_id, NOW)
    return time.perf_counter() - started, recipients


def verdict(ok):
    return "OK" if ok else "OVER TARGET"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with _harness.migrated_app("weprode-bench-audiences-") as (app, db):
        started = time.perf_counter()
        fill(db, args.subscribers)
        print(f"filled {args.subscribers:,} subscribers in {time.perf_counter() - started:.1f} s")
        topic = {row["slug"]: row["id"] for row in db.query("SELECT id, slug FROM topics")}
        with app.app_context():
            segment_id = segments.create(
                db,
                {
                    "name": "French form signups, first half of 2026",
                    "language": "fr",
                    "source": "form",
                    "signed_up_from": "2026-01-01",
                    "signed_up_until": "2026-06-30",
                },
                NOW,
            )
            baseline, total = median_ms(
                lambda: db.execute(
                    "SELECT count(*) FROM subscribers NOT INDEXED WHERE status = 'active'"
                ).fetchone()[0],
                args.repeat,
            )
            print(f"baseline: full scan counting {total:,} active subscribers: {baseline:.1f} ms")
            for label, topic_id, seg in (
                ("events + segment", topic["events"], segment_id),
                ("watch + segment", topic["watch"], segment_id),
                ("events alone", topic["events"], None),
                ("main topic alone", topic["newsletter"], None),
            ):
                ms, counts = median_ms(
                    lambda t=topic_id, s=seg: audiences.counts(db, "all", ("en", "fr"), t, s),
                    args.repeat,
                )
                target = f", {verdict(ms < TARGET_COUNT_MS)} (< {TARGET_COUNT_MS:.0f} ms)"
                print(
                    f"live count, {label}: {counts['all']['total']:,} readers in {ms:.1f} ms "
                    f"= {ms / baseline:.1f}x baseline{target if seg else ''}"
                )
            for label, topic_id, seg in (
                ("events + segment", topic["events"], segment_id),
                ("whole main topic", topic["newsletter"], None),
            ):
                seconds, recipients = timed_freeze(db, topic_id, seg)
                print(
                    f"freeze, {label}: {recipients:,} recipients in {seconds:.2f} s "
                    f"= {seconds * 1000 / baseline:.0f}x baseline, "
                    f"{verdict(seconds < TARGET_FREEZE_S)} (< {TARGET_FREEZE_S:.0f} s)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
