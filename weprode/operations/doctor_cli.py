"""`flask --app app doctor`: check the configuration and say what to fix (exit 1 if wrong).

Speaks STAFF_LANGUAGE (see `cli.StaffCommand`).
"""

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..cli import StaffCommand, figure
from ..db import get_db, utcnow
from . import doctor

# Tests put a fake DNS lookup here (a function name -> TXT record or None); there is no
# DNS to ask on a test machine.
TXT_LOOKUP_EXTENSION = "weprode.doctor_txt_lookup"


def verdict_labels() -> dict[doctor.Verdict, str]:
    """How each verdict is shown, in the current locale."""
    return {
        doctor.Verdict.OK: _("OK"),
        doctor.Verdict.WARN: _("WARN"),
        doctor.Verdict.FAIL: _("FAIL"),
    }


@click.command(
    "doctor",
    cls=StaffCommand,
    help=_l("Check keys, PUBLIC_URL, the mail relay, DKIM, company facts and health."),
)
@with_appcontext
def doctor_command():
    lookup = current_app.extensions.get(TXT_LOOKUP_EXTENSION, doctor.resolve_txt)
    findings = doctor.run(current_app.config, get_db(), utcnow(), lookup_txt=lookup)
    labels = verdict_labels()
    width = max(map(len, labels.values()))
    click.echo(_("Checking the configuration against what production needs:"))
    for finding in findings:
        label = labels[finding.verdict].ljust(width)
        click.echo(
            f"{label} " + _("%(check)s: %(message)s", check=finding.check, message=finding.message)
        )
    failed = sum(finding.verdict is doctor.Verdict.FAIL for finding in findings)
    if failed:
        click.echo(
            ngettext(
                "%(count)s problem to fix.",
                "%(count)s problems to fix.",
                failed,
                count=figure(failed),
            )
        )
        raise SystemExit(1)
    click.echo(_("Nothing to fix."))


def init_app(app: Flask) -> None:
    """Register the command."""
    app.cli.add_command(doctor_command)
