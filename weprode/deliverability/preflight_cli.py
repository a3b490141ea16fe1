"""`flask --app app deliverability preflight`: the pre-flight check from a shell."""

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from . import preflight

MARKS = {preflight.OK: "ok", preflight.WARNING: "WARNING", preflight.FAILED: "FAILED"}


@click.group("deliverability")
def deliverability_group() -> None:
    """Deliverability checks (see README, "Bounces and complaints")."""


@deliverability_group.command("preflight")
@click.option(
    "--language",
    type=click.Choice(["en", "fr"]),
    default=None,
    help="Language of the advice (default: BABEL_DEFAULT_LOCALE).",
)
@with_appcontext
def preflight_command(language):
    """SPF, DKIM, DMARC, BOUNCE_ADDRESS, one-click URL; exit 1 when a check failed."""
    with force_locale(language or current_app.config["BABEL_DEFAULT_LOCALE"]):
        checks = preflight.run(current_app.config)
    for check in checks:
        click.echo(f"{MARKS[check.status]:<8} {check.name}: {check.message}")
    if preflight.failed(checks):
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(deliverability_group)
