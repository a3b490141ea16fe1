"""Time the staff Deliverability page and the bounce log at 100,000 and 1,000,000 deliveries.

Fills a temporary database with `--campaigns` sent campaigns sharing N deliveries
(default 1,000,000; `--deliveries`) to N / campaigns subscribers spread over real
provider domains and a long tail of small ones, 2 % of deliveries bounced (hard,
soft, policy, complaint) and 0.3 % unsubscribed. Then times full requests through
the Flask test client, signed in as staff:

- the page's first view (each finished campaign's per-provider delivery counts are
  computed once and stored), then later views (read back);
- one campaign's provider breakdown;
- the page while the newest campaign is still sending (its row counted live without
  the join; the all-campaigns provider table waits for it to finish), and that
  campaign's own provider breakdown (counted live, with the join);
- the bounce log: first page, a deep page (cursor), one class.

Prints the median and worst of `--repeat` runs against the 200 ms target of the staff
lists (bench/admin_list.py). A measurement, not a test: exit 0 whatever the figures.
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
from admin_list import staff_client  # noqa: E402

from weprode.db import isoformat  # noqa: E402
from weprode.deliverability.providers import provider_of  # noqa: E402

TARGET_MS = 200
# Roughly a French list: the big providers, then schools and companies.
DOMAINS = (
    ["gmail.com"] * 30
    + ["orange.fr"] * 12
    + ["wanadoo.fr"] * 3
    + ["hotmail.fr"] * 8
    + ["outlook.fr"] * 3
    + ["yahoo.fr"] * 5
    + ["free.fr"] * 6
    + ["laposte.net"] * 3
    + ["icloud.com"] * 3
    + ["sfr.fr"] * 3
    + ["bbox.fr"] * 1
)
SEVERITIES = ["hard"] * 40 + ["soft"] * 40 + ["policy"] * 15 + ["complaint"] * 5
CODES = {"hard": "5.1.1", "soft": "4.2.2", "policy": "5.7.1", "complaint": None}


def fill(db, deliveries, campaigns):
    """Subscribers, finished campaigns, their deliveries, bounces and unsubscribes."""
    rng = random.Random(13)
    people = deliveries // campaigns
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def domain():
        if rng.random() < 0.8:
            return rng.choice(DOMAINS)
        return f"school{rng.randrange(people // 20 + 1)}.fr"

    db.conn.create_function("provider_of", 1, provider_of, deterministic=True)
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (email, language, status, source, created_at) "
            "VALUES (?, 'fr', 'active', 'bench', ?)",
            ((f"user{i:07d}@{domain()}", isoformat(start)) for i in range(people)),
        )
        for number in range(campaigns):
            sent_at = isoformat(start + timedelta(days=7 * number + 1))
            campaign_id = db.execute(
                "INSERT INTO campaigns (audience, status, created_at, "
                "created_by, updated_at, started_at, finished_at) "
                "VALUES ('all', 'sent', ?, 'bench', ?, ?, ?)",
                [sent_at, sent_at, sent_at, sent_at],
            ).lastrowid
            db.execute(
                "INSERT INTO campaign_versions (campaign_id, language, subject, body_markdown) "
                "VALUES (?, 'en', ?, 'b')",
                [campaign_id, f"Issue {number}"],
            )
            # Each row notes its provider, as `freeze.start` does when it freezes one.
            db.execute(
                "INSERT INTO deliveries (campaign_id, subscriber_id, provider, status, attempts, "
                "sent_at) SELECT ?, id, provider_of(email), "
                "CASE WHEN abs(random()) % 100 = 0 THEN 'failed' ELSE 'sent' END, "
                "1 + (abs(random()) % 25 = 0), ? FROM subscribers",
                [campaign_id, sent_at],
            )
            at = start + timedelta(days=7 * number + 2)
            bounced = rng.sample(range(1, people + 1), k=people // 50)
            events = []
            for index, subscriber_id in enumerate(bounced):
                severity = rng.choice(SEVERITIES)
                moment = isoformat(at + timedelta(seconds=index))
                events.append(
                    (subscriber_id, moment, severity, CODES[severity], campaign_id, "bench")
                )
            db.conn.executemany(
                "INSERT INTO bounce_events (subscriber_id, at, severity, status_code, "
                "mail_kind, campaign_id, source, detail) "
                "VALUES (?, ?, ?, ?, 'campaign', ?, 'smtp', ?)",
                events,
            )
            db.conn.executemany(
                "INSERT INTO subscriber_events (subscriber_id, kind, at, source, campaign_id) "
                "VALUES (?, 'churned', ?, 'one-click', ?)",
                (
                    (subscriber_id, isoformat(at), campaign_id)
                    for subscriber_id in rng.sample(range(1, people + 1), k=people * 3 // 1000)
                ),
            )
    db.execute("ANALYZE")


def timed(client, url):
    """Milliseconds of one GET of `url` (which must answer 200)."""
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed, response


def time_request(client, url, repeat):
    """Median and worst milliseconds of `repeat` GETs of `url`."""
    timings = [timed(client, url)[0] for _ in range(repeat)]
    return statistics.median(timings), max(timings)


def run(deliveries, campaigns, repeat):
    """Fill, sign in, time every case; print one line per case."""
    with _harness.migrated_app("weprode-bench-deliverability-") as (app, db):
        started = time.perf_counter()
        fill(db, deliveries, campaigns)
        print(
            f"\n{deliveries:,} deliveries in {campaigns} campaigns "
            f"({deliveries // campaigns:,} subscribers), filled in "
            f"{time.perf_counter() - started:.1f} s"
        )
        client = staff_client(app, db)
        first, _ = timed(client, "/admin/deliverability")
        print(f"{'page, first view (counts stored)':40} {first:8.1f} ms")
        newest = campaigns
        middle = db.execute(
            "SELECT at, id FROM bounce_events ORDER BY id LIMIT 1 OFFSET ?",
            [db.execute("SELECT count(*) FROM bounce_events").fetchone()[0] // 2],
        ).fetchone()
        cases = [
            ("page, later views", "/admin/deliverability"),
            ("one campaign per provider", f"/admin/deliverability?campaign={newest}"),
            ("bounce log, first page", "/admin/deliverability/bounces"),
            (
                "bounce log, deep page",
                f"/admin/deliverability/bounces?after={middle[0]}|{middle[1]}",
            ),
            ("bounce log, complaints only", "/admin/deliverability/bounces?class=complaint"),
        ]
        results = [(label, *time_request(client, url, repeat)) for label, url in cases]
        db.execute("UPDATE campaigns SET status = 'sending' WHERE id = ?", [newest])
        db.execute("DELETE FROM delivery_totals WHERE campaign_id = ?", [newest])
        db.conn.commit()
        results.append(
            ("page, newest still sending", *time_request(client, "/admin/deliverability", repeat))
        )
        live = f"/admin/deliverability?campaign={newest}"
        results.append(
            ("sending campaign per provider (live)", *time_request(client, live, repeat))
        )
        for label, median, worst in results:
            print(f"{label:40} {median:8.1f} ms (worst {worst:.1f})")
        slowest = max(median for _, median, _ in results)
        verdict = "PASS" if slowest < TARGET_MS else "BELOW"
        print(
            f"slowest median after the first view: {slowest:.1f} ms "
            f"(target < {TARGET_MS} ms): {verdict}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, action="append")
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for deliveries in args.deliveries or [100_000, 1_000_000]:
        run(deliveries, args.campaigns, args.repeat)


if __name__ == "__main__":
    main()
