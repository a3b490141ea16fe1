"""`flask privacy ...`: answer rights requests that arrive by post or e-mail."""

import json

import click
from flask.cli import with_appcontext

from ... import audit
from ...cli import cli_actor
from ...db import get_db, utcnow
from ...newsletter import subscribers
from . import records, service


@click.group("privacy")
def privacy_group():
    """Answer rights requests that arrive by post or e-mail (check the sender first)."""


def rights_address(email):
    """The normalised address, or a usage error."""
    try:
        return subscribers.normalise_email(email)
    except subscribers.InvalidAddress as error:
        raise click.BadParameter(str(error), param_hint="EMAIL") from error


@privacy_group.command("export")
@click.argument("email")
@with_appcontext
def privacy_export_command(email):
    """Print everything we hold about EMAIL as one JSON document (records the request)."""
    db, now = get_db(), utcnow()
    email = rights_address(email)
    request_id = service.record_offline(db, email, "access", now)
    document = service.give_copy(db, request_id, now)
    audit.record(
        db,
        cli_actor(),
        "rights_export",
        now,
        target=f"rights_request:{request_id}",
        copy_number=document["copy_number"],
    )
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    if document["copy_number"] >= records.FEE_FROM_COPY:
        click.echo(
            f"note: copy {document['copy_number']} for this address; "
            "from the second copy a fee may apply",
            err=True,
        )


@privacy_group.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Confirm: the erasure cannot be undone.")
@with_appcontext
def privacy_erase_command(email, yes):
    """Erase everything about EMAIL but its suppression hash (records the request)."""
    if not yes:
        raise click.UsageError("Erasure cannot be undone; add --yes to confirm.")
    db, now = get_db(), utcnow()
    email = rights_address(email)
    request_id = service.record_offline(db, email, "erase", now)
    removed = service.erase(db, request_id, now)
    audit.record(db, cli_actor(), "rights_erase", now, target=f"rights_request:{request_id}")
    summary = ", ".join(f"{name}: {count}" for name, count in removed.items())
    click.echo(f"erased {email} (request {request_id}; deleted {summary})")


def init_app(app):
    """Register the command group."""
    app.cli.add_command(privacy_group)
