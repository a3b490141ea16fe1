"""How fast a campaign goes out, against Flask-Mail's one message per connection.

Fills a fresh database with N active subscribers (20,000; `--recipients`), freezes one
campaign for them with `freeze.start`, then times `worker.send_campaign` in a child
process against `--relays` (2) Postfix `smtp-sink` relays on loopback, given as
MAIL_RELAYS (one relay: MAIL_SERVER alone). Then a second campaign is sent while one
relay is killed (SIGKILL) mid-send, and the sinks' dumps are counted per recipient:
nobody may be lost (`--no-kill` skips it). The timed send runs with one sending
process, then again with `--processes` (2: CAMPAIGN_SENDER_PROCESSES), reporting each
rate, the CPU seconds per 1,000 messages (every process counted) and the scaling
ratio N/1. The same run sends `--naive-count`
messages the naive way: one `flask_mail.Message` and one `mail.send()` (so one SMTP
connection) per recipient. Prints both rates, their ratio and the sending process's
peak RSS against the targets, then checks a sample of the messages the sink dumped
and the raw bytes of a second small send to an aiosmtpd sink (smtp-sink's dumps
rewrite line ends to LF, so only raw bytes can show a bare LF).

`smtp-sink` is used when installed; otherwise Debian's postfix package is fetched once
with `apt-get download postfix` and unpacked into ~/.cache/weprode-bench/postfix (no
mail service is installed or started).

`--memory` sends to 1,000,000 recipients and samples RSS every second to show it stays
flat. Exits 0 whatever the figures (a measurement); 1 when a delivery did not end
`sent` or a message check failed; 2 when the sink could not run.

    .venv/bin/python bench/send.py [--recipients 20000] [--naive-count 2000] [--relays 2]
    .venv/bin/python bench/send.py --memory
    .venv/bin/python bench/send.py --sweep      # SMTP connections x batch size
    .venv/bin/python bench/send.py --profile    # where the sender threads spend time
"""

import argparse
import collections
import contextlib
import cProfile
import email
import email.policy
import io
import multiprocessing
import os
import pstats
import random
import re
import resource
import secrets
import smtplib
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import _harness
from flask_mail import Message

from devtools.mailsink import start_sink
from devtools.seed import join_main_topic
from weprode import create_app, tokens
from weprode.campaigns import compose, freeze, ledger, render, sending, worker
from weprode.campaigns.journal import SentJournal
from weprode.db import connect, isoformat, utcnow
from weprode.mail.messages import mail
from weprode.migrations import apply_pending
from weprode.urls import absolute_url

TARGET_RATE = 8_000
TARGET_RATIO = 15.0
TARGET_RSS_MB = 100
MEMORY_RECIPIENTS = 1_000_000
SWEEP_CONNECTIONS = (1, 2, 4, 8)
SWEEP_BATCH_SIZES = (50, 200, 500)
PUBLIC_URL = "https://www.weprode.com"
MAX_LINE_OCTETS = 998
DOMAINS = ("example.org", "ac-grenoble.fr", "schule.example.de")
FIRST_NAMES = ["Ada", "Chloé", "Gaëlle", "Zoé", "Łukasz", "Søren", "Ἀθηνᾶ", "陈静", "Nuño", None]
SUBJECT = "Weprode news for {{ first_name | default('you') }}"
BODY = """# News from Weprode

Hello {{ first_name | default("there") }},

Our **new guide** to sovereign Education Clouds is out. It explains, step by step, how
a region can host its schools' digital workspace on infrastructure it controls, what
it costs, and what changes for teachers, pupils and parents.

## In this issue

- How the Savoie pilot moved 40,000 accounts in one weekend
- What the new *data hosting* rules mean for schools
- Three questions to ask any provider before signing

| Region | Schools | Accounts |
|---|---:|---:|
| Savoie | 212 | 41,000 |
| Isère | 398 | 77,500 |

Read the guide on [our website](https://www.weprode.com/services) and tell us what you
think: reply to this e-mail, a person reads every answer.

See you soon, {{ first_name | default("friend") }}!
"""


