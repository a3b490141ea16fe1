"""Sending one campaign from several processes (CAMPAIGN_SENDER_PROCESSES above 1).

One sending process is CPU-bound: each message is built in Python, and its threads
share one interpreter lock. The process that took the campaign over (the holder, see
`senders`) therefore forks N sending processes and only watches them: it beats the
campaign's heartbeat, reports progress and reaps them. Each sending process claims
batches through the ledger exactly as a thread does (the claim's UPDATE is the
arbiter: no row is claimed twice), with its own SMTP sessions
(CAMPAIGN_SMTP_CONNECTIONS each, each relay's `max_connections` shared out), its own
recorder and its own journal, named after the holder's sender id and its number. A
provider's limits and backoff hold for the processes together (see
`shared_pacing`).

The promises of one process hold:
- kill -9 of the holder: every sending process asked the kernel to kill it when its
  parent dies (PR_SET_PDEATHSIG), so nothing sends on behind the holder's back; whoever
  takes the campaign over replays every journal of the campaign, then requeues the
  rest (see `senders.take_over`).
- kill -9 (or a crash) of one sending process: the holder reaps it, replays its
  journal, requeues its rows in flight and forgets its provider sessions; the others
  carry on. Its requeued rows go out in this pass if a process still serves their
  provider, else in the next pass (the worker, or `campaigns send`, comes back).
- SIGTERM or Ctrl-C, to the holder or to the whole process group: every process
  finishes its message in flight, records it, gives back the rows it never began and
  exits; then the holder lets go of the campaign.
- pause and cancel: a claim takes nothing once the campaign is not sending, and the
  holder's heartbeat, which sees it too, stops every process.
"""

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from ..db import Database, connect, utcnow
from ..mail import relays
from . import pacing, senders
from .journal import journal_folder
from .sending import ProgressReport, heartbeat_thread, send_from_this_process
from .shared_pacing import SharedPacing

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def sender_processes(config: Mapping[str, Any]) -> int:
    """How many processes send one campaign."""
    return max(1, int(config.get("CAMPAIGN_SENDER_PROCESSES", 1)))


def member_sender_id(holder_id: str, member: int) -> str:
    """The sender id of sending process `member` (its rows' `claimed_by`, its journal)."""
    return f"{holder_id}.p{member}"


def die_with_holder(holder_pid: int) -> None:
    """Have the kernel SIGKILL this process when the holder dies (Linux); elsewhere, a
    thread that checks every 0.2 s."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        asked = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):
        asked = False
    if not asked:

        def watch() -> None:
            while os.getppid() == holder_pid:
                time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != holder_pid:
        os._exit(1)  # the holder died before the request took effect


class TeamStop:
    """The stop of a send in processes: set by the holder, seen by every process.

    A pipe, not a `multiprocessing.Event`: setting such an event waits for each
    process waiting on it to wake, and one killed with -9 never does, so the holder
    would hang. Here the holder closes the pipe's writing end (and dies with it
    closed), and each process's watcher reads end-of-file.
    """

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.event = threading.Event()
        self.lock = threading.Lock()

    def set(self) -> None:
        """Stop every process of the send (in the holder)."""
        self.event.set()
        with self.lock:
            if self.write_fd is not None:
                os.close(self.write_fd)
                self.write_fd = None

    def is_set(self) -> bool:
        """True once the holder stopped the send (in the holder)."""
        return self.event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` for the stop (in the holder)."""
        return self.event.wait(timeout)

    def watch_from_child(self, stop: threading.Event) -> None:
        """Set `stop` once the holder stops the send or dies (in a sending process)."""
        if self.write_fd is not None:
            os.close(self.write_fd)  # else this process's own copy would keep it open

        def watch() -> None:
            while os.read(self.read_fd, 1):
                pass
            stop.set()

        threading.Thread(target=watch, daemon=True).start()

    def close(self) -> None:
        """Close the holder's ends once every process has ended."""
        self.set()
        os.close(self.read_fd)


