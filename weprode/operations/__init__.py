"""Running the site: health for monitors (`/healthz`) and `flask doctor` for operators."""

from flask import Flask

from . import doctor_cli, views


def init_app(app: Flask) -> None:
    """Register `/healthz` and the `doctor` command."""
    app.register_blueprint(views.bp)
    doctor_cli.init_app(app)
