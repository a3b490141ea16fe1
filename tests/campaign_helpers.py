"""Helpers for campaign tests: subscribers, a campaign, sending it in-process."""

from weprode.campaigns import compose, ledger, worker
from weprode.db import utcnow
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


def new_campaign(db, language="all", subject="Weprode news", body=BODY):
    return compose.create(
        db,
        subject=subject,
        body_markdown=body,
        language=language,
        author="t@weprode.com",
        now=utcnow(),
    )


def send(app, db, campaign_id, start=True):
    """Start (freeze) and send in this process, as `flask campaigns send` does."""
    with app.app_context():
        if start:
            ledger.start(db, campaign_id, utcnow())
        return worker.send_campaign(db, campaign_id)
