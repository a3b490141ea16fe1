"""How much of a bare Flask response's speed the home page keeps, under gunicorn.

Serves the production app (plus a hello-world route that exists only here) with two
sync workers on a temporary instance folder, loads the hello route and `/` in turn,
and prints req/s, latency percentiles and the home/hello ratio against its target.
Exits non-zero only when the server failed or a response was an error: the ratio
is a measurement, not a test.

    .venv/bin/python bench/pages.py [--duration 10] [--connections 20] [--path /privacy]
"""

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

import _harness
from benchapp import HELLO_PATH, INSTANCE_ENV

from weprode import db, migrations

HOME_PATH = "/"
TARGET_PERCENT = 70
WARMUP_S = 1
# Settings that would make the bench measure something other than production.
UNWANTED_ENV = ("FLASK_DEBUG", "FLASK_TESTING", "FLASK_DATABASE")


def parse_args(argv):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per URL [10]")
    parser.add_argument("--connections", type=int, default=20, help="open connections [20]")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        help="another page to load, e.g. /privacy (repeatable)",
    )
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk when installed, else Python [auto]",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.connections < 1 or args.threads < 1:
        parser.error("--duration, --connections and --threads must be at least 1")
    if args.tool == "auto":
        args.tool = "wrk" if _harness.have_wrk() else "python"
    elif args.tool == "wrk" and not _harness.have_wrk():
        parser.error("wrk is not installed")
    return args


def prepare_instance(instance_path):
    """Create the bench database and return the environment the server runs with."""
    database = Path(instance_path) / "weprode.sqlite3"
    connection = db.connect(str(database))
    try:
        migrations.apply_pending(connection)
    finally:
        connection.close()
    # A production configuration, like the one every deployed process reads: the app
    # refuses to start outside debug or testing with the development defaults.
    # The key is set here: the app refuses to generate one for a database that already
    # holds tables (a new key would break links already sent), and this one was migrated.
    (Path(instance_path) / "config.py").write_text(
        'PUBLIC_URL = "https://bench.invalid"\nMAIL_SERVER = "relay.bench.invalid"\n'
        f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in UNWANTED_ENV}
    env[INSTANCE_ENV] = str(instance_path)
    env["FLASK_DATABASE"] = str(database)
    # Every request comes from 127.0.0.1; limits would turn the run into 429s.
    env["FLASK_RATELIMIT_ENABLED"] = "false"
    return env


def load(url, args, duration):
    """One load run on `url` with the chosen generator."""
    if args.tool == "wrk":
        return _harness.run_wrk(
            url, duration=duration, connections=args.connections, threads=args.threads
        )
    return _harness.run_python(url, duration=duration, connections=args.connections)


def format_ms(value):
    """A latency for the table, or a dash when the generator gave none."""
    return "-" if value is None else f"{value:.2f} ms"


def print_row(path, result):
    """One line of the results table."""
    print(
        f"{path:<20} {result.requests_per_second:>10.1f} {format_ms(result.p50_ms):>11} "
        f"{format_ms(result.p99_ms):>11} {result.non_2xx:>8} {result.errors:>7}"
    )


def measure(server, paths, args):
    """Check, warm up and load each path; return {path: LoadResult} and a failure flag."""
    results, failed = {}, False
    print(
        f"{args.tool}, gunicorn {server.workers} sync workers, {args.connections} connections"
        + (f", {args.threads} threads" if args.tool == "wrk" else "")
        + f", {args.duration} s per URL after {WARMUP_S} s warm-up"
    )
    print(f"{'path':<20} {'req/s':>10} {'p50':>11} {'p99':>11} {'non-2xx':>8} {'errors':>7}")
    for path in paths:
        url = server.base_url + path
        # wrk counts 3xx as successes, so one plain request checks the real status.
        status = _harness.get_status(url)
        if not 200 <= status < 300:
            print(f"{path:<20} answered {status} before the run")
            failed = True
        load(url, args, WARMUP_S)
        results[path] = load(url, args, args.duration)
        print_row(path, results[path])
        failed = failed or results[path].failures > 0
    return results, failed


def print_ratio(home, hello):
    """The home page's req/s as a share of the hello route's, against the target."""
    if not hello.requests_per_second:
        print("home / hello: n/a (the hello route served nothing)")
        return
    percent = 100 * home.requests_per_second / hello.requests_per_second
    verdict = "PASS" if percent >= TARGET_PERCENT else "BELOW"
    print(f"home / hello: {percent:.1f} % (target >= {TARGET_PERCENT} %): {verdict}")


def main(argv=None):
    """Run the bench; 0 unless the server failed or a response was an error."""
    # Rows appear as they are measured, and in order with stderr, even when piped.
    sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    paths = [HELLO_PATH, HOME_PATH] + [p for p in args.path if p not in (HELLO_PATH, HOME_PATH)]
    with tempfile.TemporaryDirectory(prefix="weprode-bench-") as instance_path:
        server = _harness.bench_app_server(prepare_instance(instance_path))
        with server:
            if not _harness.start_or_report(server, HELLO_PATH):
                return 2
            results, failed = measure(server, paths, args)
            log_tail = server.log_tail()
            if failed and log_tail:
                print(f"gunicorn log:\n{log_tail}", file=sys.stderr)
    print_ratio(results[HOME_PATH], results[HELLO_PATH])
    if failed:
        print("FAILED: some requests got errors or non-2xx responses", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The server was already stopped on the way out; no traceback for a Ctrl-C.
        sys.exit(130)
