"""Helpers for campaign tests: subscribers, a campaign, sending it in-process."""

from devtools.seed import join_main_topic
from weprode.campaigns import compose, freeze, worker
from weprode.db import isoformat, utcnow
from weprode.newsletter import subscribers

BODY = """# News from Weprode

Hello {{ first_name | default("there") }},

Our **new guide** to sovereign Education Clouds is out.
"""


def add_subscribers(app, db, people):
    """people: [(email, first_name, language)] -> ids, all active."""
    ids = []
    with app.app_context():
        for email, first_name, language in people:
            ids.append(
                subscribers.add_confirmed(
                    db, email, "test", utcnow(), first_name=first_name, language=language
                )[0]
            )
    return ids


def add_readers_in_bulk(db, emails):
    """Active English-speaking subscribers in one statement (thousands, for sending tests)."""
    stamp = isoformat(utcnow())
    with db.conn:
        db.conn.executemany(
            "INSERT INTO subscribers (email, language, status, source, created_at, "
            "confirmed_at) VALUES (?, 'en', 'active', 'test', ?, ?)",
            [(email, stamp, stamp) for email in emails],
        )
    join_main_topic(db)


FRENCH_BODY = """# Nouvelles de Weprode

Bonjour {{ first_name | default("à vous") }},

Notre **nouveau guide** des clouds éducatifs souverains est paru.
"""


def new_campaign(
    db, language="all", subject="Weprode news", body=BODY, versions=None, topic_id=None
):
    """A draft to the audience `language` ('all', 'en', 'fr' or None: not chosen).

    Without `versions`, its one version is French for 'fr', English otherwise (as a
    campaign made before versions existed); `versions` is {language: (subject, body)}.
    """
    if versions is None:
        versions = {"fr" if language == "fr" else "en": (subject, body)}
    return compose.create(
        db,
        versions={
            lang: compose.Version(subject=s, body_markdown=b) for lang, (s, b) in versions.items()
        },
        audience=language,
        author="t@weprode.com",
        now=utcnow(),
        topic_id=topic_id,
    )


def send(app, db, campaign_id, start=True):
    """Start (freeze) and send in this process, as `flask campaigns send` does."""
    with app.app_context():
        if start:
            freeze.start(db, campaign_id, utcnow())
        return worker.send_campaign(db, campaign_id)
