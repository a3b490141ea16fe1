"""Mail: render and send one message (Flask-Mail), pipelined bulk SMTP, the outbox."""

from flask import Flask

from . import cli, messages


def init_app(app: Flask) -> None:
    """Bind Flask-Mail and register the `outbox` commands."""
    messages.init_app(app)
    cli.init_app(app)
