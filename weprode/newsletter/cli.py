"""`flask --app app subscribers ...`: add, import and export subscribers."""

import sys

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit
from ..cli import CommandError, StaffGroup, staff_moment, staff_option
from ..db import get_db, utcnow
from ..staff.preferences import DEFAULT_TIME_ZONE
from . import export, importing, subscribers, topics, topics_cli
from .importing.statuses import import_status


@click.group("subscribers", cls=StaffGroup, help=_l("Manage newsletter subscribers."))
def subscribers_group():
    pass


@subscribers_group.command(
    "add",
    help=_l("Add a confirmed subscriber on staff authority (refuses suppressed addresses)."),
)
@click.argument("email")
@staff_option("--first-name", default=None, help=_l("The subscriber's first name."))
@staff_option(
    "--language",
    type=click.Choice(subscribers.LANGUAGES),
    default="en",
    help=_l("The language of the mails they get."),
)
@staff_option("--source", required=True, help=_l("Where the person's consent came from."))
@with_appcontext
def subscribers_add_command(email, first_name, language, source):
    try:
        _subscriber_id, added = subscribers.add_confirmed(
            get_db(), email, source, utcnow(), first_name=first_name, language=language
        )
    except (subscribers.InvalidAddress, subscribers.SuppressedAddress) as error:
        raise CommandError(str(error)) from error
    if added:
        click.echo(_("added %(email)s", email=email))
    else:
        click.echo(_("%(email)s is already subscribed", email=email))


@subscribers_group.command(
    "export", help=_l("Write every subscriber with status, language, dates and churn source.")
)
@staff_option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    help=_l("CSV (default) or JSON."),
)
@staff_option(
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help=_l("File to write (default: standard output)."),
)
@with_appcontext
def subscribers_export_command(export_format, output):
    export.write_export(get_db(), output, export_format)


MAX_LISTED = 50


