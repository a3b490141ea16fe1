"""`flask bounces ingest`: what Postfix pipes bounce mail to, or a batch from a mailbox;
`flask bounces fetch`: the same from an IMAP mailbox (see `imap`).

One line per message: what it was, whom it concerns (masked), what was done. Exit
status 75 (EX_TEMPFAIL, "try again later" for Postfix's pipe) when any message could
not be stored, else 0: a message we read and chose to ignore is done with.

The commands' help and errors speak STAFF_LANGUAGE (see `cli.StaffCommand`); a
message's line is the outcome stored with its report, in English (what Postfix logs).
"""

import mailbox
import sys
from collections.abc import Iterator

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..cli import StaffGroup, staff_option
from ..db import get_db
from . import imap, intake, readers

EX_TEMPFAIL = 75


@click.group(
    "bounces", cls=StaffGroup, help=_l('Bounce and complaint reports (see README, "Bounces").')
)
def bounces_group() -> None:
    pass


def messages_from(files: tuple[str, ...], mbox: str | None, maildir: str | None) -> Iterator[bytes]:
    """Each message's bytes: files (`-` or none: standard input), an mbox, a Maildir."""
    for name in files:
        if name == "-":
            yield click.get_binary_stream("stdin").read()
        else:
            with open(name, "rb") as handle:
                yield handle.read()
    for folder in [mailbox.mbox(mbox, create=False)] if mbox else []:
        for key in folder.keys():
            yield folder.get_bytes(key)
    for folder in [mailbox.Maildir(maildir, factory=None, create=False)] if maildir else []:
        for key in folder.keys():
            yield folder.get_bytes(key)
    if not files and not mbox and not maildir:
        yield click.get_binary_stream("stdin").read()


@bounces_group.command(
    "ingest",
    help=_l("Read bounce and complaint reports (one message per file, or standard input)."),
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@staff_option("--mbox", type=click.Path(exists=True, dir_okay=False), help=_l("An mbox file."))
@staff_option("--maildir", type=click.Path(exists=True, file_okay=False), help=_l("A Maildir."))
@staff_option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help=_l("Processes that parse a large batch (0: one per CPU) [BOUNCE_INGEST_WORKERS]."),
)
@with_appcontext
def ingest_command(files, mbox, maildir, workers):
    messages = ((None, raw) for raw in messages_from(files, mbox, maildir))
    with readers.from_config(current_app.config, workers) as pool:
        failed = intake.ingest_many(get_db(), messages, imap.echo_line, readers=pool)
    if failed:
        sys.exit(EX_TEMPFAIL)


@bounces_group.command(
    "fetch",
    help=_l("Ingest the reports waiting in the IMAP mailbox (BOUNCE_IMAP_*), then move them."),
)
@with_appcontext
def fetch_command():
    try:
        with readers.from_config(current_app.config) as pool:
            settings = imap.settings_from(current_app.config)
            failed = imap.fetch(get_db(), settings, imap.echo_line, pool)
    except imap.MailboxError as error:
        click.echo(_("bounce mailbox: %(error)s", error=error), err=True)
        sys.exit(EX_TEMPFAIL)
    if failed:
        sys.exit(EX_TEMPFAIL)


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(bounces_group)
