"""`flask --app app subscribers ...`: add, import and export subscribers."""

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from .. import audit
from ..cli import counted
from ..db import get_db, utcnow
from . import export, importing, subscribers


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
    export.write_export(get_db(), output, export_format)


MAX_LISTED = 50


def label_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Check --source and --legal-basis as the import service will."""
    try:
        return importing.check_label(param.name, value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def echo_listed(items: list[tuple[int, str]], err: bool = False) -> None:
    """Print `line N: text` for at most `MAX_LISTED` items, then how many were left out."""
    for line, text in items[:MAX_LISTED]:
        click.echo(f"line {line}: {text}", err=err)
    if len(items) > MAX_LISTED:
        click.echo(f"... and {len(items) - MAX_LISTED} more", err=err)


@subscribers_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--source", required=True, callback=label_option, help="Where the list came from.")
@click.option(
    "--legal-basis",
    required=True,
    callback=label_option,
    help='Why we may write to these people, e.g. "consent collected at trade fair 2026".',
)
@click.option("--confirmed", is_flag=True, help="Add them as active subscribers on our authority.")
@click.option(
    "--double-opt-in", is_flag=True, help="Store them as pending and mail each a confirmation."
)
@with_appcontext
def subscribers_import_command(file, source, legal_basis, confirmed, double_opt_in):
    """Import subscribers from a CSV file with the columns email, first_name, language.

    Every row is checked first: if any is invalid nothing is imported (exit code 1).
    Addresses that unsubscribed or were erased are refused and listed.
    """
    if confirmed == double_opt_in:
        raise click.UsageError("State the mode: exactly one of --confirmed or --double-opt-in.")
    mode = "confirmed" if confirmed else "double-opt-in"
    with click.progressbar(length=1, label="Importing", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        report = importing.import_subscribers(
            get_db(),
            file,
            source=source,
            legal_basis=legal_basis,
            mode=mode,
            actor=audit.cli_actor(),
            now=utcnow(),
            progress=progress,
        )
    if not report.imported:
        click.echo(f"Nothing imported: {counted(len(report.errors), 'invalid row')}.", err=True)
        echo_listed(report.errors, err=True)
        raise click.exceptions.Exit(1)
    merged = counted(report.merged_duplicates, "duplicate")
    click.echo(f"rows read: {report.total_rows} ({merged} merged)")
    if mode == "confirmed":
        click.echo(f"added as active subscribers: {report.added}")
    else:
        click.echo(f"stored as pending, confirmation mail sent: {report.mails_sent}")
    click.echo(f"already subscribed, left as they are: {report.already_subscribed}")
    refused = report.refused_suppressed
    click.echo(f"refused, {importing.REFUSED_REASON}: {len(refused)}")
    echo_listed(refused)
    if report.mails_limited:
        click.echo(f"not mailed, mailed too recently: {report.mails_limited}")
    if report.mails_failed:
        click.echo(
            f"confirmation mails that failed: {report.mails_failed} "
            "(they stay pending; import the file again later to mail them)",
            err=True,
        )


@click.group("import")
def import_group():
    """Imports that stopped mid-way: list, resume or roll back (the worker does it too)."""


@import_group.command("list")
@with_appcontext
def import_list_command():
    """The latest imports: id, state, progress, counts."""
    for record in importing.batches.recent(get_db()):
        click.echo(
            f"{record['id']}  {record['status']:<12}  {record['started_at']}  "
            f"{record['committed_entries']}/{record['entries']} addresses  "
            f"added {record['added'] or 0}  by {record['actor']}  ({record['source']})"
        )


@import_group.command("resume")
@click.argument("import_id", type=int)
@with_appcontext
def import_resume_command(import_id):
    """Finish an import whose process died: all its records become visible at once."""
    try:
        report = importing.resume(get_db(), import_id, utcnow())
    except importing.ImportStateError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"import {import_id} done: added {report.added}")


@import_group.command("rollback")
@click.argument("import_id", type=int)
@with_appcontext
def import_rollback_command(import_id):
    """Undo an unfinished import as a whole: nothing of it was ever visible."""
    try:
        deleted = importing.roll_back(get_db(), import_id, audit.cli_actor(), utcnow())
    except importing.ImportStateError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"import {import_id} rolled back: {deleted} hidden record(s) deleted")


def init_app(app: Flask) -> None:
    """Register the `subscribers` and `import` commands."""
    app.cli.add_command(subscribers_group)
    app.cli.add_command(import_group)
