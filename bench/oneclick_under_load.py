"""One-click unsubscribe latency while a large import runs and while a campaign sends.

Serves the site the way operators run it (`gunicorn -c deploy/gunicorn.conf.py app:app`
on a temporary instance), then loads it with wrk (50 connections of RFC 8058 one-click
POSTs, each to a subscriber of its own, as `unsubscribe.py` does) three times:

1. with nothing else running (the baseline);
2. while `flask subscribers import` writes a CSV of 100,000 new addresses (confirmed);
3. while `flask campaigns send` sends a campaign to 20,000 subscribers through
   Postfix's `smtp-sink`;
4. with `--send-nice N` only: while a second campaign to the same subscribers is sent
   under `nice -n N` (what `Nice=N` in a systemd unit does), to compare in one run.

The loaded phases last exactly as long as the import or the send: wrk starts with
them and is stopped when they end. Prints req/s, p50 and p99 of the one-click POSTs,
errors, how long the import and the send took, then the p99 and error targets
(p99 < 100 ms, 0 errors), then where the one-click writes waited in each phase
(`_write_waits`: lock waits, flushes, one-click writes per write of the import or
the send, the web workers' CPU time per request): same-run figures that hold on a
busy machine, where the percentiles mostly measure the other load. Exits non-zero
only when the server failed, a request failed, or the import or the send did not
complete.

    .venv/bin/python bench/oneclick_under_load.py [--duration 10] [--rows 100000]
"""

import argparse
import dataclasses
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness
import _write_waits
from pages import format_ms, prepare_instance
from unsubscribe import (
    FORM_HEADERS,
    LUA_SCRIPT,
    ONE_CLICK_BODY,
    load_unsubscribe,
    unsubscribe_paths,
    write_lines,
)

from devtools.seed import join_main_topic
from weprode import create_app, db, write_timings
from weprode.campaigns import compose

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
TARGET_P99_MS = 100
LONGEST_PHASE_S = 900
PHASES = ("baseline", "import", "send")
INSERT = (
    "INSERT INTO subscribers (email, first_name, language, status, source, created_at, "
    "confirmed_at) VALUES (?, 'Bench', ?, 'active', 'bench', ?, ?)"
)


def parse_args(argv):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of the baseline phase [10]"
    )
    parser.add_argument("--connections", type=int, default=50, help="open connections [50]")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the import [100000]")
    parser.add_argument(
        "--recipients", type=int, default=20_000, help="recipients of the campaign [20000]"
    )
    parser.add_argument(
        "--tokens", type=int, default=30_000, help="one-click targets per phase [30000]"
    )
    parser.add_argument(
        "--timings", help="keep every write transaction's timings in this file (appended)"
    )
    parser.add_argument(
        "--send-nice",
        type=int,
        default=0,
        help="then send a second campaign under `nice -n N` (a worker unit's Nice=), "
        "to compare with the first in the same run [0: no such phase]",
    )
    args = parser.parse_args(argv)
    if not _harness.have_wrk():
        parser.error("wrk is not installed (apt-get install wrk)")
    args.tool = "wrk"
    args.threads = min(args.threads, args.connections)
    args.phases = PHASES + (("send-nice",) if args.send_nice else ())
    return args


class DeployedServer(_harness.GunicornServer):
    """gunicorn started with deploy/gunicorn.conf.py, only the address changed."""

    def command(self):
        """The operators' command line, bound to a free loopback port."""
        return [
            str(_harness.gunicorn_executable()),
            "-c",
            str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"{_harness.LOOPBACK}:{self.port}",
            "app:app",
        ]


def populate(database, args):
    """English one-click targets (a share per phase) and the French campaign audience.

    Returns the English ids in order.
    """
    stamp = db.isoformat(db.utcnow())
    english = args.tokens * len(args.phases) + 1
    rows = [(f"leaver{n}@example.org", "en", stamp, stamp) for n in range(english)]
    rows += [(f"reader{n}@example.net", "fr", stamp, stamp) for n in range(args.recipients)]
    connection = db.connect(database)
    try:
        with connection.conn:
            connection.conn.executemany(INSERT, rows)
        join_main_topic(connection)  # the main topic, as the real flows give it
        ids = connection.execute("SELECT id FROM subscribers WHERE language = 'en' ORDER BY id")
        return [row[0] for row in ids]
    finally:
        connection.close()


