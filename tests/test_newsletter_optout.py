"""Leaving: signed one-click opt-out (RFC 8058), churn dates, suppression, undo."""

import re
from datetime import timedelta

import pytest
from flask import g
from newsletter_helpers import link_path, sign_up, unsubscribe_path

from weprode import tokens
from weprode.db import parse_timestamp, utcnow
from weprode.newsletter import optout, subscribers
from weprode.privacy.rights import records
from weprode.privacy.rights import service as rights_service

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def active_id(client, db, mailbox):
    """A subscriber who signed up and confirmed through the real mails."""
    sign_up(client)
    client.post(link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/"))
    subscriber = subscribers.find_by_email(db, "jane.doe@example.org")
    assert subscriber["status"] == "active"
    return subscriber["id"]


def multipart(client, path):
    """A one-click POST as multipart/form-data, as some mailbox providers send it."""
    return client.post(path, data=ONE_CLICK, content_type="multipart/form-data")


def test_get_shows_masked_address_and_changes_nothing(app, client, db, active_id):
    response = client.get(unsubscribe_path(app, active_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "j***@example.org" in html
    assert "jane.doe@example.org" not in html
    assert subscribers.get(db, active_id)["status"] == "active"


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_without_cookie_or_redirect(
    app, client, db, active_id, encoding
):
    path = unsubscribe_path(app, active_id, campaign_id=42)
    if encoding == "multipart":
        response = multipart(client, path)
    else:
        response = client.post(path, data=ONE_CLICK)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Location" not in response.headers
    subscriber = subscribers.get(db, active_id)
    assert subscriber["status"] == "churned"
    assert subscriber["churn_source"] == "one-click"
    assert subscriber["churn_campaign_id"] == 42
    assert subscriber["churned_at"].endswith("+00:00")
    with app.app_context():
        assert subscribers.is_suppressed(db, "jane.doe@example.org")
    assert not client._cookies


def test_one_click_reply_is_short_plain_text_for_the_provider(app, client, active_id):
    response = client.post(unsubscribe_path(app, active_id), data=ONE_CLICK)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "Unsubscribed from the Weprode newsletter.\n"


def test_one_click_translates_nothing_for_a_genuine_link(app, client, active_id):
    """The bad-link message is translated only for a bad link: looking up and parsing
    the locale on every one-click request cost a tenth of its CPU time."""
    path = unsubscribe_path(app, active_id)
    with client:
        assert client.post(path, data=ONE_CLICK).status_code == 200
        assert getattr(g.get("_flask_babel"), "babel_locale", None) is None
    with client:
        response = client.post(path[:-2] + "xx", data=ONE_CLICK)
        assert response.status_code == 400
        assert "This unsubscribe link is not valid." in response.get_data(as_text=True)
        assert str(g._flask_babel.babel_locale) == "en"


def test_second_post_answers_2xx_and_keeps_first_churn_date(app, client, db, active_id):
    path = unsubscribe_path(app, active_id)
    client.post(path, data=ONE_CLICK)
    first = subscribers.get(db, active_id)["churned_at"]
    db.execute("UPDATE subscribers SET churned_at = '2020-01-01T00:00:00+00:00'")
    response = multipart(client, path)
    assert response.status_code == 200
    assert subscribers.get(db, active_id)["churned_at"] == "2020-01-01T00:00:00+00:00"
    assert first != "2020-01-01T00:00:00+00:00"
    events = [e["kind"] for e in subscribers.history(db, active_id)]
    assert events.count("churned") == 1


def test_page_button_records_page_source(app, client, db, active_id):
    response = client.post(unsubscribe_path(app, active_id))
    assert response.status_code == 200
    assert subscribers.get(db, active_id)["churn_source"] == "page"


def test_one_click_post_from_another_origin_is_accepted(app, client, db, active_id):
    # Mailbox providers post from their own servers; the signed token is the protection.
    response = client.post(
        unsubscribe_path(app, active_id),
        data=ONE_CLICK,
        headers={"Origin": "https://mail.provider.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200
    assert subscribers.get(db, active_id)["status"] == "churned"


def tampered_variants(path):
    token = path.rsplit("/", 1)[1]
    payload, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_payload = "Wzk5OV0"  # base64 of [999]: a valid-looking payload, wrong signature
    return [
        f"/unsubscribe/{payload}.{flipped}",
        f"/unsubscribe/{token[:-5]}",
        f"/unsubscribe/{other_payload}.{signature}",
        "/unsubscribe/not-a-token",
    ]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_token_gets_readable_400_and_changes_nothing(app, client, db, active_id, method):
    for bad in tampered_variants(unsubscribe_path(app, active_id)):
        response = client.open(bad, method=method, data=ONE_CLICK)
        assert response.status_code == 400, bad
        assert "not valid" in response.get_data(as_text=True)
    assert subscribers.get(db, active_id)["status"] == "active"


def test_token_with_another_purposes_salt_is_refused(app, client, db, active_id):
    with app.app_context():
        wrong = tokens.make_undo_token(active_id, utcnow())
    response = client.post(f"/unsubscribe/{wrong}", data=ONE_CLICK)
    assert response.status_code == 400
    assert subscribers.get(db, active_id)["status"] == "active"


def test_token_names_no_address_and_survives_key_rotation(make_app, app, client, db, active_id):
    path = unsubscribe_path(app, active_id)
    assert "jane" not in path.lower() and "example" not in path.lower()
    rotated = make_app(
        DATABASE=app.config["DATABASE"],
        SECRET_KEY="a-brand-new-secret-key-after-rotation-0123456789",
        SECRET_KEY_FALLBACKS=[app.config["SECRET_KEY"]],
    )
    response = rotated.test_client().post(path, data=ONE_CLICK)
    assert response.status_code == 200
    assert subscribers.get(db, active_id)["status"] == "churned"
    # Suppression hashes made under the old key are still recognised.
    with rotated.app_context():
        assert subscribers.is_suppressed(db, "jane.doe@example.org")
    # Without the fallback, the old link is refused.
    forgotten = make_app(
        DATABASE=app.config["DATABASE"],
        SECRET_KEY="a-brand-new-secret-key-after-rotation-0123456789",
    )
    assert forgotten.test_client().post(path, data=ONE_CLICK).status_code == 400


def undo_path(response):
    match = re.search(r'action="(/unsubscribe/undo/[^"]+)"', response.get_data(as_text=True))
    assert match, "no undo form on the page"
    return match.group(1)


def test_undo_reactivates_without_new_opt_in(app, client, db, active_id, mailbox):
    mailbox.clear()
    response = client.post(unsubscribe_path(app, active_id))  # the page's button
    assert "You are unsubscribed" in response.get_data(as_text=True)
    restored = client.post(undo_path(response))
    assert restored.status_code == 200
    assert "Your subscription is back" in restored.get_data(as_text=True)
    subscriber = subscribers.get(db, active_id)
    assert subscriber["status"] == "active"
    assert subscriber["churned_at"] is None
    with app.app_context():
        assert not subscribers.is_suppressed(db, "jane.doe@example.org")
    assert mailbox.messages == []  # no new opt-in mail
    kinds = [e["kind"] for e in subscribers.history(db, active_id)]
    assert kinds[-2:] == ["churned", "resubscribed"]


def test_undo_expires_after_24_hours_and_cannot_revive_a_later_churn(app, db, active_id):
    now = utcnow()
    with app.app_context():
        subscriber = optout.unsubscribe(db, active_id, "page", now)
        token = optout.undo_token(subscriber)
        assert optout.undo(db, token, now + timedelta(hours=25))[0] == "expired"
        assert optout.undo(db, "forged.token", now)[0] == "invalid"
        assert optout.undo(db, token, now + timedelta(hours=1))[0] == "restored"
        optout.unsubscribe(db, active_id, "page", now + timedelta(hours=2))
        assert optout.undo(db, token, now + timedelta(hours=3))[0] == "invalid"
    assert subscribers.get(db, active_id)["status"] == "churned"


def test_suppressed_address_returns_only_through_double_opt_in(
    app, client, db, runner, active_id, mailbox
):
    client.post(unsubscribe_path(app, active_id), data=ONE_CLICK)
    result = runner.invoke(args=["subscribers", "add", "Jane.Doe@example.org", "--source", "x"])
    assert result.exit_code != 0
    assert "can only come back" in result.output
    mailbox.clear()
    db.execute("DELETE FROM newsletter_mail_sends")  # a day later: her mail limits are reset
    sign_up(client)  # the person signs up again herself
    assert subscribers.get(db, active_id)["status"] == "churned"  # not before confirming
    client.post(link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/"))
    subscriber = subscribers.get(db, active_id)
    assert subscriber["status"] == "active"
    with app.app_context():
        assert not subscribers.is_suppressed(db, "jane.doe@example.org")
    assert len(subscribers.consents(db, active_id)) == 2


def test_old_confirmation_link_cannot_resubscribe_after_leaving(app, client, db, mailbox):
    sign_up(client)
    confirm = link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/")
    client.post(confirm)
    subscriber = subscribers.find_by_email(db, "jane.doe@example.org")
    client.post(unsubscribe_path(app, subscriber["id"]), data=ONE_CLICK)
    response = client.post(confirm)
    assert response.status_code == 400
    assert subscribers.get(db, subscriber["id"])["status"] == "churned"


def test_unsubscribing_an_erased_subscriber_is_a_harmless_2xx(app, client, db, active_id):
    path = unsubscribe_path(app, active_id)
    db.execute("DELETE FROM subscribers WHERE id = ?", [active_id])
    assert client.get(path).status_code == 200
    assert client.post(path, data=ONE_CLICK).status_code == 200


def test_concurrent_unsubscribes_from_several_connections_all_succeed(app, db):
    """Regression: deferred transactions failed with "database is locked" under load."""
    import threading

    from weprode.db import connect

    now = utcnow()
    ids = []
    with app.app_context():
        for index in range(120):
            ids.append(subscribers.add_confirmed(db, f"c{index}@example.org", "t", now)[0])
    errors = []

    def worker(share):
        connection = connect(app.config["DATABASE"])
        try:
            with app.app_context():
                for subscriber_id in share:
                    optout.unsubscribe(connection, subscriber_id, "one-click", now)
        except Exception as error:  # collected: an exception in a thread is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(ids[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    churned = db.execute("SELECT count(*) FROM subscribers WHERE status = 'churned'").fetchone()
    assert churned[0] == 120
    assert db["suppressions"].count == 120


def test_write_lock_is_one_per_database_file_and_process(app):
    from weprode.db import connect

    first, second = connect(app.config["DATABASE"]), connect(app.config["DATABASE"])
    assert first.write_lock is second.write_lock  # one file descriptor, however many connections
    first.close()
    second.close()


def undo_form(response):
    """The undo form's action on an unsubscribed page, or None when it offers none."""
    match = re.search(r'action="(/unsubscribe/undo/[^"]+)"', response.get_data(as_text=True))
    return match.group(1) if match else None


def object_to_marketing(app, db, now):
    """Jane's verified "stop marketing" request (GDPR art. 21), carried out."""
    with app.app_context():
        request_id = records.create(db, "jane.doe@example.org", "object", now, verified=True)
        rights_service.object_to_marketing(db, request_id, now)


def test_posting_a_link_again_shows_no_undo_for_the_earlier_churn(app, client, db, active_id):
    path = unsubscribe_path(app, active_id)
    assert undo_form(client.post(path))  # this request ended the subscription
    again = client.post(path)
    assert again.status_code == 200
    assert "You are unsubscribed" in again.get_data(as_text=True)
    assert undo_form(again) is None  # it ended nothing: nothing to undo


def test_an_old_link_cannot_undo_an_objection(app, client, db, active_id):
    """Issue 11, item 3: a forwarded newsletter's link must not lift a GDPR objection."""
    object_to_marketing(app, db, utcnow())
    response = client.post(unsubscribe_path(app, active_id))
    assert response.status_code == 200
    assert undo_form(response) is None
    churned = subscribers.get(db, active_id)
    with app.app_context():  # the button an old page would have offered for this churn
        forged = tokens.make_undo_token(active_id, parse_timestamp(churned["churned_at"]))
    refused = client.post(f"/unsubscribe/undo/{forged}")
    assert refused.status_code == 409
    assert "can no longer be undone" in refused.get_data(as_text=True)
    assert subscribers.get(db, active_id) == churned
    with app.app_context():
        assert subscribers.is_suppressed(db, "jane.doe@example.org")


def later_objection(app, db, subscriber_id, when):
    object_to_marketing(app, db, when)


def later_staff_unsubscribe(app, db, subscriber_id, when):
    with app.app_context():
        optout.unsubscribe(db, subscriber_id, "staff", when)


def later_objection_suppression(app, db, subscriber_id, when):
    """A suppression recorded for another reason than this unsubscribe (e.g. by staff)."""
    with app.app_context():
        subscribers.lift_suppression(db, "jane.doe@example.org")
        subscribers.suppress(db, "jane.doe@example.org", "objection", when)


@pytest.mark.parametrize(
    "later", [later_objection, later_staff_unsubscribe, later_objection_suppression]
)
def test_undo_never_reverses_what_happened_after_the_unsubscribe(app, db, active_id, later):
    now = utcnow()
    with app.app_context():
        token = optout.undo_token(optout.unsubscribe(db, active_id, "page", now))
    later(app, db, active_id, now + timedelta(minutes=5))
    before = subscribers.get(db, active_id)
    with app.app_context():
        outcome, subscriber = optout.undo(db, token, now + timedelta(minutes=10))
        assert subscribers.is_suppressed(db, "jane.doe@example.org")
    assert (outcome, subscriber) == ("refused", before)
    assert "resubscribed" not in [e["kind"] for e in subscribers.history(db, active_id)]


def test_undo_after_an_erasure_is_invalid(app, db, active_id):
    now = utcnow()
    with app.app_context():
        token = optout.undo_token(optout.unsubscribe(db, active_id, "page", now))
        rights_service.erase_personal_data(db, "jane.doe@example.org", now + timedelta(minutes=1))
        assert optout.undo(db, token, now + timedelta(minutes=2)) == ("invalid", None)
        assert subscribers.is_suppressed(db, "jane.doe@example.org")


@pytest.mark.parametrize("source", ["rights-request", "staff", "bounce", "complaint", "import"])
def test_undo_only_reverses_a_churn_the_person_made_with_their_own_link(app, db, active_id, source):
    now = utcnow()
    with app.app_context():
        left = optout.unsubscribe(db, active_id, source, now)
        assert left.created and optout.undo_token(left) is None  # no button offered
        forged = tokens.make_undo_token(active_id, now)  # ...nor honoured if made anyway
        assert optout.undo(db, forged, now + timedelta(minutes=1))[0] == "refused"
    assert subscribers.get(db, active_id)["status"] == "churned"


def test_unsubscribe_says_whether_this_call_ended_the_subscription(app, db, active_id):
    now = utcnow()
    with app.app_context():
        first = optout.unsubscribe(db, active_id, "page", now)
        again = optout.unsubscribe(db, active_id, "page", now + timedelta(minutes=1))
        gone = optout.unsubscribe(db, active_id + 1000, "page", now)
        assert optout.undo_token(first) is not None
        assert optout.undo_token(again) is None
    assert (first.created, again.created, gone.created) == (True, False, False)
    assert again.subscriber == first.subscriber == subscribers.get(db, active_id)
    assert gone.subscriber is None
