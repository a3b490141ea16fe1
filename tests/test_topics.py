"""Topics: consent per topic, a campaign's link leaves its topic, churn on the last one."""

import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from campaign_helpers import add_subscribers, new_campaign, send
from newsletter_helpers import VALID_SIGNUP, link_path, manage_path, sign_up, text_part

from weprode import tokens
from weprode.db import connect, isoformat, utcnow
from weprode.migrations import apply_pending, migrations
from weprode.newsletter import optout, subscribers, subscriptions, topics

SAMPLE = Path(__file__).parent / "samples" / "topics_0025.sql"
STAFF = "staff@weprode.com"


def new_topic(app, db, slug, public=True):
    """A topic named after its slug in both languages."""
    values = {
        "slug": slug,
        "name_en": f"{slug.title()} EN",
        "name_fr": f"{slug.title()} FR",
        "description_en": f"About {slug}.",
        "description_fr": f"À propos de {slug}.",
        "public": public,
    }
    with app.test_request_context():
        return topics.create(db, values, STAFF, utcnow())


def topic_states(db, subscriber_id):
    """{slug: status} of the person's topics."""
    return {row["slug"]: row["status"] for row in subscriptions.of_subscriber(db, subscriber_id)}


def one_click(client, message):
    """POST what a mailbox provider posts for the message's List-Unsubscribe."""
    url = re.fullmatch(r"<http://localhost(/unsubscribe/[^>]+)>", message["List-Unsubscribe"])[1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return client.post(url, data={"List-Unsubscribe": "One-Click"})


def test_migration_moves_everyone_to_the_main_topic_with_consent_intact(tmp_path):
    path = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(SAMPLE.read_text(encoding="utf-8"))
    connection.close()
    db = connect(path)
    people = {row["email"]: row for row in db.query("SELECT * FROM subscribers")}
    consents_before = list(db.query("SELECT * FROM consents ORDER BY id"))
    assert [m.name for m in migrations.pending(db)][0] == "0026_topics"
    assert "0026_topics" in apply_pending(db)
    [main] = db.query("SELECT * FROM topics")
    assert (main["slug"], main["main"], main["public"]) == ("newsletter", 1, 1)
    rows = {
        row["subscriber_id"]: row
        for row in db.query("SELECT * FROM subscriptions WHERE topic_id = ?", [main["id"]])
    }
    for email, person in people.items():
        if person["status"] == "pending":
            assert person["id"] not in rows
            assert db.execute(
                "SELECT request_topics FROM subscribers WHERE id = ?", [person["id"]]
            ).fetchone()[0] == str(main["id"])
            continue
        row = rows[person["id"]]
        expected = "churned" if person["status"] == "churned" else "active"
        assert row["status"] == expected, email
        assert row["subscribed_at"] == person["confirmed_at"]
        assert (row["churned_at"], row["churn_source"], row["churn_campaign_id"]) == (
            person["churned_at"],
            person["churn_source"],
            person["churn_campaign_id"],
        )
    # Each proof is still there, word for word, now about the main topic.
    after = list(db.query("SELECT * FROM consents ORDER BY id"))
    assert len(after) == len(consents_before) > 0
    for old, new in zip(consents_before, after, strict=True):
        assert {k: new[k] for k in old} == old
        assert new["topic_id"] == main["id"]
    assert {row["topic_id"] for row in db.query("SELECT topic_id FROM campaigns")} == {main["id"]}
    # The overall status and the retention clock are untouched.
    for person in db.query("SELECT * FROM subscribers"):
        old = people[person["email"]]
        assert (person["status"], person["churned_at"]) == (old["status"], old["churned_at"])
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_signup_offers_public_topics_only_and_refuses_an_internal_one(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    internal = new_topic(app, db, "partners", public=False)
    html = client.get("/newsletter").get_data(as_text=True)
    assert 'value="1"' in html and f'value="{events}"' in html
    assert "Partners EN" not in html and 'id="signup-topic-partners"' not in html
    response = sign_up(client, topics=str(internal))
    assert response.status_code == 400 and "not offered" in response.get_data(as_text=True)
    assert db["subscribers"].count == 0 and mailbox.messages == []


def test_confirming_joins_each_ticked_topic_with_a_proof_each(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    new_topic(app, db, "watch")
    client.post(
        "/newsletter", data={**VALID_SIGNUP, "language": "fr", "topics": ["1", str(events)]}
    )
    [mail] = mailbox.wait_for(1)
    # The mail says what confirming subscribes to, in the reader's language.
    assert "Events FR" in text_part(mail) and "Lettre d’information" in text_part(mail)
    client.post(link_path(mail, "/newsletter/confirm/"))
    person = subscribers.find_by_email(db, "jane.doe@example.org")
    assert topic_states(db, person["id"]) == {"newsletter": "active", "events": "active"}
    proofs = subscribers.consents(db, person["id"])
    assert sorted(p["topic_id"] for p in proofs) == [1, events]
    assert {(p["text_version"], p["language"], p["page"]) for p in proofs} == {
        ("2026-12-v2", "fr", "/newsletter")
    }


def test_a_subscriber_asking_for_a_new_topic_must_confirm_it(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    [ann] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    sign_up(client)  # the main topic only: already received
    assert "already" in mailbox.wait_for(1)[0]["Subject"].lower()
    mailbox.clear()
    with app.test_request_context():
        db.execute("DELETE FROM newsletter_mail_sends")  # past the mail limits
    sign_up(client, topics=str(events))
    [mail] = mailbox.wait_for(1)
    assert "confirm" in mail["Subject"].lower()
    # Nothing changes before the address is proven.
    assert topic_states(db, ann) == {"newsletter": "active"}
    client.post(link_path(mail, "/newsletter/confirm/"))
    assert topic_states(db, ann) == {"newsletter": "active", "events": "active"}
    assert subscribers.get(db, ann)["status"] == "active"


def test_one_click_from_a_topic_campaign_leaves_only_that_topic(app, db, client, mailbox):
    events = new_topic(app, db, "events")
    ann, bob = add_subscribers(
        app, db, [("ann@example.org", "Ann", "en"), ("bob@example.org", "Bob", "en")]
    )
    with app.app_context():
        subscriptions.join(db, ann, [events], utcnow())
        db.conn.commit()
    send(app, db, new_campaign(db, topic_id=events))
    [mail] = mailbox.wait_for(1)  # Bob does not receive events
    assert mail["To"] == "ann@example.org"
    assert one_click(client, mail).status_code == 200
    assert topic_states(db, ann) == {"newsletter": "active", "events": "churned"}
    person = subscribers.get(db, ann)
    assert person["status"] == "active" and person["churned_at"] is None
    with app.app_context():
        assert not subscribers.is_suppressed(db, "ann@example.org")
    [left] = [e for e in subscribers.history(db, ann) if e["kind"] == "left_topic"]
    assert left["source"] == "one-click"
    mailbox.clear()
    # The next events campaign reaches nobody; the newsletter still reaches both.
    assert send(app, db, new_campaign(db, topic_id=events)) == "sent"
    send(app, db, new_campaign(db))
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == ["ann@example.org", "bob@example.org"]
    assert topic_states(db, bob) == {"newsletter": "active"}


def test_leaving_the_last_topic_is_the_churn_that_starts_the_retention_clock(app, db, mailbox):
    events = new_topic(app, db, "events")
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    start = utcnow()
    with app.app_context():
        subscriptions.join(db, ann, [events], start)
        db.conn.commit()
        first = optout.unsubscribe(db, ann, "one-click", start, topic_id=1)
        assert (first.created, first.left_topic) == (False, 1)
        later = start + timedelta(days=3)
        last = optout.unsubscribe(db, ann, "one-click", later, topic_id=events)
    assert last.created and last.left_topic is None
    person = subscribers.get(db, ann)
    assert (person["status"], person["churned_at"]) == ("churned", isoformat(later))
    dates = {row["slug"]: row["churned_at"] for row in subscriptions.of_subscriber(db, ann)}
    assert dates == {"newsletter": isoformat(start), "events": isoformat(later)}
    with app.app_context():
        assert subscribers.is_suppressed(db, "ann@example.org")


def test_all_topics_leaves_everything_and_undo_brings_back_exactly_those(app, db, client):
    events = new_topic(app, db, "events")
    watch = new_topic(app, db, "watch")
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    with app.app_context():
        subscriptions.join(db, ann, [events, watch], utcnow())
        optout.unsubscribe(db, ann, "page", utcnow() - timedelta(days=1), topic_id=watch)
        db.conn.commit()
        token = tokens.make_unsubscribe_token(ann, new_campaign(db, topic_id=events))
    page = client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    assert "Unsubscribe from “Events EN”" in page and "Unsubscribe from all topics" in page
    done = client.post(f"/unsubscribe/{token}", data={"scope": "all"})
    html = done.get_data(as_text=True)
    assert "You are unsubscribed" in html
    assert set(topic_states(db, ann).values()) == {"churned"}
    undo = re.search(r'action="(/unsubscribe/undo/[^"]+)"', html)[1]
    assert client.post(undo).status_code == 200
    # The topic left the day before stays left.
    assert topic_states(db, ann) == {"newsletter": "active", "events": "active", "watch": "churned"}
    assert subscribers.get(db, ann)["status"] == "active"


def test_the_topic_page_after_leaving_one_offers_the_rest(app, db, client):
    events = new_topic(app, db, "events")
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "fr")])
    with app.app_context():
        subscriptions.join(db, ann, [events], utcnow())
        db.conn.commit()
        token = tokens.make_unsubscribe_token(ann, new_campaign(db, topic_id=events))
    html = client.post(f"/unsubscribe/{token}?lang=fr").get_data(as_text=True)
    assert "Events FR" in html and "Lettre d’information" in html
    assert "/newsletter/manage/" in html and 'name="scope" value="all"' in html
    assert topic_states(db, ann) == {"newsletter": "active", "events": "churned"}


def test_preferences_change_topics_and_new_ones_get_a_consent_proof(app, db, client):
    events = new_topic(app, db, "events")
    internal = new_topic(app, db, "partners", public=False)
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    path = manage_path(app, ann)
    html = client.get(path).get_data(as_text=True)
    assert "Events EN" in html and "Partners EN" not in html
    data = {"first_name": "Ann", "language": "en", "topics": [str(events)]}
    assert client.post(path, data=data).status_code == 303
    assert topic_states(db, ann) == {"newsletter": "churned", "events": "active"}
    [proof] = [p for p in subscribers.consents(db, ann) if p["topic_id"] == events]
    assert (proof["method"], proof["page"], proof["language"]) == (
        "preferences",
        "/newsletter/manage",
        "en",
    )
    # None ticked: the message says how to leave everything; nothing changes.
    refused = client.post(path, data={"first_name": "Ann", "language": "en"})
    assert refused.status_code == 400
    assert "unsubscribe from everything" in refused.get_data(as_text=True)
    # An internal topic cannot be joined by typing its id.
    typed = client.post(path, data={**data, "topics": [str(internal)]})
    assert typed.status_code == 400
    assert topic_states(db, ann) == {"newsletter": "churned", "events": "active"}


@pytest.mark.parametrize("public", [True, False])
def test_the_last_public_topic_cannot_become_internal(app, db, public):
    with app.test_request_context():
        main = topics.get(db, 1)
        values = {**main, "public": False}
        if public:
            new_topic(app, db, "events")
            topics.update(db, 1, values, STAFF, utcnow())
            assert topics.get(db, 1)["public"] == 0
        else:
            with pytest.raises(topics.TopicInvalid) as refused:
                topics.update(db, 1, values, STAFF, utcnow())
            assert "public" in refused.value.errors


def test_staff_see_each_topic_with_its_dates_and_each_proof_with_its_topic(app, db, staff_client):
    events = new_topic(app, db, "events")
    [ann] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    with app.app_context():
        subscriptions.join(db, ann, [events], utcnow())
        subscribers.record_consent(db, ann, "staff", utcnow(), utcnow(), [events], source="fair")
        optout.unsubscribe(db, ann, "one-click", utcnow(), topic_id=events)
        db.conn.commit()
    html = staff_client.get(f"/admin/subscribers/{ann}").get_data(as_text=True)
    topics_table = html.split('id="topics-title"')[1].split("</table>")[0]
    assert "Newsletter" in topics_table and "Events EN" in topics_table
    assert "one-click" in topics_table  # how Events was left
    consents_table = html.split('id="consent-title"')[1].split("</table>")[0]
    assert "Events EN" in consents_table and "Newsletter" in consents_table
    assert "left a topic" in html
