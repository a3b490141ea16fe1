"""Mail: render and send one message (Flask-Mail), pipelined bulk SMTP, the outbox."""

from . import cli, messages


def init_app(app):
    """Bind Flask-Mail and register the `outbox` commands."""
    messages.init_app(app)
    cli.init_app(app)
