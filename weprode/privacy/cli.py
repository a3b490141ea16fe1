"""`flask retention purge`: apply the retention policy from the command line or a timer."""

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import get_db, utcnow
from . import retention


@click.group("retention")
def retention_group():
    """Apply the retention policy (see /privacy)."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what is due.")
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO-DATE",
    help="Pretend it is this date (UTC), e.g. 2029-12-01.",
)
@with_appcontext
def retention_purge_command(dry_run, now_text):
    """Delete (or anonymise) what has outlived its retention period; safe to repeat."""
    now = utcnow()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError as error:
            raise click.BadParameter(f"not an ISO date: {now_text}", param_hint="--now") from error
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    results = retention.purge(
        get_db(), now, dry_run=dry_run, log_folder=retention.log_folder(current_app)
    )
    verb = "due" if dry_run else "purged"
    for result in results:
        details = ", ".join(f"{k} {v}" for k, v in result.details.items() if v)
        click.echo(f"{result.key}: {result.due} {verb}" + (f" ({details})" if details else ""))


def init_app(app):
    """Register the command group."""
    app.cli.add_command(retention_group)
