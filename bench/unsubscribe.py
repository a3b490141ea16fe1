"""How much of a bare Flask response's speed RFC 8058 one-click unsubscribes keep.

Fills a temporary database with active subscribers and signs one unsubscribe token
for each, serves the production app with two sync workers, loads the hello route and
then one-click POSTs (each to a subscriber not yet churned), and prints req/s,
latency percentiles, the unsubscribe/hello ratio and p99 against their targets, then
checks in the database that every POST left a complete churn record behind.
Exits non-zero only when the server failed, a request failed or answered non-2xx, or
a database check failed: the ratio and p99 are measurements, not tests.

    .venv/bin/python bench/unsubscribe.py [--duration 10] [--connections 50]
"""

import argparse
import dataclasses
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import _harness
from benchapp import HELLO_PATH
from pages import format_ms, prepare_instance, print_row

from weprode import create_app, db, tokens

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "paths.lua"
UNSUBSCRIBE_LABEL = "/unsubscribe/<token>"
CAMPAIGN_ID = 42
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
TARGET_PERCENT = 50
TARGET_P99_MS = 50
WARMUP_S = 1
INSERT_SUBSCRIBER = (
    "INSERT INTO subscribers (email, first_name, language, status, source, created_at, "
    "confirmed_at) VALUES (?, ?, 'en', 'active', 'bench', ?, ?)"
)


def parse_args(argv):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target [10]")
    parser.add_argument("--connections", type=int, default=50, help="open connections [50]")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument(
        "--subscribers", type=int, default=200_000, help="active subscribers [200000]"
    )
    parser.add_argument(
        "--server-threads",
        type=int,
        default=1,
        help="threads per gunicorn worker; above 1, gthread workers [1: sync workers]",
    )
    parser.add_argument(
        "--compare-server-threads",
        type=int,
        default=0,
        help="then serve the same database with gthread workers of N threads and measure "
        "again, half the tokens each: both ratios from one run [0: no]",
    )
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk when installed, else Python [auto]",
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads) < 1:
        parser.error("--duration, --connections and --threads must be at least 1")
    if args.subscribers < args.connections:
        parser.error("--subscribers must be at least --connections (one token each)")
    if args.tool == "auto":
        args.tool = "wrk" if _harness.have_wrk() else "python"
    elif args.tool == "wrk" and not _harness.have_wrk():
        parser.error("wrk is not installed")
    # run_wrk never starts more threads than connections; the Lua script must agree.
    args.threads = min(args.threads, args.connections)
    return args


def populate(database, count):
    """Insert `count` active subscribers in one transaction; return their ids in order."""
    stamp = db.isoformat(db.utcnow())
    rows = ((f"bench{n}@example.org", f"Bench {n}", stamp, stamp) for n in range(count))
    connection = db.connect(database)
    try:
        with connection.conn:
            connection.conn.executemany(INSERT_SUBSCRIBER, rows)
        return [row[0] for row in connection.execute("SELECT id FROM subscribers ORDER BY id")]
    finally:
        connection.close()


def unsubscribe_paths(instance_path, database, subscriber_ids):
    """One `/unsubscribe/<token>` path per subscriber, signed with the server's key.

    The app is built on the server's instance folder, so it reads the key from the same
    `config.py` the gunicorn workers load.
    """
    app = create_app(instance_path=instance_path, test_config={"DATABASE": database})
    with app.app_context():
        return [
            f"/unsubscribe/{tokens.make_unsubscribe_token(subscriber_id, CAMPAIGN_ID)}"
            for subscriber_id in subscriber_ids
        ]


def write_lines(path, lines):
    """Write one line per item; return the path."""
    Path(path).write_text("".join(line + "\n" for line in lines))
    return path


def prepare(instance_path, args):
    """Database, subscribers and token files.

    Returns (server env, database path, run paths, warm-up path, {"run"/"warmup": file}).
    """
    env = prepare_instance(instance_path)
    database = env["FLASK_DATABASE"]
    began = time.perf_counter()
    # One more subscriber than asked for: the warm-up posts only to that one.
    subscriber_ids = populate(database, args.subscribers + 1)
    filled = time.perf_counter()
    paths = unsubscribe_paths(instance_path, database, subscriber_ids)
    signed = time.perf_counter()
    print(
        f"{len(subscriber_ids):,} active subscribers inserted in {filled - began:.1f} s, "
        f"{len(paths):,} tokens signed in {signed - filled:.1f} s"
    )
    warmup_path, paths = paths[-1], paths[:-1]
    files = {
        "run": write_lines(Path(instance_path) / "unsubscribe_paths.txt", paths),
        # Each wrk thread needs a line of its own.
        "warmup": write_lines(
            Path(instance_path) / "warmup_paths.txt", [warmup_path] * args.threads
        ),
    }
    return env, database, paths, warmup_path, files


def load_hello(url, args, duration):
    """One load run of GETs on the hello route."""
    if args.tool == "wrk":
        return _harness.run_wrk(
            url, duration=duration, connections=args.connections, threads=args.threads
        )
    return _harness.run_python(url, duration=duration, connections=args.connections)


