"""Running the site: health for monitors (`/healthz`)."""

from flask import Flask

from . import views


def init_app(app: Flask) -> None:
    """Register `/healthz`."""
    app.register_blueprint(views.bp)
