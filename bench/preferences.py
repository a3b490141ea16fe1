"""How much of a bare Flask response's speed the preference page keeps.

Fills a temporary database with active subscribers spread over three topics (everyone
on the main topic, every other person on a second one, every third on a third), signs
a "Manage my subscription" link for each, serves the production app with gunicorn, and
loads the hello route then the preference pages (GET, each connection on its own
people's links) with wrk. Prints req/s, latency percentiles and the ratio against the
goal (>= 50 % of hello-world). Exits non-zero only when the server failed or a request
failed or answered non-2xx: the ratio is a measurement, not a test.

    .venv/bin/python bench/preferences.py [--duration 10] [--subscribers 100000]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import _harness
from benchapp import HELLO_PATH
from pages import prepare_instance, print_row
from unsubscribe import populate, write_lines

from devtools.seed import join_main_topic
from weprode import create_app, db, tokens
from weprode.newsletter import topics

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "paths.lua"
LABEL = "/newsletter/manage/<token>"
TARGET_PERCENT = 50
WARMUP_S = 1
MORE_TOPICS = (
    ("events", "Events and webinars", "Événements et webinaires", 2),
    ("watch", "Regulatory watch", "Veille réglementaire", 3),
)


def parse_args(argv):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target [10]")
    parser.add_argument("--connections", type=int, default=50, help="open connections [50]")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument(
        "--subscribers", type=int, default=100_000, help="active subscribers [100000]"
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.subscribers) < 1:
        parser.error("every option must be at least 1")
    if not _harness.have_wrk():
        parser.error("wrk is not installed")
    args.threads = min(args.threads, args.connections)
    return args


def spread_over_topics(instance_path, database, subscriber_ids):
    """The main topic for all, two more topics for every 2nd and 3rd person; signed paths."""
    app = create_app(instance_path=instance_path, test_config={"DATABASE": database})
    connection = db.connect(database)
    try:
        join_main_topic(connection)
        with app.test_request_context():
            for slug, name_en, name_fr, every in MORE_TOPICS:
                values = {"slug": slug, "name_en": name_en, "name_fr": name_fr, "public": True}
                topic_id = topics.create(connection, values, "bench@weprode.com", db.utcnow())
                stamp = db.isoformat(db.utcnow())
                with connection.conn:
                    connection.conn.executemany(
                        "INSERT INTO subscriptions (subscriber_id, topic_id, status, "
                        "subscribed_at) VALUES (?, ?, 'active', ?)",
                        [(sid, topic_id, stamp) for sid in subscriber_ids[::every]],
                    )
            return [f"/newsletter/manage/{tokens.make_manage_token(sid)}" for sid in subscriber_ids]
    finally:
        connection.close()


def load(base_url, args, duration, paths_file):
    """One wrk run of GETs over the paths in `paths_file`."""
    return _harness.run_wrk(
        base_url + "/",
        duration=duration,
        connections=args.connections,
        threads=args.threads,
        script=LUA_SCRIPT,
        script_args=(str(paths_file), str(args.threads), "get"),
    )


def main(argv=None):
    """Run the bench; 0 unless the server failed or a request failed."""
    sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weprode-bench-") as instance_path:
        env = prepare_instance(instance_path)
        database = env["FLASK_DATABASE"]
        subscriber_ids = populate(database, args.subscribers)
        paths = spread_over_topics(instance_path, database, subscriber_ids)
        paths_file = write_lines(Path(instance_path) / "manage_paths.txt", paths)
        print(f"{len(paths):,} subscribers over 3 topics, a preference link each")
        server = _harness.bench_app_server(env)
        with server:
            if not _harness.start_or_report(server, HELLO_PATH):
                return 2
            status = _harness.get_status(server.base_url + paths[0])
            if status != 200:
                print(f"{LABEL} answered {status} before the run", file=sys.stderr)
                return 1
            hello_url = server.base_url + HELLO_PATH
            _harness.run_wrk(
                hello_url, duration=WARMUP_S, connections=args.connections, threads=args.threads
            )
            hello = _harness.run_wrk(
                hello_url,
                duration=args.duration,
                connections=args.connections,
                threads=args.threads,
            )
            load(server.base_url, args, WARMUP_S, paths_file)
            page = load(server.base_url, args, args.duration, paths_file)
        print(f"{'path':<28} {'req/s':>10} {'p50':>11} {'p99':>11} {'non-2xx':>8} {'errors':>7}")
        print_row(HELLO_PATH, hello)
        print_row(LABEL, page)
        percent = 100 * page.requests_per_second / hello.requests_per_second
        verdict = "PASS" if percent >= TARGET_PERCENT else "BELOW"
        print(f"preference page / hello: {percent:.1f} % (target >= {TARGET_PERCENT} %): {verdict}")
    failures = hello.failures + page.failures
    print(f"non-2xx + socket errors: {failures} (target 0): {'PASS' if not failures else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