def load_unsubscribe(base_url, args, duration, paths_file, paths):
    """One load run of one-click POSTs, each connection on its own tokens.

    The result's `paths_sent` and `distinct_paths` say how many POSTs were sent and to
    how many different subscribers (fewer when the tokens ran out and wrapped around).
    """
    if args.tool == "python":
        return _harness.run_python(
            base_url,
            duration=duration,
            connections=args.connections,
            method="POST",
            body=ONE_CLICK_BODY,
            headers=FORM_HEADERS,
            paths=paths,
        )
    result = _harness.run_wrk(
        base_url + "/",
        duration=duration,
        connections=args.connections,
        threads=args.threads,
        script=LUA_SCRIPT,
        script_args=(str(paths_file), str(args.threads), "one-click"),
    )
    counts = re.search(r"^paths sent: (\d+), distinct: (\d+)$", result.output, re.M)
    if counts is None:
        raise RuntimeError(f"{LUA_SCRIPT.name} printed no path counts:\n{result.output}")
    return dataclasses.replace(result, paths_sent=int(counts[1]), distinct_paths=int(counts[2]))


def measure(server, args, paths, warmup_path, files):
    """Check, warm up and load hello then unsubscribe; return (hello, unsubscribe, failed)."""
    print(
        f"{args.tool}, gunicorn {server.workers} "
        + ("sync workers" if server.threads == 1 else f"gthread workers x {server.threads} threads")
        + f", {args.connections} connections"
        + (f", {args.threads} threads" if args.tool == "wrk" else "")
        + f", {args.duration} s per target after {WARMUP_S} s warm-up"
    )
    print(f"{'path':<20} {'req/s':>10} {'p50':>11} {'p99':>11} {'non-2xx':>8} {'errors':>7}")
    failed = False
    hello_url = server.base_url + HELLO_PATH
    # wrk counts 3xx as successes, so one plain request checks the real status.
    status = _harness.get_status(hello_url)
    if not 200 <= status < 300:
        print(f"{HELLO_PATH:<20} answered {status} before the run")
        failed = True
    load_hello(hello_url, args, WARMUP_S)
    hello = load_hello(hello_url, args, args.duration)
    print_row(HELLO_PATH, hello)

    # A 400 here would mean the tokens were signed with another key than the server's.
    status = _harness.request_status(
        server.base_url + warmup_path, method="POST", body=ONE_CLICK_BODY, headers=FORM_HEADERS
    )
    if status != 200:
        print(f"{UNSUBSCRIBE_LABEL:<20} answered {status} before the run")
        failed = True
    load_unsubscribe(
        server.base_url, args, WARMUP_S, files["warmup"], [warmup_path] * args.connections
    )
    unsubscribe = load_unsubscribe(server.base_url, args, args.duration, files["run"], paths)
    print_row(UNSUBSCRIBE_LABEL, unsubscribe)
    failed = failed or hello.failures > 0 or unsubscribe.failures > 0
    return hello, unsubscribe, failed


def print_targets(hello, unsubscribe):
    """The ratio, p99 and error count against their targets."""
    if hello.requests_per_second:
        percent = 100 * unsubscribe.requests_per_second / hello.requests_per_second
        verdict = "PASS" if percent >= TARGET_PERCENT else "BELOW"
        print(f"unsubscribe / hello: {percent:.1f} % (target >= {TARGET_PERCENT} %): {verdict}")
    else:
        print("unsubscribe / hello: n/a (the hello route served nothing)")
    p99 = unsubscribe.p99_ms
    verdict = "PASS" if p99 is not None and p99 < TARGET_P99_MS else "BELOW"
    print(f"unsubscribe p99: {format_ms(p99)} (target < {TARGET_P99_MS} ms): {verdict}")
    errors = hello.failures + unsubscribe.failures
    print(f"non-2xx + socket errors: {errors} (target 0): {'PASS' if errors == 0 else 'FAIL'}")


def count(database, sql, params=()):
    """The single number a COUNT query returns."""
    connection = db.connect(database)
    try:
        return connection.execute(sql, params).fetchone()[0]
    finally:
        connection.close()


