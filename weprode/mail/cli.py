"""`flask --app app outbox ...`: look at and retry the mails waiting for the relay."""

import click
from flask import Flask
from flask.cli import with_appcontext

from ..cli import counted
from ..db import get_db, utcnow
from . import outbox


@click.group("outbox")
def outbox_group():
    """Mails waiting for the relay."""


@outbox_group.command("retry")
@click.option(
    "--force",
    is_flag=True,
    help="Send every waiting and parked message now, whatever its next attempt time.",
)
@with_appcontext
def outbox_retry_command(force):
    """Send the messages that are due (run from a timer every few minutes).

    With --force (once the relay, or what parked a message, is fixed), every message
    waiting or parked is sent now; one another sender holds is left to it.

    Exits with status 1 when the relay failed, so the timer's failure shows in monitoring,
    and 2 when this pass parked a message that can never be sent (`outbox list` shows why);
    the other messages were sent all the same.
    """
    send = outbox.send_all_now if force else outbox.send_due
    report = send(get_db(), utcnow())
    click.echo(f"sent {report.sent}, still waiting {report.waiting}")
    if report.parked:
        click.echo(
            f"{counted(report.parked, 'message')} can never be sent and "
            f"{'was' if report.parked == 1 else 'were'} parked; see `outbox list`",
            err=True,
        )
    if report.failed:
        click.echo("the mail relay failed; the rest will be tried again later", err=True)
        raise click.exceptions.Exit(1)
    if report.parked:
        raise click.exceptions.Exit(2)


@outbox_group.command("list")
@with_appcontext
def outbox_list_command():
    """List the messages still waiting or parked, with their attempts and last error."""
    rows = outbox.pending(get_db())
    if not rows:
        click.echo("The outbox is empty: no message is waiting or parked.")
        return
    for row in rows:
        state = (
            f"FAILED {row['failed_at']}" if row["failed_at"] else f"next {row['next_attempt_at']}"
        )
        click.echo(
            f"{row['id']}\t{row['kind']}\tcreated {row['created_at']}\t"
            f"attempts {row['attempts']}\t{state}\t{row['last_error'] or ''}"
        )


def init_app(app: Flask) -> None:
    """Register the `outbox` commands."""
    app.cli.add_command(outbox_group)
