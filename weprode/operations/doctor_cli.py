"""`flask --app app doctor`: check the configuration and say what to fix (exit 1 if wrong)."""

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..cli import counted
from ..db import get_db, utcnow
from . import doctor

# Tests put a fake DNS lookup here (a function name -> TXT record or None); there is no
# DNS to ask on a test machine.
TXT_LOOKUP_EXTENSION = "weprode.doctor_txt_lookup"


@click.command("doctor")
@with_appcontext
def doctor_command():
    """Check keys, PUBLIC_URL, the mail relay, DKIM, company facts and health."""
    lookup = current_app.extensions.get(TXT_LOOKUP_EXTENSION, doctor.resolve_txt)
    findings = doctor.run(current_app.config, get_db(), utcnow(), lookup_txt=lookup)
    click.echo("Checking the configuration against what production needs:")
    for finding in findings:
        click.echo(f"{finding.verdict:<5} {finding.check}: {finding.message}")
    failed = sum(finding.verdict is doctor.Verdict.FAIL for finding in findings)
    if failed:
        click.echo(f"{counted(failed, 'problem')} to fix.")
        raise SystemExit(1)
    click.echo("Nothing to fix.")


def init_app(app: Flask) -> None:
    """Register the command."""
    app.cli.add_command(doctor_command)