def check_database(database, subscriber_count, unsubscribe, connections):
    """Print the checks on what the POSTs left in the database; return True if all hold.

    Every 2xx POST churned its subscriber, so without wrap-around the churned count is
    at least the successful POSTs; it is at most the distinct tokens wrk generated (a
    few were still in flight, or never sent, when the run stopped). The warm-up
    subscriber is churned too and counted apart.
    """
    churned = count(database, "SELECT count(*) FROM subscribers WHERE status = 'churned'")
    complete = count(
        database,
        "SELECT count(*) FROM subscribers WHERE status = 'churned' AND churned_at IS NOT NULL "
        "AND churn_source = 'one-click' AND churn_campaign_id = ?",
        [CAMPAIGN_ID],
    )
    active = count(database, "SELECT count(*) FROM subscribers WHERE status = 'active'")
    suppressions = count(database, "SELECT count(*) FROM suppressions")
    events = count(
        database,
        "SELECT count(*) FROM subscriber_events WHERE kind = 'churned' "
        "AND source = 'one-click' AND campaign_id = ?",
        [CAMPAIGN_ID],
    )
    successful = unsubscribe.requests - unsubscribe.non_2xx
    distinct, sent = unsubscribe.distinct_paths or 0, unsubscribe.paths_sent or 0
    wrapped = sent > distinct
    # After a wrap-around only the POSTs still in flight at the end may not have landed.
    lowest = max(0, distinct - connections - 1) if wrapped else successful
    churned_by_run = churned - 1
    checks = [
        (
            f"churned by the run: {churned_by_run:,} (+1 warm-up); successful POSTs "
            f"{successful:,}, distinct tokens sent {distinct:,} of {sent:,} POSTs"
            + (", wrapped around" if wrapped else "")
            + f" (expect {lowest:,} to {distinct:,})",
            lowest <= churned_by_run <= distinct,
        ),
        (
            f"churned rows with churned_at, churn_source 'one-click', campaign {CAMPAIGN_ID}: "
            f"{complete:,} of {churned:,}",
            complete == churned,
        ),
        (f"suppressions: {suppressions:,} for {churned:,} churned", suppressions == churned),
        (f"'churned' events: {events:,} for {churned:,} churned", events == churned),
        (
            f"active + churned: {active + churned:,} of {subscriber_count + 1:,} subscribers",
            active + churned == subscriber_count + 1,
        ),
    ]
    print("database after the run:")
    for label, ok in checks:
        print(f"  {label}: {'OK' if ok else 'FAILED'}")
    return all(ok for _label, ok in checks)


def print_server_errors(log_text):
    """How often each exception the workers logged occurred, most frequent first."""
    found = re.findall(r"^(\w[\w.]*(?:Error|Exception): .*)$", log_text, re.M)
    for message, times in Counter(found).most_common():
        print(f"server error {times} x: {message}", file=sys.stderr)


def serve_and_measure(env, threads, args, paths, warmup_path, files):
    """Start gunicorn with `threads` per worker and measure; (hello, unsubscribe, failed),
    or None when the server did not start."""
    server = _harness.bench_app_server(env, threads)
    with server:
        if not _harness.start_or_report(server, HELLO_PATH):
            return None
        hello, unsubscribe, failed = measure(server, args, paths, warmup_path, files)
        if failed:
            print(f"gunicorn log:\n{server.log_tail()}", file=sys.stderr)
            print_server_errors(server.log_tail(lines=sys.maxsize))
    return hello, unsubscribe, failed


def print_comparison(thread_counts, runs):
    """Each server's unsubscribe/hello ratio, and the second's against the first."""
    ratios = [
        u.requests_per_second / h.requests_per_second if h.requests_per_second else 0.0
        for h, u in runs
    ]
    names = [f"{n} thread{'s' if n > 1 else ''}" for n in thread_counts]
    print(
        f"same run: {names[0]} {100 * ratios[0]:.1f} %, {names[1]} {100 * ratios[1]:.1f} % "
        f"of their own hello-world; {names[1]} / {names[0]}: "
        + (f"{ratios[1] / ratios[0]:.2f}x" if ratios[0] else "n/a")
    )


def combined(results):
    """The unsubscribe runs as one result, for the database checks."""
    first, *others = results
    for other in others:
        first = dataclasses.replace(
            first,
            requests=first.requests + other.requests,
            non_2xx=first.non_2xx + other.non_2xx,
            paths_sent=(first.paths_sent or 0) + (other.paths_sent or 0),
            distinct_paths=(first.distinct_paths or 0) + (other.distinct_paths or 0),
        )
    return first


def main(argv=None):
    """Run the bench; 0 unless the server failed, a request failed or a check failed."""
    # Rows appear as they are measured, and in order with stderr, even when piped.
    sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weprode-bench-") as instance_path:
        env, database, paths, warmup_path, files = prepare(instance_path, args)
        thread_counts = [args.server_threads]
        if args.compare_server_threads:
            thread_counts.append(args.compare_server_threads)
        share = len(paths) // len(thread_counts)
        runs, failed = [], False
        for n, threads in enumerate(thread_counts):
            own = paths[n * share : (n + 1) * share]
            run_files = {**files, "run": write_lines(Path(instance_path) / f"run{n}.txt", own)}
            measured = serve_and_measure(env, threads, args, own, warmup_path, run_files)
            if measured is None:
                return 2
            runs.append(measured[:2])
            failed = failed or measured[2]
        for hello, unsubscribe in runs:
            print_targets(hello, unsubscribe)
        if len(runs) == 2:
            print_comparison(thread_counts, runs)
        unsubscribe = combined([unsubscribe for _hello, unsubscribe in runs])
        checks_hold = check_database(database, args.subscribers, unsubscribe, args.connections)
    if failed:
        print("FAILED: some requests got errors or non-2xx responses", file=sys.stderr)
        return 1
    if not checks_hold:
        print("FAILED: the database does not match the POSTs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The server was already stopped on the way out; no traceback for a Ctrl-C.
        sys.exit(130)
