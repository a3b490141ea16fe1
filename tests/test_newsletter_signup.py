"""Signing up: validation, double opt-in over real SMTP, limits, consent proof."""

import re
from datetime import timedelta

import pytest
from newsletter_helpers import (
    VALID_SIGNUP,
    html_part,
    link_path,
    sign_up,
    text_part,
    unsubscribe_path,
)

from weprode.db import connect, utcnow
from weprode.newsletter import signup, subscribers, subscriptions


def only_subscriber(db):
    rows = list(db.query("SELECT * FROM subscribers"))
    assert len(rows) == 1
    return rows[0]


def test_signup_page_shows_required_fields_and_consent_link(client):
    response = client.get("/newsletter")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="email"' in html and 'name="topics"' in html
    # Each public topic is a box of its own, none ticked in advance: consent is a choice.
    boxes = re.findall(r'<input type="checkbox"[^>]*name="topics"[^>]*>', html)
    assert boxes and not [box for box in boxes if "checked" in box]
    assert 'href="/privacy#newsletter"' in html
    assert 'class="required-mark"' in html
    assert 'name="website"' in html  # the honeypot
    assert "Set-Cookie" not in response.headers


def test_every_page_footer_has_the_compact_signup_form(client):
    html = client.get("/about").get_data(as_text=True)
    assert 'action="/newsletter"' in html
    assert 'name="source_page" type="hidden" value="/about"' in html


def test_signup_stores_pending_and_sends_confirmation_over_smtp(client, db, mailbox):
    response = sign_up(client)
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    subscriber = only_subscriber(db)
    assert subscriber["email"] == "jane.doe@example.org"
    assert subscriber["status"] == "pending"
    assert subscriber["request_text_version"] == "2026-12-v2"
    assert subscriber["request_topics"] == "1"
    [message] = mailbox.wait_for(1)
    assert message["To"] == "jane.doe@example.org"
    assert "confirm" in message["Subject"].lower()
    assert "/newsletter/confirm/" in text_part(message)
    assert "/newsletter/confirm/" in html_part(message)
    # The address is not proven yet: no name typed into the form is written to it.
    assert text_part(message).startswith("Hello,")
    assert (subscriber["first_name"], subscriber["request_first_name"]) == (None, "Jane")


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": ""}, "email", "Please enter your e-mail address."),
        ({"email": "not-an-address"}, "email", "valid e-mail address"),
        ({"topics": None}, "topics", "tick at least one topic"),
        ({"topics": "999"}, "topics", "not offered"),
        ({"topics": "x"}, "topics", "not offered"),
        ({"language": "de"}, "language", "Not a valid choice"),
        ({"first_name": "Jane\r\nBcc: x@evil.example"}, "first_name", "Line breaks"),
        ({"email": "a@example.org\nBcc: x@evil.example"}, "email", "Line breaks"),
        ({"consent_version": "forged"}, "consent_version", "out of date"),
    ],
)
def test_invalid_signup_shows_error_next_to_field_and_keeps_input(
    client, db, mailbox, changes, field, message
):
    response = sign_up(client, **changes)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    if field != "consent_version":  # hidden: its error shows in the summary instead
        assert "field-has-error" in html
    if field == "topics":
        assert 'value="Jane.Doe@Example.org"' in html  # what was typed is kept
    assert db["subscribers"].count == 0
    assert mailbox.messages == []


def test_honeypot_answers_the_same_page_and_does_nothing(client, db, mailbox):
    response = sign_up(client, website="http://spam.example")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert db["subscribers"].count == 0
    assert mailbox.messages == []


def confirm_path_from_mail(mailbox, count=1):
    return link_path(mailbox.wait_for(count)[-1], "/newsletter/confirm/")


def test_confirm_get_changes_nothing_and_post_confirms_with_consent_proof(client, db, mailbox):
    sign_up(client, source_page="/services")
    path = confirm_path_from_mail(mailbox)
    page = client.get(path)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.get_data(as_text=True)
    assert only_subscriber(db)["status"] == "pending"

    response = client.post(path)
    assert response.status_code == 200
    assert "You are subscribed" in response.get_data(as_text=True)
    subscriber = only_subscriber(db)
    assert subscriber["status"] == "active"
    assert subscriber["confirmed_at"]
    [consent] = subscribers.consents(db, subscriber["id"])
    assert consent["method"] == "double-opt-in"
    assert consent["text_version"] == "2026-12-v2"
    assert consent["page"] == "/services"
    assert (consent["topic_id"], consent["language"]) == (1, "en")
    [topic] = subscriptions.of_subscriber(db, subscriber["id"])
    assert (topic["slug"], topic["status"]) == ("newsletter", "active")
    assert topic["subscribed_at"] == subscriber["confirmed_at"]
    assert consent["submitted_at"] <= consent["confirmed_at"] == subscriber["confirmed_at"]
    assert subscriber["requested_at"] is None  # the request is consumed
    kinds = [event["kind"] for event in subscribers.history(db, subscriber["id"])]
    assert kinds == ["signup_requested", "confirmed"]
    # Confirming twice is harmless.
    again = client.post(path)
    assert again.status_code == 200
    assert "already confirmed" in again.get_data(as_text=True)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_tampered_confirm_token_gets_400_and_changes_nothing(client, db, mailbox, method):
    sign_up(client)
    path = confirm_path_from_mail(mailbox)
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    for bad in (tampered, path[:-10], "/newsletter/confirm/garbage"):
        response = client.open(bad, method=method)
        assert response.status_code == 400
        assert "Subscribe again" in response.get_data(as_text=True)
    assert only_subscriber(db)["status"] == "pending"


