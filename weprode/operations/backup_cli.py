"""`flask --app app backup create|list|restore`: online backups and restoring one.

Speaks STAFF_LANGUAGE (see `cli.StaffCommand`).
"""

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..cli import CommandError, StaffGroup, confirm, figure, staff_option
from ..db import get_db, release_thread_connection, utcnow
from . import backups, reconcile


def backup_folder() -> Path:
    """BACKUP_FOLDER, or `<instance>/backups`."""
    configured = current_app.config["BACKUP_FOLDER"]
    return Path(configured or Path(current_app.instance_path) / "backups")


def human_size(size: float) -> str:
    """1234567 -> '1.2 MB' ('1,2 Mo' in French)."""
    if size < 1000:
        return _("%(size)s B", size=figure(int(size)))
    for unit in ("kB", "MB"):
        size /= 1000
        if size < 1000:
            shown = format_decimal(size, "#,##0.0")
            return _("%(size)s kB", size=shown) if unit == "kB" else _("%(size)s MB", size=shown)
    return _("%(size)s GB", size=format_decimal(size / 1000, "#,##0.0"))


@click.group(
    "backup",
    cls=StaffGroup,
    help=_l("Back up the database (online), list backups, restore one."),
)
def backup_group():
    pass


@backup_group.command(
    "create",
    help=_l(
        "Copy the database while the site runs, check it, write its keys beside it.\n\n"
        "Then deletes the backups in that folder older than BACKUP_KEEP_DAYS."
    ),
)
@staff_option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help=_l("Folder for the backup (default: BACKUP_FOLDER, or instance/backups)."),
)
@with_appcontext
def create_command(output):
    folder = output or backup_folder()
    now = utcnow()
    try:
        made = backups.create(current_app.config["DATABASE"], folder, current_app.config, now)
    except (backups.BackupError, OSError) as error:
        raise CommandError(str(error)) from error
    click.echo(_("%(path)s (%(size)s, integrity ok)", path=made.path, size=human_size(made.size)))
    click.echo(_("%(path)s (the keys it was signed with; mode 0600)", path=made.keys_path))
    keep_days = current_app.config["BACKUP_KEEP_DAYS"]
    for old in backups.delete_expired(folder, keep_days, now, dry_run=False):
        click.echo(
            ngettext(
                "deleted %(name)s (older than %(num)s day)",
                "deleted %(name)s (older than %(num)s days)",
                keep_days,
                name=old.path.name,
            )
        )


@backup_group.command("list", help=_l("The backups, oldest first, with their time (UTC) and size."))
@staff_option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    help=_l("Folder of the backups (default: BACKUP_FOLDER, or instance/backups)."),
)
@with_appcontext
def list_command(folder):
    found = backups.listing(folder or backup_folder())
    if not found:
        click.echo(_("no backups"))
    for backup in found:
        click.echo(
            f"{backup.taken_at:%Y-%m-%d %H:%M:%S} UTC  {human_size(backup.size):>9}  {backup.path}"
        )


@backup_group.command(
    "restore",
    help=_l(
        "Replace the database with BACKUP_FILE (the site and the worker must be stopped).\n\n"
        "The replaced database is kept beside it as `<name>.before-restore-<time>`; the "
        "unsubscribes, objections and erasures it recorded since the backup are applied "
        "to the restored one."
    ),
)
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@staff_option("--yes", is_flag=True, help=_l("Do not ask for confirmation."))
@with_appcontext
def restore_command(backup_file, yes):
    database = current_app.config["DATABASE"]
    question = _(
        "Replace %(database)s with %(backup)s? Everything recorded since the backup will be "
        "gone (the current file is kept beside it)",
        database=database,
        backup=backup_file.name,
    )
    if not yes and not confirm(question):
        raise CommandError(_("Nothing changed."))
    release_thread_connection(database)
    now = utcnow()
    try:
        kept = backups.restore(backup_file, database, current_app.config, now)
    except backups.BackupError as error:
        raise CommandError(str(error)) from error
    click.echo(
        _(
            "restored %(backup)s; the replaced database is kept as %(kept)s",
            backup=backup_file.name,
            kept=kept,
        )
    )
    done = reconcile.reconcile(get_db(), kept, now)
    click.echo(
        ngettext(
            "carried over %(count)s suppression recorded since the backup: %(churned)s "
            "unsubscribed again, %(erased)s erased again",
            "carried over %(count)s suppressions recorded since the backup: %(churned)s "
            "unsubscribed again, %(erased)s erased again",
            done.carried,
            count=figure(done.carried),
            churned=figure(done.churned),
            erased=figure(done.erased),
        )
    )
    click.echo(
        _(
            "Now run the retention purge (flask --app app retention purge), then start the "
            "site and the worker."
        )
    )


def init_app(app: Flask) -> None:
    """Register the `backup` commands."""
    app.cli.add_command(backup_group)
