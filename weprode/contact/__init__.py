"""Contact and meeting-request forms; what they send becomes prospect data."""

from . import views


def init_app(app):
    """Register the contact pages."""
    app.register_blueprint(views.bp)
