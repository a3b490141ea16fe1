"""`flask campaigns worker`: the long-running sender (scheduled and queued campaigns,
interrupted sends, imports that stopped mid-way, the daily retention purge, the bounce
mailbox). Its lines go to the journal, in English; its --help is in STAFF_LANGUAGE."""

import signal
import threading
from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l

from ..cli import DaemonCommand, staff_option
from ..db import Database, get_db
from ..deliverability import imap, readers
from ..newsletter import importing
from ..privacy import retention
from . import worker


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so a send stops between batches."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


@click.command(
    "worker",
    cls=DaemonCommand,
    help=_l("Send scheduled and queued campaigns, resume interrupted ones; runs until stopped."),
)
@staff_option(
    "--poll-seconds",
    default=5.0,
    show_default=True,
    help=_l("Seconds between two looks for work when there is none."),
)
@with_appcontext
def worker_command(poll_seconds):
    stop = stop_on_signals()
    db = get_db()
    click.echo("campaign worker running (Ctrl-C to stop); retention purge once a day")

    def daily_purge(now: datetime) -> None:
        results = retention.purge(db, now, log_folder=retention.log_folder(current_app))
        click.echo("purge: " + ", ".join(f"{r.key} {r.due}" for r in results))

    def recover_imports(now: datetime) -> None:
        for import_id, what in importing.recover(db, now):
            click.echo(f"import {import_id} had stopped mid-way: {what}")

    # Imports whose process died are finished or undone on every pass.
    periodic = [(timedelta(0), recover_imports)]
    if current_app.config["BOUNCE_IMAP_HOST"]:
        every = timedelta(seconds=float(current_app.config["BOUNCE_FETCH_EVERY_SECONDS"]))
        periodic.append((every, lambda now: poll_bounce_mailbox(db)))
        click.echo(f"bounce mailbox polled every {every.total_seconds():.0f} s")
    worker.run_forever(db, stop, poll_seconds=poll_seconds, purge=daily_purge, periodic=periodic)


def poll_bounce_mailbox(db: Database) -> None:
    """One `bounces fetch` from the worker; a mailbox that fails is logged and retried."""
    try:
        with readers.from_config(current_app.config) as pool:
            imap.fetch(db, imap.settings_from(current_app.config), imap.echo_line, pool)
    except imap.MailboxError as error:
        current_app.logger.warning("bounce mailbox: %s", error)
        click.echo(f"bounce mailbox: {error}", err=True)
