"""`flask --app app privacy ...` (rights requests by post or e-mail) and `retention purge`.

Speaks STAFF_LANGUAGE (see `cli.StaffCommand`); the copy of someone's data stays the
JSON document the rights page gives.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from .. import audit
from ..cli import CommandError, StaffGroup, figure, staff_option
from ..db import get_db, utcnow
from ..newsletter import subscribers
from . import retention
from .rights import records, service


@click.group(
    "privacy",
    cls=StaffGroup,
    help=_l("Answer rights requests that arrive by post or e-mail (check the sender first)."),
)
def privacy_group():
    pass


def rights_address(email: str) -> str:
    """The normalised address, or a usage error."""
    try:
        return subscribers.normalise_email(email)
    except subscribers.InvalidAddress as error:
        message = _("%(email)s is not a valid e-mail address.", email=email)
        raise CommandError(message, exit_code=2) from error


# What an erasure deletes, by place (`service.erase`'s keys).
REMOVED_WORDS = {
    "subscribers": lambda n: ngettext(
        "%(count)s newsletter record", "%(count)s newsletter records", n, count=figure(n)
    ),
    "prospects": lambda n: ngettext(
        "%(count)s contact file", "%(count)s contact files", n, count=figure(n)
    ),
    "outbox": lambda n: ngettext(
        "%(count)s queued mail", "%(count)s queued mails", n, count=figure(n)
    ),
    "mail_sends": lambda n: ngettext(
        "%(count)s confirmation mail log entry",
        "%(count)s confirmation mail log entries",
        n,
        count=figure(n),
    ),
    "audit_details": lambda n: ngettext(
        "%(count)s audit entry naming the address",
        "%(count)s audit entries naming the address",
        n,
        count=figure(n),
    ),
}
# What a retention rule purges besides its main records (`retention`'s details).
DETAIL_WORDS = {
    "deliveries": lambda n: ngettext(
        "%(count)s record of a mail sent", "%(count)s records of mails sent", n, count=figure(n)
    ),
    "audit_log": lambda n: ngettext(
        "%(count)s audit log entry", "%(count)s audit log entries", n, count=figure(n)
    ),
    "login_failures": lambda n: ngettext(
        "%(count)s failed login", "%(count)s failed logins", n, count=figure(n)
    ),
    "staff_sessions": lambda n: ngettext(
        "%(count)s staff session", "%(count)s staff sessions", n, count=figure(n)
    ),
    "log_files": lambda n: ngettext(
        "%(count)s log file", "%(count)s log files", n, count=figure(n)
    ),
}


def in_words(words: dict[str, Callable[[int], str]], counts: dict[str, int]) -> list[str]:
    """Each non-zero count in words; a place without words shows its name."""
    return [
        words[name](count) if name in words else f"{name} {figure(count)}"
        for name, count in counts.items()
        if count
    ]


def describe_removed(removed: dict[str, int]) -> str:
    """Everything an erasure deleted, in words, or `nothing`."""
    return ", ".join(in_words(REMOVED_WORDS, removed)) or _("nothing")


@privacy_group.command(
    "export",
    help=_l("Print everything we hold about EMAIL as one JSON document (records the request)."),
)
@click.argument("email")
@with_appcontext
def privacy_export_command(email):
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
            _(
                "note: copy %(number)s for this address; from the second copy a fee may apply",
                number=document["copy_number"],
            ),
            err=True,
        )


@privacy_group.command(
    "erase", help=_l("Erase everything about EMAIL but its suppression hash (records the request).")
)
@click.argument("email")
@staff_option("--yes", is_flag=True, help=_l("Confirm: the erasure cannot be undone."))
@with_appcontext
def privacy_erase_command(email, yes):
    if not yes:
        raise CommandError(_("Erasure cannot be undone; add --yes to confirm."), exit_code=2)
    db, now = get_db(), utcnow()
    email = rights_address(email)
    request_id = service.record_offline(db, email, "erase", now)
    removed = service.erase(db, request_id, now)
    audit.record(db, audit.cli_actor(), "rights_erase", now, target=f"rights_request:{request_id}")
    click.echo(
        _(
            "erased %(email)s (request %(id)s; deleted %(removed)s)",
            email=email,
            id=request_id,
            removed=describe_removed(removed),
        )
    )


@click.group("retention", cls=StaffGroup, help=_l("Apply the retention policy (see /privacy)."))
def retention_group():
    pass


def rule_name(key: str) -> str:
    """A retention rule's name in words, as the privacy page gives it."""
    rules = {rule.key: rule for rule in (*retention.RULES, *retention.HOUSEKEEPING)}
    return str(rules[key].data)


def purge_line(result: retention.CategoryResult, dry_run: bool) -> str:
    """One rule's line: its name, how many were due (or purged), and of what."""
    name, num = rule_name(result.key), figure(result.due)
    if dry_run:
        line = ngettext(
            "%(name)s: %(count)s due", "%(name)s: %(count)s due", result.due, name=name, count=num
        )
    else:
        line = ngettext(
            "%(name)s: %(count)s purged",
            "%(name)s: %(count)s purged",
            result.due,
            name=name,
            count=num,
        )
    details = in_words(DETAIL_WORDS, result.details)
    return line + (f" ({', '.join(details)})" if details else "")


@retention_group.command(
    "purge",
    help=_l("Delete (or anonymise) what has outlived its retention period; safe to repeat."),
)
@staff_option("--dry-run", is_flag=True, help=_l("Only count what is due."))
@staff_option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO-DATE",
    help=_l("Pretend it is this date (UTC), e.g. 2029-12-01."),
)
@with_appcontext
def retention_purge_command(dry_run, now_text):
    now = utcnow()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError as error:
            message = _("--now: not an ISO date: %(text)s", text=now_text)
            raise CommandError(message, exit_code=2) from error
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    results = retention.purge(
        get_db(), now, dry_run=dry_run, log_folder=retention.log_folder(current_app)
    )
    for result in results:
        click.echo(purge_line(result, dry_run))


def init_app(app: Flask) -> None:
    """Register the `privacy` and `retention` command groups."""
    app.cli.add_command(privacy_group)
    app.cli.add_command(retention_group)
