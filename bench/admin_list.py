"""Time the staff subscriber list at 1,000,000 subscribers.

Fills a temporary database with N subscribers (default 1,000,000; `--subscribers`),
then times full requests to /admin/subscribers through the Flask test client, signed in
as staff, for the cases staff use: first page, a deep page (cursor), filters, prefix
searches. Prints the median and worst of `--repeat` runs per case against the 200 ms
target. A measurement, not a test: exit 0 whatever the figures.
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

from weprode.db import isoformat  # noqa: E402
from weprode.staff import accounts  # noqa: E402

TARGET_MS = 200
PASSWORD = "Glacier-Lake-Savoie-42"
FIRST_NAMES = ["Alice", "Bruno", "Chloé", "David", "Emma", "Farid", "Gaëlle", "Hugo", "Inès"]


def fill(db, count):
    """Insert `count` subscribers with spread dates, statuses and languages."""
    start = datetime(2023, 1, 1, tzinfo=UTC)
    statuses = ["active"] * 8 + ["pending", "churned"]
    rng = random.Random(7)
    rows = (
        (
            f"user{i:07d}@{rng.choice(['example.org', 'school.fr', 'academy.eu'])}",
            rng.choice(FIRST_NAMES),
            "fr" if i % 3 else "en",
            rng.choice(statuses),
            "bench",
            isoformat(start + timedelta(minutes=i)),
        )
        for i in range(count)
    )
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (email, first_name, language, status, source, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("ANALYZE")


def staff_client(app, db):
    """A test client signed in as a new staff account (also used by other benches)."""
    with app.app_context():
        accounts.create(db, "bench@weprode.com", PASSWORD, datetime.now(UTC))
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/admin/login",
        data={"email": "bench@weprode.com", "password": PASSWORD, "csrf_token": token},
    )
    return client


def time_request(client, url, repeat):
    """Median and worst milliseconds of `repeat` GETs of `url` (all must answer 200)."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return statistics.median(timings), max(timings), response


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    with _harness.migrated_app("weprode-bench-list-") as (app, db):
        started = time.perf_counter()
        fill(db, args.subscribers)
        print(f"filled {args.subscribers:,} subscribers in {time.perf_counter() - started:.1f} s")
        client = staff_client(app, db)
        middle = isoformat(datetime(2023, 1, 1, tzinfo=UTC) + timedelta(minutes=500_000))
        cases = [
            ("first page, newest first", "/admin/subscribers"),
            ("deep page (cursor mid-table)", f"/admin/subscribers?after={middle}|500000"),
            ("oldest first", "/admin/subscribers?sort=oldest"),
            ("status = churned", "/admin/subscribers?status=churned"),
            ("language = en, pending", "/admin/subscribers?language=en&status=pending"),
            ("e-mail prefix 'user09'", "/admin/subscribers?q=user09"),
            ("e-mail prefix, one match", "/admin/subscribers?q=user0123456"),
            ("first-name prefix 'gaë'", "/admin/subscribers?q=ga%C3%AB"),
            ("name prefix + churned", "/admin/subscribers?q=hugo&status=churned"),
        ]
        print(f"{'case':34} {'median':>9} {'worst':>9}  target < {TARGET_MS} ms")
        worst_of_all = 0.0
        for label, url in cases:
            median, worst, _ = time_request(client, url, args.repeat)
            worst_of_all = max(worst_of_all, median)
            print(f"{label:34} {median:7.1f} ms {worst:7.1f} ms")
        verdict = "PASS" if worst_of_all < TARGET_MS else "BELOW"
        print(f"slowest median: {worst_of_all:.1f} ms (target < {TARGET_MS} ms): {verdict}")


if __name__ == "__main__":
    main()
