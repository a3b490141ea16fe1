"""`flask bounces ...`: reading bounce and complaint reports."""

import click
from flask import Flask


@click.group("bounces")
def bounces_group() -> None:
    """Bounce and complaint reports (see README, "Bounces")."""


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(bounces_group)
