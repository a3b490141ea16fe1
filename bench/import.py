"""How fast `import_subscribers` takes a large CSV in confirmed mode, and at what memory.

Writes N rows (unique addresses over a few hundred domains, plus some repeated rows)
to a temporary CSV, puts ~1% of the addresses on the suppression list of a fresh
migrated database, then times one in-process confirmed import against the target and
checks what it wrote. Prints rows/s, seconds and peak RSS. Exits 0 unless a check on
the database fails: the time is a measurement, not a test.

    .venv/bin/python bench/import.py [--rows 100000]
"""

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from weprode import create_app, db, tokens
from weprode.migrations import apply_pending
from weprode.newsletter import importing

TARGET_S = 5.0
DUPLICATE_SHARE = 0.01
SUPPRESSED_SHARE = 0.01
DOMAINS = 300
FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Eva", "Farid", "Gaëlle", "", ""]


def parse_args(argv):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file [100000]")
    parser.add_argument("--seed", type=int, default=2026, help="random seed [2026]")
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    return args


def write_csv(path, rows, rng):
    """Write the file; returns the unique addresses in it."""
    unique = rows - int(rows * DUPLICATE_SHARE)
    emails = [f"person.{n}@school{n % DOMAINS}.example.org" for n in range(unique)]
    lines = [
        (email.title() if n % 7 == 0 else email, rng.choice(FIRST_NAMES), rng.choice("ef"))
        for n, email in enumerate(emails)
    ]
    lines += [(rng.choice(emails), "", "") for _ in range(rows - unique)]
    rng.shuffle(lines)
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "first_name", "language"])
        writer.writerows(
            (email, name, {"e": "en", "f": "fr"}[lang] if name else "")
            for email, name, lang in lines
        )
    return emails


def suppress(database, emails, now):
    """Put these addresses on the suppression list, as unsubscribes would."""
    stamp = db.isoformat(now)
    rows = [(tokens.address_hash(email), stamp) for email in emails]
    with database.atomic():
        database.conn.executemany(
            "INSERT INTO suppressions (address_hash, created_at, source) "
            "VALUES (?, ?, 'unsubscribe')",
            rows,
        )


def check(database, report, expected_added):
    """Problems with what the import wrote, as text; empty when all is well."""
    problems = []
    counts = {
        table: database.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("subscribers", "consents", "subscriber_events")
    }
    for table, count in counts.items():
        if count != expected_added:
            problems.append(f"{table}: {count} rows, expected {expected_added}")
    if report.added != expected_added or not report.imported:
        problems.append(f"report: added {report.added}, expected {expected_added}")
    return problems


def peak_rss_mb():
    """The process's peak resident memory so far (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    """Build the file and the database, time the import, print the figures."""
    args = parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="weprode-bench-import-") as tmp:
        tmp = Path(tmp)
        app = create_app(
            {"DATABASE": str(tmp / "bench.sqlite3"), "TESTING": True}, instance_path=tmp
        )
        with app.app_context():
            database = db.get_db()
            apply_pending(database)
            emails = write_csv(tmp / "list.csv", args.rows, rng)
            gone = rng.sample(emails, int(len(emails) * SUPPRESSED_SHARE))
            suppress(database, gone, db.utcnow())
            before_mb = peak_rss_mb()
            with open(tmp / "list.csv", encoding="utf-8", newline="") as file:
                began, cpu_began = time.perf_counter(), time.process_time()
                report = importing.import_subscribers(
                    database,
                    file,
                    source="bench",
                    legal_basis="bench data",
                    mode="confirmed",
                    actor="bench",
                    now=db.utcnow(),
                )
                seconds = time.perf_counter() - began
                cpu_seconds = time.process_time() - cpu_began
            problems = check(database, report, len(emails) - len(gone))
    verdict = "OK" if seconds < TARGET_S else "ABOVE"
    print(
        f"rows {report.total_rows}: added {report.added}, merged {report.merged_duplicates}, "
        f"refused {len(report.refused_suppressed)}, errors {len(report.errors)}"
    )
    print(
        f"confirmed import: {seconds:.2f} s ({cpu_seconds:.2f} s CPU), "
        f"{report.total_rows / seconds:,.0f} rows/s"
    )
    print(f"target < {TARGET_S:.0f} s for 100,000 rows: {verdict}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB ({before_mb:.0f} MB before the import)")
    for problem in problems:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
