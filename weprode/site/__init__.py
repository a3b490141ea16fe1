"""Public pages: home, services, about, legal notice, privacy policy, robots, sitemap."""

from flask import Flask

from . import views


def init_app(app: Flask) -> None:
    """Register the public pages."""
    app.register_blueprint(views.bp)