def sending_process(
    app: Flask,
    campaign_id: int,
    sender_id: str,
    member: int,
    providers: list[str],
    shared: SharedPacing,
    team_stop: TeamStop,
    relays_here: list[relays.Relay],
    holder_pid: int,
) -> None:
    """The body of one forked sending process."""
    die_with_holder(holder_pid)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    team_stop.watch_from_child(stop)
    shared.join(member)
    with app.app_context():
        db = connect(app.config["DATABASE"])  # never the holder's: a connection is not forked
        try:
            send_from_this_process(
                app,
                db,
                campaign_id,
                sender_id,
                stop=stop,
                holder=False,
                providers=providers,
                shared=shared,
                relays_here=relays_here,
            )
        finally:
            db.close()
            shared.close()


def pacing_lock_path(database: str, campaign_id: int, holder_id: str) -> Path:
    """The flock file of one send's shared pacing, beside the journals."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", holder_id)
    return journal_folder(database) / f"{campaign_id}-{safe}.pacing"


def start_processes(
    app: Flask, db: Database, campaign_id: int, holder_id: str, team_stop: TeamStop
) -> tuple[dict[int, multiprocessing.Process], SharedPacing]:
    """Fork the sending processes (those with a share of some relay); returns them by
    number, and their shared pacing."""
    config = app.config
    count = sender_processes(config)
    every_relay = relays.configured_relays(config)
    providers = pacing.queued_providers(db, campaign_id)
    shared = SharedPacing(
        providers, count, pacing_lock_path(config["DATABASE"], campaign_id, holder_id)
    )
    # Fork, not spawn: the app and its configuration (which may hold objects) come as
    # they are, and a process starts in milliseconds. The child opens its own database
    # connections and never touches the holder's.
    context = multiprocessing.get_context("fork")
    children = {}
    for member in range(count):
        relays_here = relays.share_of(every_relay, member, count)
        if not relays_here:
            continue  # more processes than relay sessions: this one would have none
        child = context.Process(
            target=sending_process,
            args=(
                app,
                campaign_id,
                member_sender_id(holder_id, member),
                member,
                providers,
                shared,
                team_stop,
                relays_here,
                os.getpid(),
            ),
            name=f"campaign-{campaign_id}-sender-{member}",
            daemon=True,
        )
        child.start()
        children[member] = child
    return children, shared


def reap(
    app: Flask,
    db: Database,
    campaign_id: int,
    holder_id: str,
    member: int,
    child: multiprocessing.Process,
    shared: SharedPacing,
) -> None:
    """A sending process ended: put its rows straight (see `senders.requeue_rows_of`)."""
    child.join()
    senders.requeue_rows_of(db, campaign_id, member_sender_id(holder_id, member), utcnow())
    shared.forget(member)
    if child.exitcode != 0:
        app.logger.warning(
            "campaign %s: sending process %s ended with %s; its rows in flight were requeued",
            campaign_id,
            member,
            child.exitcode,
        )


def send_from_processes(
    app: Flask,
    db: Database,
    campaign_id: int,
    holder_id: str,
    *,
    progress: Callable[[dict[str, int]], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Send with CAMPAIGN_SENDER_PROCESSES processes until they are all done.

    The caller holds the campaign (`senders.take_over`) and lets go afterwards.
    """
    team_stop = TeamStop()
    # Fork before starting any thread of ours: a child gets only the forking thread.
    children, shared = start_processes(app, db, campaign_id, holder_id, team_stop)
    beat = threading.Thread(
        target=heartbeat_thread,
        args=(
            app,
            campaign_id,
            holder_id,
            team_stop,
            senders.HEARTBEAT_TIMEOUT.total_seconds() / 3,
        ),
        daemon=True,
    )
    beat.start()
    report = ProgressReport(progress, db, campaign_id)
    try:
        while children:
            sentinels = {child.sentinel: member for member, child in children.items()}
            for ended in multiprocessing.connection.wait(list(sentinels), timeout=0.1):
                member = sentinels[ended]
                reap(app, db, campaign_id, holder_id, member, children.pop(member), shared)
            if stop is not None and stop.is_set():
                team_stop.set()
            report.tick()
    finally:
        team_stop.set()
        for member, child in children.items():  # only after an error of the holder's
            child.join()
            reap(app, db, campaign_id, holder_id, member, child, shared)
        beat.join()
        team_stop.close()
        with contextlib.suppress(OSError):
            shared.lock_path.unlink()
    report.tick(force=True)
