"""`flask campaigns ...`: create, list, send (foreground, resumable); the worker
command is in worker_cli."""

import time
from collections.abc import Callable

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from ..cli import CommandError, StaffGroup, staff_option
from ..db import get_db, utcnow
from ..newsletter import topics_cli
from . import audiences, compose, freeze, ledger, worker
from .worker_cli import stop_on_signals, worker_command


@click.group("campaigns", cls=StaffGroup, help=_l("Compose and send e-mail campaigns."))
def campaigns_group():
    pass


# Whole sentences per language: French words them differently ("la version anglaise").
VERSION_HELP = {
    "en": {
        "subject": _l("The English version's subject."),
        "body-file": _l("The English version's body in Markdown."),
        "preheader": _l("The English version's preview line."),
    },
    "fr": {
        "subject": _l("The French version's subject."),
        "body-file": _l("The French version's body in Markdown."),
        "preheader": _l("The French version's preview line."),
    },
}


def version_options(command: click.Command) -> click.Command:
    """--en-subject, --en-body-file, --en-preheader and the same for fr."""
    for language in reversed(compose.LANGUAGES):
        texts = VERSION_HELP[language]
        command = staff_option(f"--{language}-preheader", default="", help=texts["preheader"])(
            command
        )
        command = staff_option(
            f"--{language}-body-file",
            type=click.File("r", encoding="utf-8"),
            help=texts["body-file"],
        )(command)
        command = staff_option(f"--{language}-subject", default="", help=texts["subject"])(command)
    return command


def audience_help() -> str:
    """`Who receives it: all = All active subscribers; ...`, in the current locale."""
    choices = ", ".join(f"{key} = {a.label}" for key, a in audiences.AUDIENCES.items())
    return _("Who receives it: %(choices)s.", choices=choices)


def audience_option(required: bool) -> Callable[[click.Command], click.Command]:
    """--audience KEY: whom the campaign goes to, never a silent default."""
    return staff_option(
        "--audience",
        type=click.Choice(list(audiences.AUDIENCES)),
        required=required,
        help=LazyString(audience_help),
    )


@campaigns_group.command(
    "create",
    help=_l(
        "Save a draft campaign (an English and/or a French version) and print its id.\n\n"
        "Each subscriber gets the version of their language, or the other one when only "
        "one is written. It goes to one topic's readers: --topic, else the main topic."
    ),
)
@version_options
@audience_option(required=True)
@staff_option(
    "--topic",
    "topic_slug",
    metavar="SLUG",
    help=_l("The topic whose readers get it (default: the main topic, said in the output)."),
)
@with_appcontext
def create_command(audience, topic_slug, **options):
    db = get_db()
    topic = topics_cli.chosen_topic(db, topic_slug)
    versions = {
        language: compose.Version(
            options[f"{language}_subject"],
            options[f"{language}_preheader"],
            body.read() if (body := options[f"{language}_body_file"]) else "",
        )
        for language in compose.LANGUAGES
    }
    try:
        campaign_id = compose.create(
            db,
            versions=versions,
            audience=audience,
            author="cli",
            now=utcnow(),
            topic_id=topic["id"],
        )
    except compose.CampaignInvalid as error:
        raise CommandError(str(error)) from error
    click.echo(campaign_id)
    if not topic_slug:
        topics_cli.say_main_topic(topic)


def the_version(language: str) -> str:
    """`the French version`, in the staff language (the words the campaign page uses)."""
    return {"en": _("the English version"), "fr": _("the French version")}[language]


def describe_counts(counts: dict[str, dict[str, int]]) -> str:
    """ "120 get the English version (100 in their language, 20 as a fallback); ..."."""
    parts = [
        ngettext(
            "%(count)s gets %(version)s (%(own)s in their language, %(fallback)s as a fallback)",
            "%(count)s get %(version)s (%(own)s in their language, %(fallback)s as a fallback)",
            n["total"],
            count=format_number(n["total"]),
            version=the_version(language),
            own=format_number(n["own"]),
            fallback=format_number(n["fallback"]),
        )
        for language, n in counts.items()
        if language in compose.LANGUAGES and n["total"]
    ]
    return "; ".join(parts) or _("nobody")