def label_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Check --source and --legal-basis as the import service will."""
    try:
        return importing.check_label(param.name, value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def echo_listed(items: list[tuple[int, str]], err: bool = False) -> None:
    """Print `line N: text` for at most `MAX_LISTED` items, then how many were left out."""
    for line, text in items[:MAX_LISTED]:
        click.echo(_("line %(line)s: %(text)s", line=line, text=text), err=err)
    if len(items) > MAX_LISTED:
        more = format_number(len(items) - MAX_LISTED)
        click.echo(_("... and %(count)s more", count=more), err=err)


@subscribers_group.command(
    "import",
    help=_l(
        "Import subscribers from a CSV file with the columns email, first_name, language.\n\n"
        "Every row is checked first: if any is invalid nothing is imported (exit code 1). "
        "Addresses that unsubscribed or were erased are refused and listed. Everyone joins "
        "--topic (else the main topic); people already subscribed keep their other topics."
    ),
)
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@staff_option(
    "--source", required=True, callback=label_option, help=_l("Where the list came from.")
)
@staff_option(
    "--legal-basis",
    required=True,
    callback=label_option,
    help=_l('Why we may write to these people, e.g. "consent collected at trade fair 2026".'),
)
@staff_option(
    "--confirmed", is_flag=True, help=_l("Add them as active subscribers on our authority.")
)
@staff_option(
    "--double-opt-in", is_flag=True, help=_l("Store them as pending and mail each a confirmation.")
)
@staff_option(
    "--topic",
    "topic_slug",
    metavar="SLUG",
    help=_l(
        "The topic they join, public or internal (default: the main topic, said in the output)."
    ),
)
@with_appcontext
def subscribers_import_command(file, source, legal_basis, confirmed, double_opt_in, topic_slug):
    if confirmed == double_opt_in:
        raise CommandError(
            _("State the mode: exactly one of --confirmed or --double-opt-in."), exit_code=2
        )
    mode = "confirmed" if confirmed else "double-opt-in"
    topic = topics_cli.chosen_topic(get_db(), topic_slug)
    if not topic_slug:
        topics_cli.say_main_topic(topic)
    with click.progressbar(length=1, label=_("Importing"), file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        report = importing.import_subscribers(
            get_db(),
            file,
            source=source,
            legal_basis=legal_basis,
            mode=mode,
            actor=audit.cli_actor(),
            now=utcnow(),
            topic_id=topic["id"],
            progress=progress,
        )
    if not report.imported:
        errors = len(report.errors)
        invalid = ngettext(
            "%(count)s invalid row", "%(count)s invalid rows", errors, count=format_number(errors)
        )
        click.echo(_("Nothing imported: %(rows)s.", rows=invalid), err=True)
        echo_listed(report.errors, err=True)
        raise click.exceptions.Exit(1)
    echo_import_report(report, mode)


def echo_import_report(report: importing.ImportReport, mode: str) -> None:
    """What an import did, one figure a line, in the staff language."""
    click.echo(
        ngettext(
            "rows read: %(rows)s (%(count)s duplicate merged)",
            "rows read: %(rows)s (%(count)s duplicates merged)",
            report.merged_duplicates,
            rows=format_number(report.total_rows),
            count=format_number(report.merged_duplicates),
        )
    )
    if mode == "confirmed":
        click.echo(_("added as active subscribers: %(count)s", count=format_number(report.added)))
    else:
        sent = format_number(report.mails_sent)
        click.echo(_("stored as pending, confirmation mail sent: %(count)s", count=sent))
    already = format_number(report.already_subscribed)
    click.echo(_("already subscribed, left as they are: %(count)s", count=already))
    refused = report.refused_suppressed
    # The same words as importing.REFUSED_REASON, which the catalogue cannot see.
    click.echo(
        _(
            "refused, unsubscribed or erased; only their own signup can bring them back: %(count)s",
            count=format_number(len(refused)),
        )
    )
    echo_listed(refused)
    if report.mails_limited:
        limited = format_number(report.mails_limited)
        click.echo(_("not mailed, mailed too recently: %(count)s", count=limited))
    if report.mails_failed:
        click.echo(
            _(
                "confirmation mails that failed: %(count)s (they stay pending; import the "
                "file again later to mail them)",
                count=format_number(report.mails_failed),
            ),
            err=True,
        )


@click.group(
    "import",
    cls=StaffGroup,
    help=_l("Imports that stopped mid-way: list, resume or roll back (the worker does it too)."),
)
def import_group():
    pass


@import_group.command("list", help=_l("The latest imports: id, state, progress, counts, topic."))
@with_appcontext
def import_list_command():
    db = get_db()
    slugs = {topic["id"]: topic["slug"] for topic in topics.all_topics(db)}
    for record in importing.batches.recent(db):
        started = staff_moment(record["started_at"], DEFAULT_TIME_ZONE)
        figures = _(
            "%(done)s/%(total)s addresses  added %(added)s  by %(actor)s",
            done=format_number(record["committed_entries"]),
            total=format_number(record["entries"]),
            added=format_number(record["added"] or 0),
            actor=record["actor"],
        )
        click.echo(
            f"{record['id']}  {import_status(record['status'])}  {started}  "
            f"{figures}  -> {slugs.get(record['topic_id'], '?')}  ({record['source']})"
        )


@import_group.command(
    "resume",
    help=_l("Finish an import whose process died: all its records become visible at once."),
)
@click.argument("import_id", type=int)
@with_appcontext
def import_resume_command(import_id):
    try:
        report = importing.resume(get_db(), import_id, utcnow())
    except importing.ImportStateError as error:
        raise CommandError(str(error)) from error
    added = format_number(report.added)
    click.echo(_("import %(id)s done: added %(added)s", id=import_id, added=added))


@import_group.command(
    "rollback", help=_l("Undo an unfinished import as a whole: nothing of it was ever visible.")
)
@click.argument("import_id", type=int)
@with_appcontext
def import_rollback_command(import_id):
    try:
        deleted = importing.roll_back(get_db(), import_id, audit.cli_actor(), utcnow())
    except importing.ImportStateError as error:
        raise CommandError(str(error)) from error
    click.echo(
        ngettext(
            "import %(id)s rolled back: %(count)s hidden record deleted",
            "import %(id)s rolled back: %(count)s hidden records deleted",
            deleted,
            id=import_id,
            count=format_number(deleted),
        )
    )


def init_app(app: Flask) -> None:
    """Register the `subscribers` and `import` commands."""
    app.cli.add_command(subscribers_group)
    app.cli.add_command(import_group)