def test_expired_confirmation_gets_400(app, db):
    now = utcnow()
    request = signup.SignupRequest("late@example.org", None, "en", "2026-11-v1", "/newsletter")
    with app.test_request_context():
        signup.prepare(db, request, now - timedelta(days=8))
        subscriber = subscribers.find_by_email(db, "late@example.org")
        from weprode import tokens

        token = tokens.make_confirm_token(subscriber["id"], now - timedelta(days=8))
        outcome, _ = signup.confirm(db, token, now)
        assert outcome == "expired"
        assert signup.confirm(db, token, now - timedelta(days=2))[0] == "confirmed"
    client = app.test_client()
    response = client.get(f"/newsletter/confirm/{token}")
    assert response.status_code == 400
    assert "has expired" in response.get_data(as_text=True)


def test_confirmed_address_is_never_downgraded_and_gets_a_short_note(app, client, db, mailbox):
    sign_up(client)
    client.post(confirm_path_from_mail(mailbox))
    mailbox.clear()
    # Within 10 minutes of the confirmation mail: the same neutral page, no mail.
    response = sign_up(client, first_name="Other")
    assert "Check your inbox" in response.get_data(as_text=True)
    assert only_subscriber(db)["status"] == "active"
    request = signup.SignupRequest("jane.doe@example.org", "Other", "fr", "2026-11-v1", None)
    with app.test_request_context():
        assert signup.subscribe(db, request, utcnow() + timedelta(minutes=11)) == "already"
    subscriber = only_subscriber(db)
    assert subscriber["status"] == "active"
    assert subscriber["first_name"] == "Jane"
    assert subscriber["language"] == "en"
    [note] = mailbox.wait_for(1)
    assert "already subscribed" in note["Subject"]
    assert "/newsletter/confirm/" not in text_part(note)
    assert "/unsubscribe/" in text_part(note)


def test_confirmation_mails_are_limited_per_address(app, db, mailbox):
    now = utcnow()
    request = signup.SignupRequest("flood@example.org", None, "en", "2026-11-v1", None)
    with app.test_request_context():
        sent = [signup.subscribe(db, request, now + timedelta(minutes=m)) for m in range(0, 60, 2)]
        # One per 10 minutes: at 0, 10, 20 ... but never more than 3 a day.
        assert sent.count("confirm") == 3
        assert sent[0] == sent[5] == sent[10] == "confirm"
        assert sent[1] is None
        later = signup.subscribe(db, request, now + timedelta(days=1, minutes=1))
        assert later == "confirm"
    assert len(mailbox.wait_for(4)) == 4


def test_rapid_resubmission_keeps_the_first_link_valid(client, db, mailbox):
    sign_up(client)
    path = confirm_path_from_mail(mailbox)
    sign_up(client)  # within 10 minutes: no new mail, nothing changed
    assert len(mailbox.messages) == 1
    assert client.post(path).status_code == 200
    assert only_subscriber(db)["status"] == "active"


def test_signup_with_relay_down_answers_503_and_can_be_retried(make_app, mailbox):
    down = make_app(MAIL_PORT=1)  # nothing listens there
    response = sign_up(down.test_client())
    assert response.status_code == 503
    assert "could not send" in response.get_data(as_text=True)
    db = connect(down.config["DATABASE"])
    assert db["newsletter_mail_sends"].count == 0  # the failed try does not count
    # Same database, relay back: the visitor simply tries again.
    up = make_app(DATABASE=down.config["DATABASE"])
    assert sign_up(up.test_client()).status_code == 200
    assert len(mailbox.wait_for(1)) == 1