@campaigns_group.command("list", help=_l("List campaigns with their figures, newest first."))
@with_appcontext
def list_command():
    rows, _next = compose.page(get_db(), limit=1000)
    for row in rows:
        f = row["figures"]
        figures = _(
            "%(recipients)s, %(sent)s sent, %(failed)s failed, %(unsubscribed)s unsubscribed",
            recipients=ngettext(
                "%(count)s recipient",
                "%(count)s recipients",
                f["recipients"],
                count=format_number(f["recipients"]),
            ),
            sent=format_number(f["sent"]),
            failed=format_number(f["failed"]),
            unsubscribed=format_number(f["unsubscribed"]),
        )
        click.echo(f"{row['id']}\t{row['status']}\t{figures}\t{row['subject']}")


@campaigns_group.command(
    "send",
    help=_l(
        "Send now in the foreground with a progress bar; resumes an interrupted send.\n\n"
        "A draft without an audience needs --audience (which also replaces a draft's)."
    ),
)
@click.argument("campaign_id", type=int)
@audience_option(required=False)
@with_appcontext
def send_command(campaign_id, audience):
    db = get_db()
    try:
        if audience:
            compose.set_audience(db, campaign_id, audience, utcnow())
        campaign = compose.get(db, campaign_id)
        if campaign is not None and campaign["status"] in ("draft", "scheduled"):
            audience_key = ledger.chosen_audience(campaign).key
            counts = audiences.counts(
                db, audience_key, campaign["versions"].keys(), campaign["topic_id"]
            )
            click.echo(
                _(
                    "audience %(audience)s: %(counts)s",
                    audience=campaign["audience"],
                    counts=describe_counts(counts),
                )
            )
        total = freeze.start(db, campaign_id, utcnow())
    except ledger.AudienceNotChosen as error:
        choices = "|".join(audiences.AUDIENCES)
        command = f"flask campaigns send {campaign_id} --audience {choices}"
        raise CommandError(_("%(error)s Run: %(command)s", error=error, command=command)) from error
    except (ledger.CampaignStateError, compose.CampaignInvalid) as error:
        raise CommandError(str(error)) from error
    stop = stop_on_signals()
    started, start_done = time.monotonic(), None
    label = _("campaign %(id)s", id=campaign_id)
    with click.progressbar(length=total, label=label, file=None) as bar:
        state = {"done": 0}

        def progress(figures: dict[str, int]) -> None:
            nonlocal start_done
            done = figures["sent"] + figures["failed"] + figures["skipped"]
            if start_done is None:
                start_done = done
            bar.update(done - state["done"])
            state["done"] = done
            elapsed = time.monotonic() - started
            rate = (done - start_done) / elapsed if elapsed else 0
            eta = (total - done) / rate if rate else 0
            bar.label = _(
                "campaign %(id)s: %(rate)s msg/s, ETA %(eta)s s",
                id=campaign_id,
                rate=format_number(round(rate)),
                eta=format_number(round(eta)),
            )

        status = "sending"
        while status == "sending" and not stop.is_set():
            status = worker.send_campaign(db, campaign_id, progress=progress, stop=stop)
            if status == "sending":
                stop.wait(2)  # only retries are left; wait for them to fall due
        progress(ledger.figures(db, campaign_id))
    figures = ledger.figures(db, campaign_id)
    click.echo(
        _(
            "%(status)s: %(sent)s sent, %(failed)s failed, %(skipped)s skipped, %(left)s left",
            status=status,
            sent=format_number(figures["sent"]),
            failed=format_number(figures["failed"]),
            skipped=format_number(figures["skipped"]),
            left=format_number(figures["queued"] + figures["sending"]),
        )
    )
    if status == "paused":
        reason = ledger.get(db, campaign_id)["paused_reason"]
        click.echo(_("paused: %(reason)s", reason=reason), err=True)
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register the command group."""
    campaigns_group.add_command(worker_command)
    app.cli.add_command(campaigns_group)
