"""E-mail campaigns: compose (drafts, placeholders), render (MIME), ledger and worker,
and the public archive of those staff publish."""

from flask import Flask

from . import archive_views, cli


def init_app(app: Flask) -> None:
    """Register the archive pages and the `campaigns` commands (staff views: admin)."""
    app.register_blueprint(archive_views.bp)
    cli.init_app(app)
