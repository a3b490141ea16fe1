"""Contact and meeting-request forms; what they send becomes prospect data."""

from flask import Flask

from . import views


def init_app(app: Flask) -> None:
    """Register the contact pages."""
    app.register_blueprint(views.bp)
