"""Running the site: backups and restore (health and the doctor come next)."""

from flask import Flask

from . import backup_cli


def init_app(app: Flask) -> None:
    """Register the operations commands."""
    backup_cli.init_app(app)
