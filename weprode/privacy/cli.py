"""`flask --app app privacy ...` (rights requests by post or e-mail) and `retention purge`."""

import json
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .. import audit
from ..db import get_db, utcnow
from ..newsletter import subscribers
from . import retention
from .rights import records, service


@click.group("privacy")
def privacy_group():
    """Answer rights requests that arrive by post or e-mail (check the sender first)."""


def rights_address(email: str) -> str:
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
        audit.cli_actor(),
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
    audit.record(db, audit.cli_actor(), "rights_erase", now, target=f"rights_request:{request_id}")
    click.echo(
        f"erased {email} (request {request_id}; deleted {service.describe_removed(removed)})"
    )


@click.group("retention")
def retention_group():
    """Apply the retention policy (see /privacy)."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what is due.")
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO-DATE",
    help="Pretend it is this date (UTC), e.g. 2029-12-01.",
)
@with_appcontext
def retention_purge_command(dry_run, now_text):
    """Delete (or anonymise) what has outlived its retention period; safe to repeat."""
    now = utcnow()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError as error:
            raise click.BadParameter(f"not an ISO date: {now_text}", param_hint="--now") from error
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    results = retention.purge(
        get_db(), now, dry_run=dry_run, log_folder=retention.log_folder(current_app)
    )
    verb = "due" if dry_run else "purged"
    for result in results:
        details = ", ".join(f"{k} {v}" for k, v in result.details.items() if v)
        click.echo(f"{result.key}: {result.due} {verb}" + (f" ({details})" if details else ""))


def init_app(app: Flask) -> None:
    """Register the `privacy` and `retention` command groups."""
    app.cli.add_command(privacy_group)
    app.cli.add_command(retention_group)
