"""The newsletter: double opt-in signup, one-click opt-out, churn and undo, subscribers."""

from . import cli, views


def init_app(app):
    """Register the signup and unsubscribe pages and the `subscribers` commands."""
    app.register_blueprint(views.bp)
    cli.init_app(app)
