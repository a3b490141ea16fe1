"""Every `flask --app app ...` command, thin over the capability modules."""

import click
from flask.cli import with_appcontext

from . import migrations, subscribers
from .db import get_db, utcnow


@click.command("migrate")
@with_appcontext
def migrate_command():
    """Apply pending database migrations (safe to run again)."""
    applied = migrations.apply_pending(get_db())
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("database is up to date")


@click.group("subscribers")
def subscribers_group():
    """Manage newsletter subscribers."""


@subscribers_group.command("add")
@click.argument("email")
@click.option("--first-name", default=None, help="The subscriber's first name.")
@click.option("--language", type=click.Choice(subscribers.LANGUAGES), default="en")
@click.option("--source", required=True, help="Where the person's consent came from.")
@with_appcontext
def subscribers_add_command(email, first_name, language, source):
    """Add a confirmed subscriber on staff authority (refuses suppressed addresses)."""
    try:
        _, added = subscribers.add_confirmed(
            get_db(), email, source, utcnow(), first_name=first_name, language=language
        )
    except (subscribers.InvalidAddress, subscribers.SuppressedAddress) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"added {email}" if added else f"{email} is already subscribed")


@subscribers_group.command("export")
@click.option("--format", "export_format", type=click.Choice(["csv", "json"]), default="csv")
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: standard output).",
)
@with_appcontext
def subscribers_export_command(export_format, output):
    """Write every subscriber with status, language, dates and churn source."""
    subscribers.write_export(get_db(), output, export_format)


def init_app(app):
    """Register the commands on the app."""
    app.cli.add_command(migrate_command)
    app.cli.add_command(subscribers_group)
