"""`flask --app app migrate`: the one command that belongs to no capability.

Every capability registers its own commands from its `cli.py` (`subscribers` in
newsletter/, `staff` in staff/, `privacy` and `retention` in privacy/, `campaigns` in
campaigns/, `outbox` in mail/).
"""

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from . import keys, migrations
from .db import get_db, utcnow


@click.command("migrate")
@with_appcontext
def migrate_command():
    """Apply pending database migrations (safe to run again)."""
    db = get_db()
    applied = migrations.apply_pending(db)
    # Record (or check) the key now, so a deployment with the wrong key stops here.
    keys.settle_app(current_app, db, utcnow())
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("database is up to date")


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """`1 row`, `2 rows`: a count with its noun agreeing, for the commands that speak
    English only (operations: doctor, backups, outbox). Commands staff run go through
    the catalogue instead (`in_staff_language`)."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def in_staff_language(command: Callable) -> Callable:
    """Run a command's body in STAFF_LANGUAGE: staff read what it prints (messages from
    the catalogue, figures with the language's separators). Put it below @with_appcontext.

    Help texts stay English: click builds them before any app is loaded.
    """

    @functools.wraps(command)
    def in_language(*args: Any, **kwargs: Any) -> Any:
        with force_locale(current_app.config["STAFF_LANGUAGE"]):
            return command(*args, **kwargs)

    return in_language


def init_app(app: Flask) -> None:
    """Register the command on the app."""
    app.cli.add_command(migrate_command)
