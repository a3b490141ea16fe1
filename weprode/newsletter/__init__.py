"""The newsletter: double opt-in signup, one-click opt-out, churn and undo, subscribers."""

from . import views


def init_app(app):
    """Register the signup and unsubscribe pages."""
    app.register_blueprint(views.bp)