def test_cross_origin_post_is_rejected(client, db):
    response = client.post(
        "/newsletter", data=VALID_SIGNUP, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    response = client.post(
        "/newsletter", data=VALID_SIGNUP, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert db["subscribers"].count == 0


def test_same_origin_post_is_accepted(client, mailbox):
    response = client.post(
        "/newsletter",
        data=VALID_SIGNUP,
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    )
    assert response.status_code == 200


def test_signup_is_rate_limited_per_ip(make_app, mailbox):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORMS="2 per minute")
    client = app.test_client()
    codes = [sign_up(client, email=f"p{i}@example.org").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    last = sign_up(client, email="p9@example.org")
    assert "Too many requests" in last.get_data(as_text=True)
    assert "Set-Cookie" not in last.headers


def test_an_address_that_needs_smtputf8_is_refused_with_a_message_not_a_500(client, db, mailbox):
    response = sign_up(client, email="zoë@example.com")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = html.split('id="signup-email-error">')[1].split("</div>")[0]
    assert "cannot write to an address with accents" in error
    assert db["subscribers"].count == 0 and mailbox.messages == []
    french = client.post("/newsletter?lang=fr", data={"email": "zoë@example.com"})
    assert "Nous ne pouvons pas écrire" in french.get_data(as_text=True)


VISIBLE = ("first_name", "language", "status", "confirmed_at", "churned_at")


def jane_in_state(app, client, db, mailbox, state):
    """Jane as a pending signup, an active subscriber, or one who left; mail limits reset."""
    sign_up(client)
    if state != "pending":
        client.post(confirm_path_from_mail(mailbox))
    if state == "churned":
        path = unsubscribe_path(app, only_subscriber(db)["id"])
        client.post(path, data={"List-Unsubscribe": "One-Click"})
    mailbox.wait_for(1)
    mailbox.clear()
    db.execute("DELETE FROM newsletter_mail_sends")  # later on: the limits allow a mail
    return {name: only_subscriber(db)[name] for name in VISIBLE}


@pytest.mark.parametrize("state", ["pending", "active", "churned"])
def test_a_strangers_signup_changes_nothing_visible_until_confirmed(
    app, client, db, mailbox, state
):
    """Issue 11, item 14: an unconfirmed signup chose how an existing subscriber is greeted."""
    before = jane_in_state(app, client, db, mailbox, state)
    response = sign_up(client, first_name="Mallory", language="fr")
    assert "Check your inbox" in response.get_data(as_text=True)
    after = only_subscriber(db)
    assert {name: after[name] for name in VISIBLE} == before
    [message] = mailbox.wait_for(1)
    assert "Mallory" not in text_part(message) and "Mallory" not in html_part(message)


def test_confirming_applies_the_requested_name_and_language(app, client, db, mailbox):
    jane_in_state(app, client, db, mailbox, "churned")
    sign_up(client, first_name="Janette", language="fr")
    [message] = mailbox.wait_for(1)
    assert "Confirmez votre abonnement" in message["Subject"]  # the asked language
    assert "Bonjour Jane," in text_part(message)  # the confirmed name, in the asked language
    assert only_subscriber(db)["first_name"] == "Jane"  # not before confirming
    assert client.post(link_path(message, "/newsletter/confirm/")).status_code == 200
    subscriber = only_subscriber(db)
    assert (subscriber["status"], subscriber["first_name"], subscriber["language"]) == (
        "active",
        "Janette",
        "fr",
    )
    assert (subscriber["request_first_name"], subscriber["request_language"]) == (None, None)


def test_confirming_a_request_without_a_name_keeps_the_confirmed_one(app, client, db, mailbox):
    jane_in_state(app, client, db, mailbox, "churned")
    sign_up(client, first_name=None)  # the footer's compact form asks no name
    client.post(confirm_path_from_mail(mailbox))
    subscriber = only_subscriber(db)
    assert (subscriber["status"], subscriber["first_name"]) == ("active", "Jane")


def test_a_new_signup_is_greeted_without_the_name_typed_into_the_form(client, db, mailbox):
    """The address is not proven yet: text chosen by whoever filled in the form stays out."""
    sign_up(client, first_name="Visit evil.example")
    [message] = mailbox.wait_for(1)
    assert "evil.example" not in text_part(message) and "evil.example" not in html_part(message)
    assert text_part(message).startswith("Hello,")
    assert only_subscriber(db)["first_name"] is None  # waits for the confirmation
    client.post(confirm_path_from_mail(mailbox))
    assert only_subscriber(db)["first_name"] == "Visit evil.example"


def test_migration_keeps_requests_in_flight_and_unconfirmed_names_apart(tmp_path):
    from weprode.migrations import apply_pending, migrations

    db = connect(str(tmp_path / "old.sqlite3"))
    migrations.apply(db, stop_before="0014_signup_requests")
    stamp = "2026-11-26T09:00:00+00:00"
    for email, first_name, status, confirmed_at, requested_at in (
        ("new@example.org", "Typed", "pending", None, stamp),  # a form signup in flight
        ("back@example.org", "Jane", "churned", stamp, stamp),  # an old subscriber re-asking
        ("fair@example.org", "Ann", "active", stamp, None),
    ):
        db["subscribers"].insert(
            {
                "email": email,
                "first_name": first_name,
                "language": "fr",
                "status": status,
                "source": "form",
                "created_at": stamp,
                "confirmed_at": confirmed_at,
                "requested_at": requested_at,
            }
        )
    assert apply_pending(db)[0] == "0014_signup_requests"  # later migrations follow
    rows = {
        row["email"]: (row["first_name"], row["request_first_name"], row["request_language"])
        for row in db["subscribers"].rows
    }
    assert rows == {
        "new@example.org": (None, "Typed", "fr"),
        "back@example.org": ("Jane", "Jane", "fr"),
        "fair@example.org": ("Ann", None, None),
    }
    db.close()
