"""Privacy: the retention rules and their purge, and people's GDPR rights."""

from flask import Flask

from . import cli
from .rights import views as rights_views


def init_app(app: Flask) -> None:
    """Register the rights pages and the `privacy` and `retention` commands."""
    app.register_blueprint(rights_views.bp)
    cli.init_app(app)
