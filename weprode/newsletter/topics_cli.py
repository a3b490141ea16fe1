"""`flask --app app topics ...`: list, create and change topics from a shell.

The same rules and audit entries as the staff pages (`topics.create` / `update`).
"""

from collections.abc import Callable

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import gettext as _

from .. import audit
from ..db import Database, get_db, utcnow
from . import topics

TEXT_FIELDS = ("slug", "name_en", "name_fr", "description_en", "description_fr")


def chosen_topic(db: Database, slug: str | None) -> dict:
    """The topic another command's --topic names, the main one without it; a
    `click.ClickException` listing the short names when none has that one."""
    topic = topics.by_slug(db, slug) if slug else topics.get(db, topics.main_topic_id(db))
    if topic is None:
        slugs = ", ".join(t["slug"] for t in topics.all_topics(db))
        raise click.ClickException(
            _("No topic %(slug)s; topics: %(slugs)s.", slug=repr(slug), slugs=slugs)
        )
    return topic


def say_main_topic(topic: dict) -> None:
    """Tell, on standard error, that a command without --topic took the main topic."""
    click.echo(
        _("topic: %(slug)s (the main topic; choose another with --topic)", slug=topic["slug"]),
        err=True,
    )


@click.group("topics")
def topics_group():
    """Manage the topics people subscribe to."""


@topics_group.command("list")
@with_appcontext
def topics_list_command():
    """Every topic in order: id, short name, visibility, readers now, English name."""
    db = get_db()
    readers = topics.active_counts(db)
    for topic in topics.all_topics(db):
        visibility = "public" if topic["public"] else "internal"
        main = "  main" if topic["main"] else ""
        click.echo(
            f"{topic['id']}  {topic['slug']}  {visibility}  "
            f"{readers.get(topic['id'], 0)} readers  {topic['name_en']}{main}"
        )


def text_options(function: Callable) -> Callable:
    """--slug, --name-en, ... --description-fr (each optional for `update`)."""
    for field in reversed(TEXT_FIELDS):
        function = click.option(f"--{field.replace('_', '-')}", field, default=None)(function)
    return function


def saved_or_exit(save: Callable[[], int | None]) -> int | None:
    """Run `save`; on refusal print each field's reason and exit with status 1."""
    try:
        return save()
    except topics.TopicInvalid as invalid:
        for field, text in invalid.errors.items():
            click.echo(f"{field}: {text}", err=True)
        raise SystemExit(1) from invalid


@topics_group.command("create")
@text_options
@click.option("--public/--internal", default=True, help="Offered on the signup forms?")
@with_appcontext
def topics_create_command(public, **values):
    """Add a topic at the end of the list."""
    topic_id = saved_or_exit(
        lambda: topics.create(get_db(), {**values, "public": public}, audit.cli_actor(), utcnow())
    )
    click.echo(f"created topic {topic_id} ({values['slug']})")


@topics_group.command("update")
@click.argument("slug_now")
@text_options
@click.option("--public/--internal", default=None, help="Offered on the signup forms?")
@with_appcontext
def topics_update_command(slug_now, public, **values):
    """Change the topic now called SLUG_NOW; options not given stay as they are."""
    db = get_db()
    topic = topics.by_slug(db, slug_now)
    if topic is None:
        raise click.ClickException(f"no topic called {slug_now!r}")
    merged = {field: topic[field] for field in TEXT_FIELDS} | {"public": topic["public"]}
    merged |= {field: value for field, value in values.items() if value is not None}
    if public is not None:
        merged["public"] = public
    saved_or_exit(lambda: topics.update(db, topic["id"], merged, audit.cli_actor(), utcnow()))
    click.echo(f"updated topic {topic['id']} ({merged['slug']})")


def init_app(app: Flask) -> None:
    """Register the `topics` commands."""
    app.cli.add_command(topics_group)
