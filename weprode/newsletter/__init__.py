"""The newsletter: double opt-in signup, one-click opt-out, churn and undo, subscribers."""

from flask import Flask

from . import cli, topics_cli, views


def init_app(app: Flask) -> None:
    """Register the signup and unsubscribe pages and the `subscribers` and `topics` commands."""
    app.register_blueprint(views.bp)
    cli.init_app(app)
    topics_cli.init_app(app)
