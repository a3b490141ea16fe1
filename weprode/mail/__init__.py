"""Mail: render and send one message (Flask-Mail), pipelined bulk SMTP, the outbox."""

from . import messages, outbox


def init_app(app):
    """Bind Flask-Mail and register the `outbox` commands."""
    messages.init_app(app)
    outbox.init_app(app)
