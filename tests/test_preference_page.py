"""The preference page filled in from a cached skeleton is the page a plain render gives."""

import pytest
from campaign_helpers import add_subscribers
from flask import render_template
from newsletter_helpers import manage_path

from weprode import tokens
from weprode.db import utcnow
from weprode.newsletter import preference_page, preferences, subscribers, subscriptions, topics
from weprode.newsletter.forms import PreferencesForm

PEOPLE = [
    ("ann@example.org", "Ann", "en"),
    ("zoe@example.org", 'Zoé "<b>&', "fr"),
    ("max@example.org", None, "fr"),
]


def plain_render(app, db, path, subscriber):
    """The page as the template renders it for this person, without the skeleton."""
    with app.test_request_context(path):
        from flask import request

        request.view_args = {"token": path.split("/")[3].split("?")[0]}
        receives = subscriptions.active_topic_ids(db, subscriber["id"])
        form = PreferencesForm(
            formdata=None,
            first_name=subscriber["first_name"],
            language=subscriber["language"],
            topics=[str(topic_id) for topic_id in sorted(receives)],
        )
        offered = preferences.offered_topics(db, subscriber["id"])
        form.topics.choices = [(topic["id"], topic) for topic in offered]
        return render_template(
            "newsletter/preferences.html",
            token=request.view_args["token"],
            form=form,
            standing="subscribed",
            masked_email=subscribers.mask_email(subscriber["email"]),
            saved=False,
        )


@pytest.mark.parametrize("lang", ["", "?lang=fr"])
def test_each_person_gets_exactly_the_page_a_plain_render_gives(app, db, client, lang):
    ids = add_subscribers(app, db, PEOPLE)
    with app.test_request_context():
        events = topics.create(
            db,
            {"slug": "events", "name_en": "Events", "name_fr": "Événements", "public": True},
            "t@weprode.com",
            utcnow(),
        )
        internal = topics.create(
            db,
            {"slug": "partners", "name_en": "Partners", "name_fr": "Partenaires"},
            "t@weprode.com",
            utcnow(),
        )
        subscriptions.join(db, ids[1], [events, internal], utcnow())
        subscriptions.leave(db, ids[2], 1, utcnow(), "test")
        subscriptions.join(db, ids[2], [events], utcnow())
        db.conn.commit()
    for subscriber_id in ids:
        path = manage_path(app, subscriber_id) + lang
        served = client.get(path)
        assert served.status_code == 200
        expected = plain_render(app, db, path, subscribers.get(db, subscriber_id))
        assert served.get_data(as_text=True) == expected
    # No person's token, name or address is left in a cached skeleton.
    with app.app_context():
        cached = "".join(app.extensions[preference_page.CACHE].values())
        for subscriber_id, (email, first_name, _) in zip(ids, PEOPLE, strict=True):
            assert tokens.make_manage_token(subscriber_id) not in cached
            assert subscribers.mask_email(email) not in cached
            assert not first_name or first_name not in cached
