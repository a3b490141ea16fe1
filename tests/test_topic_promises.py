"""Promises of topics at the moment people join and leave them: leaving one topic keeps
the others (and says so), leaving the last or everything is the churn, and undo brings
back exactly the topics that churn ended.

Written against mutation-testing survivors of optout.py and subscriptions.py (issue 17).
"""

from datetime import UTC, datetime, timedelta

from campaign_helpers import add_subscribers, new_campaign
from test_topics import new_topic, topic_states

from weprode import tokens
from weprode.db import isoformat
from weprode.newsletter import optout, subscribers, subscriptions

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EMAIL = "ann@example.org"


def reader(app, db, *topic_ids, when=NOW - timedelta(days=30)):
    """Ann, confirmed on the main topic, joined to `topic_ids` too."""
    [ann] = add_subscribers(app, db, [(EMAIL, "Ann", "en")])
    with app.app_context():
        subscriptions.join(db, ann, topic_ids, when)
        db.conn.commit()
    return ann


def bystander(app, db, *topic_ids):
    """Bob, on the same topics as Ann: nothing Ann does may change his."""
    [bob] = add_subscribers(app, db, [("bob@example.org", "Bob", "en")])
    with app.app_context():
        subscriptions.join(db, bob, topic_ids, NOW - timedelta(days=30))
        db.conn.commit()
    return bob


def unsubscribe(
    app, db, subscriber_id, when=NOW, source="one-click", campaign_id=None, topic_id=None
):
    with app.app_context():
        return optout.unsubscribe(db, subscriber_id, source, when, campaign_id, topic_id)


def topic_rows(db, subscriber_id):
    """{slug: (status, churned_at, churn_source, churn_campaign_id)}."""
    return {
        row["slug"]: (
            row["status"],
            row["churned_at"],
            row["churn_source"],
            row["churn_campaign_id"],
        )
        for row in subscriptions.of_subscriber(db, subscriber_id)
    }


def test_leaving_one_topic_keeps_the_others(app, db):
    """A campaign's link ends its topic only: dated, with its source and campaign; the
    person stays subscribed to the rest, unsuppressed, with no churn date."""
    events = new_topic(app, db, "events")
    ann = reader(app, db, events)
    bob = bystander(app, db, events)
    campaign = new_campaign(db, topic_id=events)
    result = unsubscribe(app, db, ann, campaign_id=campaign, topic_id=events)
    assert topic_states(db, bob) == {"newsletter": "active", "events": "active"}
    assert (result.created, result.left_topic) == (False, events)
    assert result.subscriber == subscribers.get(db, ann)
    assert topic_rows(db, ann) == {
        "newsletter": ("active", None, None, None),
        "events": ("churned", isoformat(NOW), "one-click", campaign),
    }
    person = subscribers.get(db, ann)
    assert (person["status"], person["churned_at"], person["churn_source"]) == (
        "active",
        None,
        None,
    )
    with app.app_context():
        assert not subscribers.is_suppressed(db, EMAIL)
        assert optout.undo_token(result) is None  # nothing to undo: still subscribed
    [left] = [e for e in subscribers.history(db, ann) if e["kind"] == "left_topic"]
    assert left == {
        "kind": "left_topic",
        "at": isoformat(NOW),
        "source": "one-click",
        "campaign_id": campaign,
    }


def test_clicking_a_topic_link_again_says_that_topic_is_left_and_changes_nothing(app, db):
    """A provider's repeated one-click, or a second click, on a topic's link: the page
    still says that topic is left (not that the person left the newsletter, which
    would be false), and the first date and event stand."""
    events = new_topic(app, db, "events")
    ann = reader(app, db, events)
    unsubscribe(app, db, ann, topic_id=events, source="page")
    again = unsubscribe(app, db, ann, NOW + timedelta(hours=1), topic_id=events, source="page")
    assert (again.created, again.left_topic) == (False, events)
    assert again.subscriber["status"] == "active"
    assert topic_rows(db, ann)["events"] == ("churned", isoformat(NOW), "page", None)
    assert [e["kind"] for e in subscribers.history(db, ann)].count("left_topic") == 1


def test_leaving_the_last_topic_by_its_link_is_a_churn_undo_brings_back(app, db):
    """The last topic left through its campaign's link is the churn (dated, suppressed,
    with an undo); undo makes that topic active again, and only that one."""
    events = new_topic(app, db, "events")
    ann = reader(app, db, events)
    bob = bystander(app, db, events)  # others still receiving the topic change nothing
    unsubscribe(app, db, ann, NOW - timedelta(days=1), topic_id=1, source="page")
    campaign = new_campaign(db, topic_id=events)
    result = unsubscribe(app, db, ann, campaign_id=campaign, topic_id=events, source="one-click")
    assert result.created and result.left_topic is None
    assert result.subscriber["churn_campaign_id"] == campaign
    with app.app_context():
        assert subscribers.is_suppressed(db, EMAIL)
        token = optout.undo_token(result)
        outcome, person = optout.undo(db, token, NOW + timedelta(minutes=5))
    assert (outcome, person["status"]) == ("restored", "active")
    assert topic_states(db, ann) == {"newsletter": "churned", "events": "active"}
    assert topic_states(db, bob) == {"newsletter": "active", "events": "active"}


