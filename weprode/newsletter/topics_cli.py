"""`flask --app app topics ...`: list, create and change topics from a shell.

The same rules and audit entries as the staff pages (`topics.create` / `update`).
"""

from collections.abc import Callable

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import format_number, get_locale, ngettext, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit
from ..cli import CommandError, StaffGroup, staff_option
from ..db import Database, get_db, utcnow
from . import topics

TEXT_FIELDS = ("slug", "name_en", "name_fr", "description_en", "description_fr")
PUBLIC_HELP = _l("Offered on the signup forms?")


def chosen_topic(db: Database, slug: str | None) -> dict:
    """The topic another command's --topic names, the main one without it; a
    `click.ClickException` listing the short names when none has that one."""
    topic = topics.by_slug(db, slug) if slug else topics.get(db, topics.main_topic_id(db))
    if topic is None:
        slugs = ", ".join(t["slug"] for t in topics.all_topics(db))
        raise CommandError(_("No topic %(slug)s; topics: %(slugs)s.", slug=repr(slug), slugs=slugs))
    return topic


def say_main_topic(topic: dict) -> None:
    """Tell, on standard error, that a command without --topic took the main topic."""
    click.echo(
        _("topic: %(slug)s (the main topic; choose another with --topic)", slug=topic["slug"]),
        err=True,
    )


@click.group("topics", cls=StaffGroup, help=_l("Manage the topics people subscribe to."))
def topics_group():
    pass


@topics_group.command(
    "list",
    help=_l("Every topic in order: id, short name, visibility, readers now, name."),
)
@with_appcontext
def topics_list_command():
    db = get_db()
    readers = topics.active_counts(db)
    for topic in topics.all_topics(db):
        visibility = (
            pgettext("topic visibility", "public")
            if topic["public"]
            else pgettext("topic visibility", "internal")
        )
        main = "  " + pgettext("the main topic", "main") if topic["main"] else ""
        count = readers.get(topic["id"], 0)
        readers_now = ngettext(
            "%(count)s reader", "%(count)s readers", count, count=format_number(count)
        )
        name = topics.name(topic, str(get_locale()))
        click.echo(f"{topic['id']}  {topic['slug']}  {visibility}  {readers_now}  {name}{main}")


def text_options(function: Callable) -> Callable:
    """--slug, --name-en, ... --description-fr (each optional for `update`)."""
    for field in reversed(TEXT_FIELDS):
        option = staff_option(
            f"--{field.replace('_', '-')}", field, default=None, help=topics.FIELD_LABELS[field]
        )
        function = option(function)
    return function


def saved_or_exit(save: Callable[[], int | None]) -> int | None:
    """Run `save`; on refusal print each field's reason and exit with status 1."""
    try:
        return save()
    except topics.TopicInvalid as invalid:
        for field, text in invalid.errors.items():
            click.echo(f"{field}: {text}", err=True)
        raise SystemExit(1) from invalid


@topics_group.command("create", help=_l("Add a topic at the end of the list."))
@text_options
@staff_option("--public/--internal", default=True, help=PUBLIC_HELP)
@with_appcontext
def topics_create_command(public, **values):
    topic_id = saved_or_exit(
        lambda: topics.create(get_db(), {**values, "public": public}, audit.cli_actor(), utcnow())
    )
    click.echo(_("created topic %(id)s (%(slug)s)", id=topic_id, slug=values["slug"]))


@topics_group.command(
    "update",
    help=_l("Change the topic now called SLUG_NOW; options not given stay as they are."),
)
@click.argument("slug_now")
@text_options
@staff_option("--public/--internal", default=None, help=PUBLIC_HELP)
@with_appcontext
def topics_update_command(slug_now, public, **values):
    db = get_db()
    topic = topics.by_slug(db, slug_now)
    if topic is None:
        raise CommandError(_("no topic called %(slug)s", slug=repr(slug_now)))
    merged = {field: topic[field] for field in TEXT_FIELDS} | {"public": topic["public"]}
    merged |= {field: value for field, value in values.items() if value is not None}
    if public is not None:
        merged["public"] = public
    saved_or_exit(lambda: topics.update(db, topic["id"], merged, audit.cli_actor(), utcnow()))
    click.echo(_("updated topic %(id)s (%(slug)s)", id=topic["id"], slug=merged["slug"]))


def init_app(app: Flask) -> None:
    """Register the `topics` commands."""
    app.cli.add_command(topics_group)
