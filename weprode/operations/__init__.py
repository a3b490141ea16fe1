"""Running the site: backups and restore, health for monitors (`/healthz`) and
`flask doctor` for operators."""

from flask import Flask

from . import backup_cli, doctor_cli, views


def init_app(app: Flask) -> None:
    """Register `/healthz` and the `backup` and `doctor` commands."""
    app.register_blueprint(views.bp)
    backup_cli.init_app(app)
    doctor_cli.init_app(app)