def test_undo_restores_only_the_topics_that_churn_ended(app, db):
    """Undo reverses the person's own churn: a topic left the day before, and one staff
    ended at the very same instant, stay ended."""
    events = new_topic(app, db, "events")
    watch = new_topic(app, db, "watch")
    ann = reader(app, db, events, watch)
    unsubscribe(app, db, ann, NOW - timedelta(days=1), topic_id=events, source="page")
    with app.app_context():
        assert subscriptions.leave(db, ann, watch, NOW, "staff")
    bob = bystander(app, db, events)
    unsubscribe(app, db, bob, source="page")  # the same instant, his own churn
    result = unsubscribe(app, db, ann, source="page")
    assert result.created
    assert topic_rows(db, ann) == {
        "newsletter": ("churned", isoformat(NOW), "page", None),
        "events": ("churned", isoformat(NOW - timedelta(days=1)), "page", None),
        "watch": ("churned", isoformat(NOW), "staff", None),
    }
    with app.app_context():
        outcome, _ = optout.undo(db, optout.undo_token(result), NOW + timedelta(minutes=1))
    assert outcome == "restored"
    assert topic_states(db, ann) == {
        "newsletter": "active",
        "events": "churned",
        "watch": "churned",
    }
    assert topic_states(db, bob) == {"newsletter": "churned", "events": "churned"}


def test_posting_a_topic_link_twice_shows_the_topic_left_page_both_times(app, db, client):
    events = new_topic(app, db, "events")
    ann = reader(app, db, events)
    with app.app_context():
        token = tokens.make_unsubscribe_token(ann, new_campaign(db, topic_id=events))
    for _ in range(2):
        html = client.post(f"/unsubscribe/{token}").get_data(as_text=True)
        assert "<h1>You left a topic</h1>" in html
        assert "newsletter any more" not in html
        assert "Events EN" in html and "Newsletter" in html  # left, and still received


def test_a_signup_request_is_stored_as_sorted_ids_and_read_back_in_staff_order(app, db):
    """The request waits on the subscriber row until confirmed, possibly across an
    upgrade: its stored form is a contract. Topics deleted meanwhile are dropped, and
    a request naming none means the main topic."""
    events = new_topic(app, db, "events")
    watch = new_topic(app, db, "watch")
    db.execute("UPDATE topics SET position = -1 WHERE id = ?", [watch])
    assert subscriptions.request_text([events, 1, events, watch]) == f"1,{events},{watch}"
    assert subscriptions.requested(db, f"1,{events},{watch}") == [watch, 1, events]
    assert subscriptions.requested(db, f"{events},999,x") == [events]
    assert subscriptions.requested(db, "") == subscriptions.requested(db, None) == [1]


def test_a_persons_topics_are_listed_in_staff_order(app, db):
    events = new_topic(app, db, "events")
    watch = new_topic(app, db, "watch")
    ann = reader(app, db, watch, events)
    db.execute("UPDATE topics SET position = -1 WHERE id = ?", [watch])
    assert [row["slug"] for row in subscriptions.of_subscriber(db, ann)] == [
        "watch",
        "newsletter",
        "events",
    ]


def test_joining_a_topic_again_keeps_its_date_and_rejoining_a_left_one_clears_its_end(app, db):
    events = new_topic(app, db, "events")
    ann = reader(app, db, events)
    with app.app_context():
        assert subscriptions.join(db, ann, [events, 1], NOW) == []
    dates = {r["slug"]: r["subscribed_at"] for r in subscriptions.of_subscriber(db, ann)}
    assert dates["events"] == isoformat(NOW - timedelta(days=30))
    with app.app_context():
        unsubscribe(app, db, ann, topic_id=events, campaign_id=None)
        assert subscriptions.join(db, ann, [events], NOW + timedelta(days=1)) == [events]
    [row] = [r for r in subscriptions.of_subscriber(db, ann) if r["slug"] == "events"]
    assert (row["status"], row["subscribed_at"], row["churned_at"], row["churn_source"]) == (
        "active",
        isoformat(NOW + timedelta(days=1)),
        None,
        None,
    )
    assert subscriptions.active_topic_ids(db, ann) == {1, events}


def test_leaving_everything_from_a_campaign_ends_each_topic_with_that_date_and_campaign(app, db):
    """ "Unsubscribe from all topics" on a campaign's page: every topic's record says
    when, how and after which campaign, like the person's churn record."""
    events = new_topic(app, db, "events")
    ann = reader(app, db, events)
    campaign = new_campaign(db, topic_id=events)
    result = unsubscribe(app, db, ann, source="page", campaign_id=campaign)
    assert result.created and result.subscriber["churn_campaign_id"] == campaign
    ended = ("churned", isoformat(NOW), "page", campaign)
    assert topic_rows(db, ann) == {"newsletter": ended, "events": ended}
