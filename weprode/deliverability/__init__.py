"""Deliverability: VERP envelope senders, reading bounces and complaints, their effects."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the `bounces` and `deliverability` commands."""
    # Imported here: campaigns import `verp` from this package while loading, and the
    # command's modules import campaigns in turn.
    from . import cli, preflight_cli

    cli.init_app(app)
    preflight_cli.init_app(app)
