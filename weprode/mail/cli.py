"""`flask --app app outbox ...`: look at and retry the mails waiting for the relay.

Speaks STAFF_LANGUAGE (see `cli.StaffCommand`); the exit codes are what timers and
monitoring read.
"""

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..cli import StaffGroup, figure, staff_moment, staff_option
from ..db import get_db, utcnow
from ..staff.preferences import DEFAULT_TIME_ZONE
from . import outbox
from .kinds import mail_kind


@click.group("outbox", cls=StaffGroup, help=_l("Mails waiting for the relay."))
def outbox_group():
    pass


@outbox_group.command(
    "retry",
    help=_l(
        "Send the messages that are due (run from a timer every few minutes).\n\n"
        "With --force (once the relay, or what parked a message, is fixed), every message "
        "waiting or parked is sent now; one another sender holds is left to it.\n\n"
        "Exits with status 1 when the relay failed, so the timer's failure shows in "
        "monitoring, and 2 when this pass parked a message that can never be sent (`outbox "
        "list` shows why); the other messages were sent all the same."
    ),
)
@staff_option(
    "--force",
    is_flag=True,
    help=_l("Send every waiting and parked message now, whatever its next attempt time."),
)
@with_appcontext
def outbox_retry_command(force):
    send = outbox.send_all_now if force else outbox.send_due
    report = send(get_db(), utcnow())
    click.echo(
        _(
            "sent %(sent)s, still waiting %(waiting)s",
            sent=figure(report.sent),
            waiting=figure(report.waiting),
        )
    )
    if report.parked:
        click.echo(
            ngettext(
                "%(count)s message can never be sent and was parked; see `outbox list`",
                "%(count)s messages can never be sent and were parked; see `outbox list`",
                report.parked,
                count=figure(report.parked),
            ),
            err=True,
        )
    if report.failed:
        click.echo(_("the mail relay failed; the rest will be tried again later"), err=True)
        raise click.exceptions.Exit(1)
    if report.parked:
        raise click.exceptions.Exit(2)


@outbox_group.command(
    "list",
    help=_l("List the messages still waiting or parked, with their attempts and last error."),
)
@with_appcontext
def outbox_list_command():
    rows = outbox.pending(get_db())
    if not rows:
        click.echo(_("The outbox is empty: no message is waiting or parked."))
        return
    # One message a line, tab-separated; times as staff pages show them by default.
    for row in rows:
        if row["failed_at"]:
            state = _("FAILED %(when)s", when=staff_moment(row["failed_at"], DEFAULT_TIME_ZONE))
        else:
            upcoming = staff_moment(row["next_attempt_at"], DEFAULT_TIME_ZONE)
            state = _("next %(when)s", when=upcoming)
        created = _("created %(when)s", when=staff_moment(row["created_at"], DEFAULT_TIME_ZONE))
        attempts = _("attempts %(count)s", count=row["attempts"])
        click.echo(
            f"{row['id']}\t{mail_kind(row['kind'])}\t{created}\t{attempts}\t{state}\t"
            f"{row['last_error'] or ''}"
        )


def init_app(app: Flask) -> None:
    """Register the `outbox` commands."""
    app.cli.add_command(outbox_group)
