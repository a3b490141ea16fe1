"""`flask --app app migrate`: the one command that belongs to no capability.

Every capability registers its own commands from its `cli.py` (`subscribers` in
newsletter/, `staff` in staff/, `privacy` and `retention` in privacy/, `campaigns` in
campaigns/, `outbox` in mail/).
"""

import click
from flask import Flask
from flask.cli import with_appcontext

from . import migrations
from .db import get_db


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


def init_app(app: Flask) -> None:
    """Register the command on the app."""
    app.cli.add_command(migrate_command)
