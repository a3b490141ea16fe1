"""`flask --app app migrate`, `subscribers ...` and `staff ...`, thin over their modules.

The other groups live next to their capability: `privacy` in `rights/cli.py`,
`retention` in `retention_cli.py`, `campaigns` in `campaigns/cli.py`.
"""

import getpass
import sys

import click
from flask.cli import with_appcontext

from . import audit, migrations
from .db import get_db, utcnow
from .newsletter import importing, subscribers
from .staff import accounts


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


MAX_LISTED = 50


def label_option(ctx, param, value):
    """Check --source and --legal-basis as the import service will."""
    try:
        return importing.check_label(param.name, value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def echo_listed(items, err=False):
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

        def progress(done, total):
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        report = importing.import_subscribers(
            get_db(),
            file,
            source=source,
            legal_basis=legal_basis,
            mode=mode,
            actor=cli_actor(),
            now=utcnow(),
            progress=progress,
        )
    if not report.imported:
        click.echo(f"Nothing imported: {len(report.errors)} invalid row(s).", err=True)
        echo_listed(report.errors, err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"rows read: {report.total_rows} ({report.merged_duplicates} duplicates merged)")
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


def cli_actor():
    """Who ran a command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def read_new_password(password_stdin):
    """A new password from stdin (scripts) or typed twice at a hidden prompt."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("staff")
def staff_group():
    """Manage staff accounts."""


@staff_group.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_create_command(email, password_stdin):
    """Create a staff account (password: 12+ characters, not a common one)."""
    db, now = get_db(), utcnow()
    try:
        accounts.create(db, email, read_new_password(password_stdin), now)
    except (accounts.StaffError, accounts.PasswordRejected) as error:
        raise click.ClickException(str(error)) from error
    audit.record(db, cli_actor(), "staff_created", now, target=accounts.normalise_login(email))
    click.echo(f"created {accounts.normalise_login(email)}")


@staff_group.command("list")
@with_appcontext
def staff_list_command():
    """List staff accounts."""
    for account in accounts.list_accounts(get_db()):
        state = "active" if account["active"] else "disabled"
        totp = "totp" if account["has_totp"] else "no-totp"
        last = account["last_login_at"] or "never"
        click.echo(f"{account['email']}\t{state}\t{totp}\tlast login: {last}")


@staff_group.command("disable")
@click.argument("email")
@with_appcontext
def staff_disable_command(email):
    """Disable an account and end its sessions."""
    db, now = get_db(), utcnow()
    try:
        accounts.disable(db, email, now)
    except accounts.StaffError as error:
        raise click.ClickException(str(error)) from error
    audit.record(db, cli_actor(), "staff_disabled", now, target=accounts.normalise_login(email))
    click.echo(f"disabled {accounts.normalise_login(email)}")


@staff_group.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_reset_password_command(email, password_stdin):
    """Set a new password (ends the account's sessions)."""
    db, now = get_db(), utcnow()
    try:
        accounts.reset_password(db, email, read_new_password(password_stdin), now)
    except (accounts.StaffError, accounts.PasswordRejected) as error:
        raise click.ClickException(str(error)) from error
    audit.record(
        db, cli_actor(), "staff_password_reset", now, target=accounts.normalise_login(email)
    )
    click.echo(f"password changed for {accounts.normalise_login(email)}")


def init_app(app):
    """Register the commands on the app."""
    app.cli.add_command(migrate_command)
    app.cli.add_command(subscribers_group)
    app.cli.add_command(staff_group)
