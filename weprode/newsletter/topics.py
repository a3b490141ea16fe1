"""Topics: what a person subscribes to, one by one ("Newsletter", "Events", ...).

Staff define them, with a name and a description in each site language. A public topic
is offered on the signup forms; an internal one only reaches people staff add to it.
The main topic is the list everyone joined before topics existed: imports and staff
additions go there unless told otherwise, and there is always one public topic, so the
signup form always has something to offer.
"""

import re
from datetime import datetime

from flask_babel import lazy_gettext as _l

from .. import audit
from ..db import Database, first_row, isoformat, write_transaction

LANGUAGES = ("en", "fr")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 40
NAME_MAX = 80
DESCRIPTION_MAX = 300


class TopicInvalid(ValueError):
    """Staff's values for a topic cannot be saved; `errors` maps each field to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, text in errors.items()))
        self.errors = errors


def all_topics(db: Database) -> list[dict]:
    """Every topic, in the order staff gave them."""
    return list(db.query("SELECT * FROM topics ORDER BY position, id"))


def public_topics(db: Database) -> list[dict]:
    """The topics the signup forms offer."""
    return list(db.query("SELECT * FROM topics WHERE public = 1 ORDER BY position, id"))


def get(db: Database, topic_id: int) -> dict | None:
    """The topic row, or None."""
    return first_row(db, "SELECT * FROM topics WHERE id = ?", [topic_id])


def by_slug(db: Database, slug: str) -> dict | None:
    """The topic with this slug, or None."""
    return first_row(db, "SELECT * FROM topics WHERE slug = ?", [slug])


def main_topic_id(db: Database) -> int:
    """The main topic's id (the migration creates it; nothing deletes it)."""
    return db.execute("SELECT id FROM topics WHERE main = 1").fetchone()[0]


def name(topic: dict, language: str) -> str:
    """The topic's name in `language`."""
    return topic[f"name_{language}"] if language in LANGUAGES else topic["name_en"]


def description(topic: dict, language: str) -> str:
    """The topic's description in `language` (may be empty)."""
    return topic[f"description_{language}"] if language in LANGUAGES else topic["description_en"]


def active_counts(db: Database) -> dict[int, int]:
    """Per topic id, how many people receive it now."""
    rows = db.execute(
        "SELECT topic_id, count(*) FROM subscriptions s JOIN subscribers p "
        "ON p.id = s.subscriber_id WHERE s.status = 'active' AND p.status = 'active' "
        "GROUP BY topic_id"
    ).fetchall()
    return dict(rows)


FIELD_LABELS = {
    "slug": _l("Short name (in addresses)"),
    "name_en": _l("Name in English"),
    "name_fr": _l("Name in French"),
    "description_en": _l("Description in English"),
    "description_fr": _l("Description in French"),
}


def validation_errors(db: Database, values: dict, topic_id: int | None) -> dict[str, str]:
    """Why each field cannot be saved (empty when all is well)."""
    errors: dict[str, str] = {}
    slug = values.get("slug") or ""
    if not SLUG.match(slug) or len(slug) > SLUG_MAX:
        errors["slug"] = str(
            _l(
                "Use lower-case letters, digits and single hyphens (at most %(most)d characters).",
                most=SLUG_MAX,
            )
        )
    elif (other := by_slug(db, slug)) is not None and other["id"] != topic_id:
        errors["slug"] = str(_l("Another topic already uses this short name."))
    for field in ("name_en", "name_fr"):
        text = values.get(field) or ""
        if not text.strip():
            errors[field] = str(_l("%(field)s is required.", field=FIELD_LABELS[field]))
        elif len(text) > NAME_MAX or "\n" in text:
            errors[field] = str(_l("One line of at most %(most)d characters.", most=NAME_MAX))
    for field in ("description_en", "description_fr"):
        if len(values.get(field) or "") > DESCRIPTION_MAX:
            errors[field] = str(_l("At most %(most)d characters.", most=DESCRIPTION_MAX))
    if topic_id is not None and not values.get("public"):
        others = db.execute(
            "SELECT count(*) FROM topics WHERE public = 1 AND id != ?", [topic_id]
        ).fetchone()[0]
        if not others:
            errors["public"] = str(
                _l("The signup forms need one public topic: make another one public first.")
            )
    return errors


def cleaned(values: dict) -> dict:
    """The stored form of staff's values: trimmed text, public as 0 or 1."""
    row = {
        field: (values.get(field) or "").strip()
        for field in ("slug", "name_en", "name_fr", "description_en", "description_fr")
    }
    return {**row, "public": 1 if values.get("public") else 0}


def create(db: Database, values: dict, actor: str, now: datetime) -> int:
    """Add a topic at the end of the list; `TopicInvalid` when a value is wrong."""
    row = cleaned(values)
    with write_transaction(db):
        if errors := validation_errors(db, row, None):
            raise TopicInvalid(errors)
        (position,) = db.execute("SELECT coalesce(max(position), 0) + 1 FROM topics").fetchone()
        topic_id = db.execute(
            "INSERT INTO topics (slug, name_en, name_fr, description_en, description_fr, "
            "public, position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [*row.values(), position, isoformat(now)],
        ).lastrowid
        audit.record(db, actor, "topic_created", now, target=f"topic:{topic_id}", slug=row["slug"])
    return topic_id


def update(db: Database, topic_id: int, values: dict, actor: str, now: datetime) -> None:
    """Change a topic's names, description or visibility; `TopicInvalid` when wrong."""
    row = cleaned(values)
    with write_transaction(db):
        if errors := validation_errors(db, row, topic_id):
            raise TopicInvalid(errors)
        db.execute(
            "UPDATE topics SET slug = ?, name_en = ?, name_fr = ?, description_en = ?, "
            "description_fr = ?, public = ? WHERE id = ?",
            [*row.values(), topic_id],
        )
        audit.record(db, actor, "topic_changed", now, target=f"topic:{topic_id}", slug=row["slug"])


def move(db: Database, topic_id: int, step: int, actor: str, now: datetime) -> bool:
    """Move a topic one place earlier (`step` -1) or later (+1) in the order every list
    shows (signup forms, preference page, archive, staff lists); False when it is at
    that end already. Positions are renumbered 1..n on the way: topics made before the
    order could be changed may share a position, and swapping equals would move nothing.
    """
    with write_transaction(db):
        order = [row[0] for row in db.execute("SELECT id FROM topics ORDER BY position, id")]
        if topic_id not in order:
            return False
        here = order.index(topic_id)
        there = here + step
        if step not in (-1, 1) or not 0 <= there < len(order):
            return False
        order[here], order[there] = order[there], order[here]
        db.conn.executemany(
            "UPDATE topics SET position = ? WHERE id = ?",
            [(position, tid) for position, tid in enumerate(order, start=1)],
        )
        audit.record(db, actor, "topic_moved", now, target=f"topic:{topic_id}", position=there + 1)
    return True