def write_import_file(path, rows):
    """A CSV of `rows` new addresses."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("email,first_name,language\n")
        out.writelines(f"imported{n}@example.com,Person,en\n" for n in range(rows))
    return path


def new_campaign(instance_path, database):
    """A French draft campaign; `campaigns send` freezes and sends it."""
    app = create_app(instance_path=instance_path, test_config={"DATABASE": database})
    connection = db.connect(database)
    try:
        with app.app_context():
            return compose.create(
                connection,
                versions={
                    "fr": compose.Version(
                        subject="Bench",
                        body_markdown="Bonjour {{ first_name }}, ceci est un test.",
                    )
                },
                audience="fr",
                author="bench@weprode.com",
                now=db.utcnow(),
            )
    finally:
        connection.close()


def flask(env, *arguments, prefix=()):
    """A `flask --app app ...` child process, as an operator would type it.

    `prefix` runs it through another command (`nice -n 10`), which execs it: the pid
    stays the one whose write timings are the phase's.
    """
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "flask", "--app", "app", *arguments],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wrk_until(server, args, paths_file, child):
    """One-click POSTs with wrk from now until `child` exits; returns (result, seconds).

    wrk is started for longer than anything here lasts and stopped with SIGINT, on
    which it prints its report (and the Lua script its counts) as at the end of a run.
    """
    began = time.monotonic()
    command = [
        "wrk",
        "--latency",
        "--duration",
        f"{LONGEST_PHASE_S}s",
        "--connections",
        str(args.connections),
        "--threads",
        str(args.threads),
        "--timeout",
        "10s",
        "--script",
        str(LUA_SCRIPT),
        server.base_url + "/",
        "--",
        str(paths_file),
        str(args.threads),
        "one-click",
    ]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output, errors = child.communicate(timeout=LONGEST_PHASE_S)
        seconds = time.monotonic() - began
    finally:
        wrk.send_signal(signal.SIGINT)
        report, _ = wrk.communicate(timeout=60)
    counts = re.search(r"^paths sent: (\d+), distinct: (\d+)$", report, re.M)
    result = _harness.parse_wrk_output(report)
    if counts:
        result = dataclasses.replace(
            result, paths_sent=int(counts[1]), distinct_paths=int(counts[2])
        )
    return result, seconds, child.returncode, output + errors


def worker_pids(server):
    """The pids of the web workers under the gunicorn arbiter."""
    pid = server.process.pid
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
        return [int(child) for child in children.read().split()]


def count(database, sql):
    """The single number a COUNT query returns."""
    connection = db.connect(database)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


def main(argv=None):
    """Run the phases; 0 unless something failed."""
    sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weprode-bench-") as instance_path:
        env = prepare_instance(instance_path)
        env["WEPRODE_INSTANCE_PATH"] = instance_path
        timings_file = args.timings or str(Path(instance_path) / "write-timings.txt")
        env[write_timings.ENVIRONMENT_VARIABLE] = timings_file
        database = env["FLASK_DATABASE"]
        ids = populate(database, args)
        paths = unsubscribe_paths(instance_path, database, ids)
        warmup, paths = paths[-1], paths[:-1]
        shares = {
            phase: paths[i * args.tokens : (i + 1) * args.tokens]
            for i, phase in enumerate(args.phases)
        }
        files = {
            phase: write_lines(Path(instance_path) / f"{phase}.txt", share)
            for phase, share in shares.items()
        }
        import_file = write_import_file(Path(instance_path) / "import.csv", args.rows)
        campaign_id = new_campaign(instance_path, database)
        niced_campaign_id = new_campaign(instance_path, database) if args.send_nice else None
        print(
            f"{len(ids):,} one-click targets, {args.recipients:,} campaign recipients, "
            f"import of {args.rows:,} rows; wrk {args.connections} connections, "
            f"{args.duration} s per phase"
        )
        with (
            _harness.SmtpSink() as sink,
            DeployedServer("app:app", env=env, cwd=PROJECT_ROOT) as server,
        ):
            sink.start()
            if not _harness.start_or_report(server, "/"):
                return 2
            status = _harness.request_status(
                server.base_url + warmup, method="POST", body=ONE_CLICK_BODY, headers=FORM_HEADERS
            )
            if status != 200:
                print(f"one-click answered {status} before the run\n{server.log_tail()}")
                return 1
            send_env = {**env, "FLASK_MAIL_SERVER": _harness.LOOPBACK}
            send_env["FLASK_MAIL_PORT"] = str(sink.port)
            backgrounds = {
                "baseline": None,
                "import": lambda: flask(
                    env,
                    "subscribers",
                    "import",
                    str(import_file),
                    "--confirmed",
                    "--source",
                    "bench-import",
                    "--legal-basis",
                    "bench",
                ),
                "send": lambda: flask(send_env, "campaigns", "send", str(campaign_id)),
                "send-nice": lambda: flask(
                    send_env,
                    "campaigns",
                    "send",
                    str(niced_campaign_id),
                    prefix=["nice", "-n", str(args.send_nice)],
                ),
            }
            results, failed, phases = {}, False, []
            print(
                f"{'phase':<10} {'req/s':>8} {'p50':>11} {'p99':>11} {'non-2xx':>8} "
                f"{'errors':>7} {'background':>11}"
            )
            web_pids = set(worker_pids(server))
            for phase in args.phases:
                cpu_before = _write_waits.workers_cpu_seconds(server.process.pid)
                window = _write_waits.Phase(phase, time.monotonic())
                if backgrounds[phase] is None:
                    result = load_unsubscribe(
                        server.base_url, args, args.duration, files[phase], shares[phase]
                    )
                    seconds, code, output = None, 0, ""
                else:
                    child = backgrounds[phase]()
                    window.background_pid = child.pid
                    result, seconds, code, output = wrk_until(server, args, files[phase], child)
                window.ended = time.monotonic()
                window.cpu_seconds = (
                    _write_waits.workers_cpu_seconds(server.process.pid) - cpu_before
                )
                window.requests = result.requests
                phases.append(window)
                results[phase] = result
                took = "-" if seconds is None else f"{seconds:.1f} s"
                print(
                    f"{phase:<10} {result.requests_per_second:>8.1f} "
                    f"{format_ms(result.p50_ms):>11} {format_ms(result.p99_ms):>11} "
                    f"{result.non_2xx:>8} {result.errors:>7} {took:>11}"
                )
                if code != 0:
                    print(f"{phase} failed ({code}):\n{output[-2000:]}", file=sys.stderr)
                    failed = True
                failed = failed or result.failures > 0
            if failed:
                print(f"gunicorn log:\n{server.log_tail()}", file=sys.stderr)
            web_pids |= set(worker_pids(server))  # any worker restarted meanwhile
        # After the server stopped: its workers write their last timings as they exit.
        _write_waits.print_summary(_write_waits.split_by_phase(timings_file, phases, web_pids))
        imported = count(
            database,
            "SELECT count(*) FROM subscribers WHERE source = 'import: bench-import' "
            "AND status = 'active'",
        )
        campaigns = [campaign_id] + ([niced_campaign_id] if niced_campaign_id else [])
        sent = [
            count(
                database,
                "SELECT count(*) FROM deliveries WHERE status = 'sent' "
                f"AND campaign_id = {sent_campaign}",
            )
            for sent_campaign in campaigns
        ]
        print(
            f"imported and active: {imported:,} of {args.rows:,}; "
            f"sent: {' and '.join(f'{n:,}' for n in sent)} of {args.recipients:,}"
        )
        failed = failed or imported != args.rows or any(n != args.recipients for n in sent)
        for phase in args.phases[1:]:
            p99 = results[phase].p99_ms
            verdict = "PASS" if p99 is not None and p99 < TARGET_P99_MS else "BELOW"
            print(
                f"one-click p99 during {phase}: {format_ms(p99)} "
                f"(target < {TARGET_P99_MS} ms): {verdict}"
            )
        errors = sum(result.failures for result in results.values())
        print(f"non-2xx + socket errors: {errors} (target 0): {'PASS' if errors == 0 else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
