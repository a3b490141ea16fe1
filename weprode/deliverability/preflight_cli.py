"""`flask --app app deliverability preflight`: the pre-flight check from a shell.

Speaks STAFF_LANGUAGE (see `cli.StaffCommand`), or the language --language names.
"""

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..cli import StaffGroup, staff_option
from . import preflight


def marks() -> dict[str, str]:
    """How each check's outcome is shown, in the current locale."""
    return {
        preflight.OK: _("ok"),
        preflight.WARNING: _("WARNING"),
        preflight.FAILED: _("FAILED"),
    }


@click.group(
    "deliverability",
    cls=StaffGroup,
    help=_l('Deliverability checks (see README, "Bounces and complaints").'),
)
def deliverability_group() -> None:
    pass


@deliverability_group.command(
    "preflight",
    help=_l("SPF, DKIM, DMARC, BOUNCE_ADDRESS, one-click URL; exit 1 when a check failed."),
)
@staff_option(
    "--language",
    type=click.Choice(["en", "fr"]),
    default=None,
    help=_l("Language of the advice (default: STAFF_LANGUAGE)."),
)
@with_appcontext
def preflight_command(language):
    with force_locale(language or current_app.config["STAFF_LANGUAGE"]):
        checks = preflight.run(current_app.config)
        shown = marks()
        width = max(map(len, shown.values()))
        for check in checks:
            line = _("%(check)s: %(message)s", check=check.name, message=check.message)
            click.echo(f"{shown[check.status].ljust(width)} {line}")
    if preflight.failed(checks):
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(deliverability_group)
