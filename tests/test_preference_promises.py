"""Promises of the preference centre's saving: only an active subscription changes,
each topic ticked anew gets its own consent proof and welcome, each one unticked is left
with its date, and internal topics are offered only to the people who receive them.

Written against mutation-testing survivors of preferences.py (issue 17).
"""

from datetime import timedelta

import pytest
from campaign_helpers import add_subscribers
from test_topics import new_topic, topic_states

from weprode.db import isoformat, utcnow
from weprode.newsletter import preferences, subscribers, subscriptions
from weprode.newsletter.signup import CURRENT_CONSENT_VERSION

NOW = utcnow().replace(microsecond=0) + timedelta(days=1)  # after the fixtures' own dates


def reader(app, db, email="ann@example.org", language="en"):
    [subscriber_id] = add_subscribers(app, db, [(email, "Ann", language)])
    return subscriber_id


def save(app, db, subscriber_id, topic_ids, first_name="Ann", language="en", when=NOW):
    with app.app_context():
        return preferences.save(db, subscriber_id, first_name, language, topic_ids, when)


def events(db, subscriber_id, since=NOW):
    return [
        (e["kind"], e["source"])
        for e in subscribers.history(db, subscriber_id)
        if e["at"] >= isoformat(since)
    ]


def test_saving_joins_and_leaves_topics_with_a_proof_for_each_new_one(app, db):
    events_id = new_topic(app, db, "events")
    watch = new_topic(app, db, "watch")
    ann = reader(app, db)
    assert save(app, db, ann, [events_id, watch], language="fr")
    assert topic_states(db, ann) == {"newsletter": "churned", "events": "active", "watch": "active"}
    proofs = [p for p in subscribers.consents(db, ann) if p["submitted_at"] == isoformat(NOW)]
    assert sorted(p["topic_id"] for p in proofs) == [events_id, watch]
    for proof in proofs:
        assert (
            proof["method"],
            proof["confirmed_at"],
            proof["text_version"],
            proof["page"],
            proof["source"],
            proof["language"],
        ) == (
            "preferences",
            isoformat(NOW),
            CURRENT_CONSENT_VERSION,
            preferences.PAGE,
            "preferences",
            "fr",
        )
    [left] = [row for row in subscriptions.of_subscriber(db, ann) if row["slug"] == "newsletter"]
    assert (left["churned_at"], left["churn_source"]) == (isoformat(NOW), "preferences")
    assert events(db, ann) == [("rectified", "preferences"), ("left_topic", "preferences")]
    person = subscribers.get(db, ann)
    assert (person["status"], person["language"]) == ("active", "fr")


def test_saving_the_same_topics_again_records_no_new_proof_and_leaves_nothing(app, db):
    events_id = new_topic(app, db, "events")
    ann = reader(app, db)
    assert save(app, db, ann, [1, events_id])
    before = subscribers.consents(db, ann)
    assert save(app, db, ann, [events_id, 1], when=NOW + timedelta(hours=1))
    assert subscribers.consents(db, ann) == before
    assert topic_states(db, ann) == {"newsletter": "active", "events": "active"}
    assert events(db, ann, NOW + timedelta(hours=1)) == [("rectified", "preferences")]


def test_a_name_is_stored_trimmed(app, db):
    ann = reader(app, db)
    assert save(app, db, ann, [1], first_name="  Annie  ")
    assert subscribers.get(db, ann)["first_name"] == "Annie"


def test_saving_with_no_topic_or_an_unknown_language_is_refused_and_changes_nothing(app, db):
    ann = reader(app, db)
    with pytest.raises(ValueError, match=r"^At least one topic; leaving everything is `leave`\.$"):
        save(app, db, ann, [], first_name="Changed")
    with pytest.raises(ValueError, match=r"^Unknown language\.$"):
        save(app, db, ann, [1], first_name="Changed", language="de")
    assert subscribers.get(db, ann)["first_name"] == "Ann"
    assert topic_states(db, ann) == {"newsletter": "active"}


@pytest.mark.parametrize("status", ["churned", "pending"])
def test_a_record_that_is_not_active_is_never_edited(app, db, status):
    events_id = new_topic(app, db, "events")
    ann = reader(app, db)
    db.execute("UPDATE subscribers SET status = ? WHERE id = ?", [status, ann])
    assert not save(app, db, ann, [events_id], first_name="Changed", language="fr")
    person = subscribers.get(db, ann)
    assert (person["first_name"], person["language"]) == ("Ann", "en")
    assert topic_states(db, ann) == {"newsletter": "active"}
    assert events(db, ann) == []


def test_an_internal_topic_is_offered_only_to_the_people_who_receive_it(app, db):
    partners = new_topic(app, db, "partners", public=False)
    events_id = new_topic(app, db, "events")
    ann = reader(app, db)
    bob = reader(app, db, "bob@example.org")
    with app.app_context():
        subscriptions.join(db, ann, [partners], NOW)
    offered = {
        person: [t["slug"] for t in preferences.offered_topics(db, person)] for person in (ann, bob)
    }
    assert offered == {ann: ["newsletter", "partners", "events"], bob: ["newsletter", "events"]}
    # Once left, it is no longer offered: it cannot be joined again from here.
    assert save(app, db, ann, [1, events_id])
    assert [t["slug"] for t in preferences.offered_topics(db, ann)] == ["newsletter", "events"]
