"""E-mail campaigns: compose (drafts, placeholders), render (MIME), ledger and worker."""

from flask import Flask

from . import cli


def init_app(app: Flask) -> None:
    """Register the `campaigns` commands (staff views live in the admin package)."""
    cli.init_app(app)
