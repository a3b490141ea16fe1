"""`flask --app app backup create|list|restore`: online backups and restoring one."""

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..cli import counted
from ..db import get_db, release_thread_connection, utcnow
from . import backups, reconcile


def backup_folder() -> Path:
    """BACKUP_FOLDER, or `<instance>/backups`."""
    configured = current_app.config["BACKUP_FOLDER"]
    return Path(configured or Path(current_app.instance_path) / "backups")


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"


@click.group("backup")
def backup_group():
    """Back up the database (online), list backups, restore one."""


@backup_group.command("create")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the backup (default: BACKUP_FOLDER, or instance/backups).",
)
@with_appcontext
def create_command(output):
    """Copy the database while the site runs, check it, write its keys beside it.

    Then deletes the backups in that folder older than BACKUP_KEEP_DAYS.
    """
    folder = output or backup_folder()
    now = utcnow()
    try:
        made = backups.create(current_app.config["DATABASE"], folder, current_app.config, now)
    except (backups.BackupError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{made.path} ({human_size(made.size)}, integrity ok)")
    click.echo(f"{made.keys_path} (the keys it was signed with; mode 0600)")
    keep_days = current_app.config["BACKUP_KEEP_DAYS"]
    for old in backups.delete_expired(folder, keep_days, now, dry_run=False):
        click.echo(f"deleted {old.path.name} (older than {keep_days} days)")


@backup_group.command("list")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def list_command(folder):
    """The backups, oldest first, with their time (UTC) and size."""
    found = backups.listing(folder or backup_folder())
    if not found:
        click.echo("no backups")
    for backup in found:
        click.echo(
            f"{backup.taken_at:%Y-%m-%d %H:%M:%S} UTC  {human_size(backup.size):>9}  {backup.path}"
        )


@backup_group.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(backup_file, yes):
    """Replace the database with BACKUP_FILE (the site and the worker must be stopped).

    The replaced database is kept beside it as `<name>.before-restore-<time>`; the
    unsubscribes, objections and erasures it recorded since the backup are applied
    to the restored one.
    """
    database = current_app.config["DATABASE"]
    if not yes:
        click.confirm(
            f"Replace {database} with {backup_file.name}? Everything recorded since the "
            "backup will be gone (the current file is kept beside it)",
            abort=True,
        )
    release_thread_connection(database)
    now = utcnow()
    try:
        kept = backups.restore(backup_file, database, current_app.config, now)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"restored {backup_file.name}; the replaced database is kept as {kept}")
    done = reconcile.reconcile(get_db(), kept, now)
    click.echo(
        f"carried over {counted(done.carried, 'suppression')} recorded since the backup: "
        f"{done.churned} unsubscribed again, {done.erased} erased again"
    )
    click.echo(
        "Now run the retention purge (flask --app app retention purge), then start the "
        "site and the worker."
    )


def init_app(app: Flask) -> None:
    """Register the `backup` commands."""
    app.cli.add_command(backup_group)
