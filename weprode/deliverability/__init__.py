"""Deliverability: VERP envelope senders, reading bounces and complaints, their effects."""

from flask import Flask

from . import cli


def init_app(app: Flask) -> None:
    """Register the `bounces` commands."""
    cli.init_app(app)