def parse_args(argv):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipients", type=int, default=None, help="subscribers to send to [20000]"
    )
    parser.add_argument(
        "--naive-count", type=int, default=2_000, help="messages sent the naive way [2000]"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help=f"send to {MEMORY_RECIPIENTS:,} recipients and sample RSS (no naive run)",
    )
    parser.add_argument("--connections", type=int, help="CAMPAIGN_SMTP_CONNECTIONS [config]")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="CAMPAIGN_SENDER_PROCESSES of the second timed send (the first has 1) [2]",
    )
    parser.add_argument("--relays", type=int, default=2, help="smtp-sink relays [2]")
    parser.add_argument(
        "--no-kill", action="store_true", help="skip the send with a relay killed mid-way"
    )
    parser.add_argument("--max-unrecorded", type=int, help="CAMPAIGN_MAX_UNRECORDED [config: 20]")
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="no sent journal: the recorder commits every few messages (as on a full disk)",
    )
    parser.add_argument("--batch-size", type=int, help="CAMPAIGN_BATCH_SIZE [config]")
    parser.add_argument(
        "--sample", type=int, default=200, help="dumped messages to parse and check [200]"
    )
    parser.add_argument(
        "--raw-count", type=int, default=200, help="messages sent to aiosmtpd for raw checks"
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also time every CAMPAIGN_SMTP_CONNECTIONS x CAMPAIGN_BATCH_SIZE of "
        f"{SWEEP_CONNECTIONS} x {SWEEP_BATCH_SIZES}",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the sender threads (slows the send)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed [2026]")
    args = parser.parse_args(argv)
    if args.recipients is None:
        args.recipients = MEMORY_RECIPIENTS if args.memory else 20_000
    if args.recipients < 1 or args.naive_count < 0 or args.raw_count < 1 or args.relays < 1:
        parser.error("--recipients, --raw-count and --relays must be positive, --naive-count >= 0")
    return args


def bench_config(tmp, port, secret_key, overrides=None, relay_ports=()):
    """The app config for one instance folder, mailing to the sink on `port`.

    With several `relay_ports`, campaigns go to them as MAIL_RELAYS (each may take every
    session: the pool spreads them by weight, equal here).
    """
    relays = [
        {
            "name": f"sink-{n}",
            "host": _harness.LOOPBACK,
            "port": relay_port,
            "tls": "none",
            "max_connections": 64,
        }
        for n, relay_port in enumerate(relay_ports)
    ]
    return {
        "TESTING": True,
        "SECRET_KEY": secret_key,
        "DATABASE": str(Path(tmp) / "bench.sqlite3"),
        "PUBLIC_URL": PUBLIC_URL,
        "MAIL_SERVER": _harness.LOOPBACK,
        "MAIL_PORT": port,
        "MAIL_RELAYS": relays if len(relays) > 1 else [],
        "RATELIMIT_ENABLED": False,
        **(overrides or {}),
    }


def build_app(tmp, config):
    """The app on instance folder `tmp`, its database migrated."""
    Path(tmp).mkdir(parents=True, exist_ok=True)
    app = create_app(config, instance_path=str(tmp))
    database = connect(app.config["DATABASE"])
    apply_pending(database)
    return app, database


def fill(database, count):
    """Insert `count` active subscribers in one executemany (names partly non-ASCII)."""
    stamp = isoformat(utcnow())
    rows = (
        (
            f"reader.{n}@{DOMAINS[n % len(DOMAINS)]}",
            FIRST_NAMES[n % len(FIRST_NAMES)],
            "fr" if n % 3 else "en",
            stamp,
            stamp,
        )
        for n in range(count)
    )
    with database.atomic():
        database.conn.executemany(
            "INSERT INTO subscribers (email, first_name, language, status, source, created_at, "
            "confirmed_at) VALUES (?, ?, ?, 'active', 'bench', ?, ?)",
            rows,
        )
    join_main_topic(database)  # the main topic, as the real flows give it


def new_campaign(app, database):
    """A draft to everyone (audience 'all'), an English version with placeholders."""
    with app.app_context():
        return compose.create(
            database,
            versions={"en": compose.Version(subject=SUBJECT, body_markdown=BODY)},
            audience="all",
            author="bench@weprode.com",
            now=utcnow(),
        )


def frozen_campaign(app, database):
    """A new campaign with its audience frozen; returns (id, recipients, seconds)."""
    campaign_id = new_campaign(app, database)
    began = time.perf_counter()
    with app.app_context():
        recipients = freeze.start(database, campaign_id, utcnow())
    return campaign_id, recipients, time.perf_counter() - began


def profile_sender_threads():
    """Wrap `sending.sender_thread` so each sender thread runs under its own cProfile."""
    profilers, original = [], sending.sender_thread

    def profiled(app, state):
        """The original thread body, profiled (cProfile sees only its own thread)."""
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            original(app, state)
        finally:
            profiler.disable()
            profilers.append(profiler)

    sending.sender_thread = profiled
    return profilers


# (label, file suffix, function): inclusive time of these, as a share of thread time.
PROFILE_GROUPS = [
    ("render.message_for (whole message)", "campaigns/render.py", "message_for"),
    ("  tokens.make_unsubscribe_token", "weprode/tokens.py", "make_unsubscribe_token"),
    ("  urls.absolute_url", "weprode/urls.py", "absolute_url"),
    ("  PreparedCampaign.parts_for", "campaigns/render.py", "parts_for"),
    ("    Placeholders.values (Jinja)", "campaigns/render.py", "values"),
    ("  render.encode_part (base64)", "campaigns/render.py", "encode_part"),
    ("  render.encode_header", "campaigns/render.py", "encode_header"),
    ("  render.message_id (HMAC)", "campaigns/render.py", "message_id"),
    ("  email.utils.formatdate", "email/utils.py", "formatdate"),
    ("bulk_smtp.send_raw (SMTP transaction)", "weprode/mail/bulk_smtp.py", "send_raw"),
    ("  smtplib.SMTP.getreply (waiting)", "smtplib.py", "getreply"),
    ("  smtplib._quote_periods", "smtplib.py", "_quote_periods"),
    ("ledger.claim", "campaigns/ledger.py", "claim"),
    ("ledger.record_outcomes", "campaigns/ledger.py", "record_outcomes"),
    ("batch.wait_for_rate", "campaigns/batch.py", "wait_for_rate"),
    ("batch.note_result", "campaigns/batch.py", "note_result"),
    ("Pacer.acquire", "campaigns/pacing.py", "acquire"),
    ("RelayPool.connect", "mail/relay_pool.py", "connect"),
]


def profile_report(profilers, messages, top=18):
    """The grouped breakdown and the top functions by own time, as text."""
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    total = sum(entry[2] for entry in stats.stats.values())
    lines = [
        f"profile of {len(profilers)} sender threads: {total:.2f} s of thread time, "
        f"{total / messages * 1e6:.0f} us per message (cProfile inflates Python calls)",
        f"{'inclusive time':44} {'s':>7} {'share':>6} {'us/msg':>7}",
    ]
    for label, suffix, function in PROFILE_GROUPS:
        seconds = sum(
            entry[3]
            for (filename, _, name), entry in stats.stats.items()
            if name == function and filename.endswith(suffix)
        )
        lines.append(
            f"{label:44} {seconds:7.2f} {100 * seconds / total:5.1f}% "
            f"{seconds / messages * 1e6:7.1f}"
        )
    buffer = io.StringIO()
    stats.stream = buffer
    stats.sort_stats("tottime").print_stats(top)
    own = [line for line in buffer.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(own) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines + ["top functions by own time:", *own[start:]])


def children_rss_mb():
    """The resident memory of this process's children (the sending processes), in MB."""
    total = 0.0
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            for pid in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
                    total += next(
                        int(line.split()[1]) / 1024
                        for line in status.splitlines()
                        if line.startswith("VmRSS:")
                    )
    return total


def sample_rss(samples, done, interval=1.0):
    """Append the RSS (MB) of this process and its sending processes every `interval`
    seconds until `done` is set."""
    while not done.wait(interval):
        samples.append(_harness.vm_rss_mb() + children_rss_mb())


def cpu_seconds():
    """CPU time of this process and of its reaped children (the sending processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class NoJournal(SentJournal):
    """A journal that cannot be written: the recorder falls back to small commits."""

    def __init__(self, path):
        self.path, self.fd, self.working = path, None, False


def send_in_child(instance, config, campaign_id, profile, results, journal=True):
    """Child process body: time `send_campaign`, sample RSS, send the figures back."""
    try:
        if not journal:
            sending.SentJournal = NoJournal
        app = create_app(config, instance_path=instance)
        samples, progress_calls, done = [], [], threading.Event()
        profilers = profile_sender_threads() if profile else None
        # send_campaign calls `progress` after joining each sender thread for up to a
        # second, so with 4 threads about every 4 s: sample RSS on our own clock.
        sampler = threading.Thread(target=sample_rss, args=(samples, done), daemon=True)
        with app.app_context():
            database = connect(app.config["DATABASE"])
            before = _harness.vm_rss_mb()
            sampler.start()
            began, cpu_began = time.perf_counter(), cpu_seconds()
            # A progress callback as `flask campaigns send` passes: figures each call.
            status = worker.send_campaign(database, campaign_id, progress=progress_calls.append)
            seconds = time.perf_counter() - began
            cpu_used = cpu_seconds() - cpu_began
            done.set()
            sampler.join()
            figures = ledger.figures(database, campaign_id)
            last_error = database.execute(
                "SELECT smtp_reply FROM deliveries WHERE campaign_id = ? AND status != 'sent' "
                "LIMIT 1",
                [campaign_id],
            ).fetchone()
            database.close()
        results.send(
            {
                "status": status,
                "seconds": seconds,
                "cpu_seconds": cpu_used,
                "figures": figures,
                "last_error": last_error[0] if last_error else None,
                "rss_before_mb": before,
                "rss_samples_mb": samples,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "sender_peak_rss_mb": (
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                ),
                "processes": app.config["CAMPAIGN_SENDER_PROCESSES"],
                "connections": app.config["CAMPAIGN_SMTP_CONNECTIONS"],
                "batch_size": app.config["CAMPAIGN_BATCH_SIZE"],
                "journal": (
                    "sent journal"
                    if journal
                    else f"no journal, max {app.config['CAMPAIGN_MAX_UNRECORDED']} unrecorded"
                ),
                "profile": profile_report(profilers, figures["sent"] or 1) if profile else "",
            }
        )
    except Exception:
        results.send({"error": traceback.format_exc()})
    finally:
        results.close()


def timed_send(instance, config, campaign_id, recipients, profile=False, journal=True):
    """Run `send_in_child` in a fresh process (its own peak RSS); return its figures.

    Bounded in time: a send slower than 500 msg/s on top of two minutes is stopped.
    """
    # Not "spawn": Linux keeps a process's peak RSS across exec, so a child exec'd from
    # this (large) process would report our peak. Forkserver children start small.
    context = multiprocessing.get_context("forkserver")
    receiver, results = context.Pipe(duplex=False)
    process = context.Process(
        target=send_in_child,
        args=(str(instance), config, campaign_id, profile, results, journal),
        daemon=False,  # it forks the sending processes; stopped in `finally` below
    )
    process.start()
    results.close()
    timeout = 120 + recipients / 500
    try:
        if not receiver.poll(timeout):
            return {"error": f"the send did not finish within {timeout:.0f} s"}
        try:
            return receiver.recv()
        except EOFError:
            return {"error": f"the sending process died (exit code {process.exitcode})"}
    finally:
        receiver.close()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
            process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


def naive_send(app, database, campaign_id, count):
    """Send `count` messages with Flask-Mail, one `mail.send()` (one connection) each.

    Each message carries the same personalised subject, text, HTML and opt-out headers
    as the campaign's; returns (sent, failed, seconds).
    """
    with app.app_context():
        prepared = render.prepare(compose.get(database, campaign_id)).variants["en"]
        reply_to = app.config["CAMPAIGN_REPLY_TO"] or None
        rows = list(
            database.query(
                "SELECT id, email, first_name FROM subscribers ORDER BY id LIMIT ?", [count]
            )
        )
        sent = failed = 0
        began = time.perf_counter()
        for row in rows:
            token = tokens.make_unsubscribe_token(row["id"], campaign_id)
            unsubscribe = absolute_url("newsletter.unsubscribe", token=token)
            subject, text, html = prepared.parts_for(row, unsubscribe)
            message = Message(
                subject=subject,
                sender=prepared.sender,
                recipients=[row["email"]],
                reply_to=reply_to,
                body=text,
                html=html,
                extra_headers={
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
            try:
                mail.send(message)
                sent += 1
            except (smtplib.SMTPException, OSError):
                failed += 1
        return sent, failed, time.perf_counter() - began


def split_sink_dump(data):
    """(envelope recipient, message bytes with LF ends) from one smtp-sink dump file.

    The sink writes its own X-*-Args lines and a three-line Received header first,
    then the message, then one empty line.
    """
    lines = data.split(b"\n")
    recipient, index = None, 0
    while index < len(lines) and not lines[index].startswith(b"Received:"):
        if lines[index].startswith(b"X-Rcpt-Args: "):
            recipient = lines[index].split(b" ", 1)[1].strip(b"<>").decode()
        index += 1
    index += 1
    while index < len(lines) and lines[index][:1] in (b" ", b"\t"):
        index += 1
    body = b"\n".join(lines[index:])
    return recipient, body.removesuffix(b"\n")


def check_message(raw, recipient, subscriber, campaign_id, line_end):
    """Problems with one received message, as text; empty when it is right.

    `subscriber` is the (id, first_name) the message was meant for. Needs an app
    context for the token check.
    """
    problems = []
    if line_end == b"\r\n":
        bare = raw.replace(b"\r\n", b"").count(b"\n") + raw.replace(b"\r\n", b"").count(b"\r")
        if bare:
            problems.append(f"{bare} bare LF/CR")
    longest = max(len(line) for line in raw.split(line_end))
    if longest >= MAX_LINE_OCTETS:
        problems.append(f"a line of {longest} octets")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subscriber_id, first_name = subscriber
    if message["To"] != recipient:
        problems.append(f"To: {message['To']}")
    counts = {
        header: len(message.get_all(header) or [])
        for header in ("List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID")
    }
    if set(counts.values()) != {1}:
        return problems + [f"{header} {n} times" for header, n in counts.items() if n != 1]
    if message["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click":
        problems.append(f"List-Unsubscribe-Post: {message['List-Unsubscribe-Post']}")
    # A French reader's link opens the French page: `?lang=fr` after the token.
    link = re.fullmatch(
        re.escape(f"<{PUBLIC_URL}/unsubscribe/") + r"([^/>?]+)(?:\?lang=fr)?>",
        message["List-Unsubscribe"],
    )
    if link is None:
        problems.append(f"List-Unsubscribe: {message['List-Unsubscribe']}")
    else:
        check = tokens.check_unsubscribe_token(link.group(1))
        if not check.ok or check.payload != (subscriber_id, campaign_id):
            problems.append(f"unsubscribe token {check.status} {check.payload}")
    if not re.fullmatch(
        rf"<campaign-{campaign_id}\.{subscriber_id}\.[0-9a-f]{{16}}@[\w.-]+>",
        message["Message-ID"],
    ):
        problems.append(f"Message-ID: {message['Message-ID']}")
    if message["Subject"] != f"Weprode news for {first_name or 'you'}":
        problems.append(f"Subject: {message['Subject']}")
    text = message.get_body(("plain",)).get_content()
    if f"Hello {first_name or 'there'}," not in text:
        problems.append("the first name is not in the text part")
    if link is not None and link.group(0)[1:-1] not in text:
        problems.append("the opt-out link is not in the text part")
    return problems


def check_messages(app, database, campaign_id, received, line_end):
    """Check [(recipient, raw)]; returns problems as 'recipient: problem' lines."""
    emails = [recipient for recipient, _ in received]
    known = {}
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        for row in database.query(
            f"SELECT id, email, first_name FROM subscribers WHERE email IN "
            f"({', '.join('?' for _ in chunk)})",
            chunk,
        ):
            known[row["email"]] = (row["id"], row["first_name"])
    problems = []
    with app.app_context():
        for recipient, raw in received:
            if recipient not in known:
                problems.append(f"{recipient}: not a subscriber")
                continue
            found = check_message(raw, recipient, known[recipient], campaign_id, line_end)
            problems += [f"{recipient}: {problem}" for problem in found]
    return problems


def check_sink_sample(app, database, campaign_id, sinks, sample, rng):
    """Parse `sample` of the files the sinks dumped; returns (files, checked, problems)."""
    files = [path for sink in sinks for path in sink.dumped_files()]
    chosen = rng.sample(files, min(sample, len(files)))
    received = [split_sink_dump(path.read_bytes()) for path in chosen]
    return len(files), len(chosen), check_messages(app, database, campaign_id, received, b"\n")


def raw_bytes_check(tmp, secret_key, count):
    """Send a `count`-recipient campaign to aiosmtpd and check the raw bytes received.

    Returns (messages checked, problems).
    """
    port = _harness.free_port()
    controller, handler = start_sink(_harness.LOOPBACK, port)
    try:
        app, database = build_app(tmp, bench_config(tmp, port, secret_key))
        fill(database, count)
        campaign_id, recipients, _ = frozen_campaign(app, database)
        with app.app_context():
            status = worker.send_campaign(database, campaign_id)
        handler.wait_for(recipients, timeout=30)
        received = [
            (email.message_from_bytes(raw, policy=email.policy.default)["To"], raw)
            for raw in list(handler.raw)
        ]
        problems = check_messages(app, database, campaign_id, received, b"\r\n")
        if status != "sent" or len(received) != recipients:
            problems.append(f"campaign {status}, {len(received)} of {recipients} received")
        database.close()
        return len(received), problems
    finally:
        controller.stop()


def verdict(ok):
    """PASS or BELOW."""
    return "PASS" if ok else "BELOW"


def send_problems(result, recipients):
    """Why a timed send broke, as text; empty when every delivery ended `sent`."""
    if "error" in result:
        return [f"sending process: {result['error']}"]
    figures = result["figures"]
    if result["status"] == "sent" and figures["sent"] == recipients:
        return []
    return [
        f"campaign ended {result['status']}: sent {figures['sent']}, failed "
        f"{figures['failed']}, queued {figures['queued']}, skipped {figures['skipped']} "
        f"of {recipients}; last reply: {result['last_error']}"
    ]


def print_send(result, recipients, started_s):
    """The timed send's figures."""
    rate = recipients / result["seconds"]
    print(
        f"send_campaign, {counted_processes(result['processes'])}: {recipients:,} sent in "
        f"{result['seconds']:.2f} s ({result['cpu_seconds']:.2f} s CPU, "
        f"{1000 * result['cpu_seconds'] / recipients:.3f} CPU s per 1,000), {rate:,.0f} msg/s "
        f"[{result['connections']} SMTP connections each, batches of {result['batch_size']}, "
        f"{result['journal']}; "
        f"freeze.start took {started_s:.2f} s before, not counted]"
    )
    samples = result["rss_samples_mb"]
    # Ten samples spread over the send show whether memory grows with the recipients.
    spread = [samples[len(samples) * tenth // 10] for tenth in range(10)] if samples else []
    during = (
        f"sampled {len(samples)}x during the send: first {samples[0]:.0f}, "
        f"max {max(samples):.0f}, last {samples[-1]:.0f} MB; at each tenth of the send "
        + " ".join(f"{sample:.0f}" for sample in spread)
        if samples
        else "no sample during the send (it took under a second)"
    )
    senders = (
        f", largest sending process {result['sender_peak_rss_mb']:.0f} MB"
        if result["processes"] > 1
        else ""
    )
    print(
        f"sending RSS (all processes): {result['rss_before_mb']:.0f} MB before the send; "
        f"{during}; peak (ru_maxrss) of the holder {result['peak_rss_mb']:.0f} MB{senders}"
    )
    return rate


def counted_processes(count):
    """ "1 process", "2 processes"."""
    return f"{count} process" + ("" if count == 1 else "es")


def sweep(tmp, app, database, config, recipients):
    """Time the send for every connections x batch size; returns problems."""
    problems = []
    print(f"sweep: {recipients:,} recipients per run, a new campaign each")
    print(f"{'connections':>11} {'batch':>6} {'msg/s':>8} {'seconds':>8} {'CPU s':>7}")
    for connections in SWEEP_CONNECTIONS:
        for batch_size in SWEEP_BATCH_SIZES:
            campaign_id, frozen, _ = frozen_campaign(app, database)
            overrides = {
                "CAMPAIGN_SMTP_CONNECTIONS": connections,
                "CAMPAIGN_BATCH_SIZE": batch_size,
            }
            result = timed_send(tmp, {**config, **overrides}, campaign_id, frozen)
            broken = send_problems(result, frozen)
            problems += broken
            if broken:
                print(f"{connections:>11} {batch_size:>6}   failed: {broken[0]}")
                continue
            print(
                f"{connections:>11} {batch_size:>6} {frozen / result['seconds']:8,.0f} "
                f"{result['seconds']:8.2f} {result['cpu_seconds']:7.2f}"
            )
    return problems


def dumped_recipients(sinks):
    """How many messages each recipient got, over every sink's dump."""
    counts = collections.Counter()
    for sink in sinks:
        for path in sink.dumped_files():
            with contextlib.suppress(OSError):
                recipient, _ = split_sink_dump(path.read_bytes())
                counts[recipient] += 1
    return counts


def clear_dumps(sinks):
    """Delete what the sinks dumped so far (the next count is one campaign's)."""
    for sink in sinks:
        for path in sink.dumped_files():
            path.unlink(missing_ok=True)


def kill_relay_send(instance, config, app, database, sinks):
    """A second campaign, one relay SIGKILLed a third of the way; returns problems.

    Prints how many reached each relay, and the lost and doubled recipients.
    """
    clear_dumps(sinks)
    campaign_id, recipients, _ = frozen_campaign(app, database)
    outcome = {}
    send_thread = threading.Thread(
        target=lambda: outcome.update(timed_send(instance, config, campaign_id, recipients))
    )
    send_thread.start()
    victim, deadline = sinks[0], time.monotonic() + 120
    share = recipients // (3 * len(sinks))
    while (
        len(victim.dumped_files()) < share
        and send_thread.is_alive()
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    victim.process.kill()  # our own child: SIGKILL, as a relay host that dies
    killed_at = len(victim.dumped_files())
    send_thread.join()
    problems = send_problems(outcome, recipients)
    counts = dumped_recipients(sinks)
    expected = {
        row[0]
        for row in database.execute(
            "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
            "WHERE d.campaign_id = ?",
            [campaign_id],
        )
    }
    partial = counts.pop(None, 0)  # a dump the killed sink left half-written
    lost = expected - set(counts)
    twice = sum(count - 1 for count in counts.values())
    print(
        f"relay killed mid-send: {recipients:,} recipients, the killed relay had "
        f"{killed_at:,} when killed; {sum(counts.values()):,} received in all "
        f"({partial} half-written dump), {len(lost)} lost, {twice} twice; "
        f"campaign {outcome.get('status')}"
        + (f" in {outcome['seconds']:.1f} s" if "seconds" in outcome else "")
    )
    if lost:
        problems.append(f"relay kill: {len(lost)} recipients lost, e.g. {sorted(lost)[:3]}")
    return problems


def run(args, tmp):
    """Everything but the sink's set-up errors; returns the problems found."""
    secret_key = secrets.token_urlsafe(48)
    rng = random.Random(args.seed)
    overrides = {
        key: value
        for key, value in (
            ("CAMPAIGN_SMTP_CONNECTIONS", args.connections),
            ("CAMPAIGN_BATCH_SIZE", args.batch_size),
            ("CAMPAIGN_MAX_UNRECORDED", args.max_unrecorded),
        )
        if value is not None
    }
    # A million dumped messages would fill gigabytes; the raw check still runs.
    dump = not args.memory
    with contextlib.ExitStack() as stack:
        sinks = [stack.enter_context(_harness.SmtpSink(dump=dump)) for _ in range(args.relays)]
        for sink in sinks:
            sink.start()
        print(
            f"{len(sinks)} smtp-sink relays on {_harness.LOOPBACK}:"
            f"{','.join(str(sink.port) for sink in sinks)} "
            f"({'dumping each message under /dev/shm' if dump else 'no dump'}); "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        instance = tmp / "instance"
        config = bench_config(
            instance, sinks[0].port, secret_key, overrides, [sink.port for sink in sinks]
        )
        app, database = build_app(instance, config)
        began = time.perf_counter()
        fill(database, args.recipients)
        filled_s = time.perf_counter() - began
        print(f"{args.recipients:,} active subscribers inserted in {filled_s:.1f} s")
        # One process, then N, in the same run: the scaling ratio is N/1 on this machine
        # as it is now. The 1,000,000 memory run sends once, with N.
        process_counts = [args.processes] if args.memory else sorted({1, args.processes})
        results = {}
        for processes in process_counts:
            if dump:
                clear_dumps(sinks)
            campaign_id, recipients, started_s = frozen_campaign(app, database)
            result = timed_send(
                instance,
                {**config, "CAMPAIGN_SENDER_PROCESSES": processes},
                campaign_id,
                recipients,
                profile=args.profile and processes == 1,
                journal=not args.no_journal,
            )
            problems = send_problems(result, recipients)
            if problems:
                return problems
            results[processes] = result
            print_send(result, recipients, started_s)
            if result["profile"]:
                print(result["profile"])
            if dump:
                files, checked, found = check_sink_sample(
                    app, database, campaign_id, sinks, args.sample, rng
                )
                problems += found
                print(
                    f"smtp-sink dumped {files:,} messages; {checked} parsed and checked "
                    f"(headers, opt-out token, name, lines < {MAX_LINE_OCTETS} octets): "
                    f"{'OK' if not found else f'{len(found)} problems'}"
                )
        rates = {n: recipients / result["seconds"] for n, result in results.items()}
        if len(results) > 1:
            print(
                f"scaling: {args.processes} processes / 1 process = "
                f"{rates[args.processes] / rates[1]:.2f}x the rate; CPU s per 1,000 messages "
                + ", ".join(
                    f"{counted_processes(n)} {1000 * r['cpu_seconds'] / recipients:.3f}"
                    for n, r in results.items()
                )
            )
        naive_rate = None
        if args.naive_count and not args.memory:
            sent, failed, seconds = naive_send(app, database, campaign_id, args.naive_count)
            naive_rate = sent / seconds
            print(
                f"naive Flask-Mail, mail.send() per message (new connection each): "
                f"{sent:,} sent in {seconds:.2f} s, {naive_rate:,.0f} msg/s"
            )
            if failed:
                problems.append(f"naive send: {failed} of {sent + failed} failed")
        if args.sweep:
            problems += sweep(instance, app, database, config, recipients)
        for sink in sinks:
            if not sink.alive():
                problems.append(f"smtp-sink died: {sink.log_tail()}")
        if dump and len(sinks) > 1 and not args.no_kill:
            killed_config = {**config, "CAMPAIGN_SENDER_PROCESSES": args.processes}
            problems += kill_relay_send(instance, killed_config, app, database, sinks)
        database.close()
    checked, found = raw_bytes_check(tmp / "raw", secret_key, args.raw_count)
    problems += found
    print(
        f"aiosmtpd raw bytes of a {checked}-recipient send: CRLF only, lines < "
        f"{MAX_LINE_OCTETS} octets, headers, token, name: "
        f"{'OK' if not found else f'{len(found)} problems'}"
    )
    for processes, rate in rates.items():
        print(
            f"rate, {counted_processes(processes)}: {rate:,.0f} msg/s (target >= "
            f"{TARGET_RATE:,}): {verdict(rate >= TARGET_RATE)}"
        )
        if naive_rate:
            ratio = rate / naive_rate
            print(
                f"ours / naive, {counted_processes(processes)}: {ratio:.1f}x (target >= "
                f"{TARGET_RATIO:.0f}x): {verdict(ratio >= TARGET_RATIO)}"
            )
    for processes, result in results.items():
        peak = max(result["peak_rss_mb"], result["sender_peak_rss_mb"])
        within = f" (target < {TARGET_RSS_MB} MB): {verdict(peak < TARGET_RSS_MB)}"
        target = within if args.memory else ""
        print(f"peak RSS of one process, {counted_processes(processes)}: {peak:.0f} MB{target}")
    return problems


def main(argv=None):
    """Set up, measure, print; the exit code says whether something broke."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weprode-bench-send-") as tmp:
        try:
            problems = run(args, Path(tmp))
        except (_harness.SinkUnavailable, _harness.ServerStartError) as error:
            print(f"smtp-sink unavailable: {error}", file=sys.stderr)
            return 2
    for problem in problems[:20]:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    if len(problems) > 20:
        print(f"... and {len(problems) - 20} more", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
