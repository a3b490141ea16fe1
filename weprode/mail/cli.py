"""`flask --app app outbox ...`: look at and retry the mails waiting for the relay."""

import click
from flask import Flask
from flask.cli import with_appcontext

from ..db import get_db, utcnow
from . import outbox


@click.group("outbox")
def outbox_group():
    """Mails waiting for the relay."""


@outbox_group.command("retry")
@with_appcontext
def outbox_retry_command():
    """Send the messages that are due (run from a timer every few minutes).

    Exits with status 1 when the relay failed, so the timer's failure shows in monitoring.
    """
    sent, failed, waiting = outbox.send_due(get_db(), utcnow())
    click.echo(f"sent {sent}, still waiting {waiting}")
    if failed:
        click.echo("the mail relay failed; the rest will be tried again later", err=True)
        raise click.exceptions.Exit(1)


@outbox_group.command("list")
@with_appcontext
def outbox_list_command():
    """List the messages still waiting, with their attempts and last error."""
    for row in outbox.pending(get_db()):
        click.echo(
            f"{row['id']}\t{row['kind']}\tcreated {row['created_at']}\t"
            f"attempts {row['attempts']}\tnext {row['next_attempt_at']}\t{row['last_error'] or ''}"
        )


def init_app(app: Flask) -> None:
    """Register the `outbox` commands."""
    app.cli.add_command(outbox_group)
