"""The preference centre: a signed link, no cookie; GET shows, POST changes name,
language, or leaves (undoable like any unsubscribe of the person's own)."""

import pytest
from newsletter_helpers import link_path, manage_path, sign_up

from weprode import tokens
from weprode.db import utcnow
from weprode.newsletter import optout, preferences, subscribers


@pytest.fixture
def active_id(client, db, mailbox):
    """A subscriber who signed up and confirmed through the real mails."""
    sign_up(client, first_name="Jane")
    client.post(link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/"))
    subscriber = subscribers.find_by_email(db, "jane.doe@example.org")
    assert subscriber["status"] == "active"
    return subscriber["id"]


def test_get_shows_the_subscription_and_changes_nothing(app, client, db, active_id):
    before = subscribers.get(db, active_id)
    response = client.get(manage_path(app, active_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "j***@example.org" in html
    assert "jane.doe@example.org" not in html
    assert 'value="Jane"' in html
    assert 'value="en" checked' in html
    assert "Set-Cookie" not in response.headers
    assert '<meta name="robots" content="noindex">' in html
    assert "canonical" not in html
    assert subscribers.get(db, active_id) == before


def test_saving_changes_name_and_language_and_opens_the_page_in_that_language(
    app, client, db, active_id
):
    path = manage_path(app, active_id)
    response = client.post(path, data={"first_name": "  Jeanne ", "language": "fr", "topics": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{path}?saved=1&lang=fr"
    assert "Set-Cookie" not in response.headers
    subscriber = subscribers.get(db, active_id)
    assert (subscriber["first_name"], subscriber["language"]) == ("Jeanne", "fr")
    assert subscribers.history(db, active_id)[-1]["kind"] == "rectified"
    assert subscribers.history(db, active_id)[-1]["source"] == "preferences"
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Vos préférences sont enregistrées." in html


def test_an_empty_first_name_is_stored_as_none(app, client, db, active_id):
    client.post(
        manage_path(app, active_id), data={"first_name": "", "language": "en", "topics": "1"}
    )
    assert subscribers.get(db, active_id)["first_name"] is None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"first_name": "Jane", "language": "de"}, "Not a valid choice"),
        ({"first_name": "Jane"}, "Please choose a language."),
        ({"first_name": "J" * 101, "language": "en"}, "100"),
        ({"first_name": "Jane\r\nBcc: x@example.org", "language": "en"}, "Line breaks"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_changes_nothing(
    app, client, db, active_id, data, message
):
    before = subscribers.get(db, active_id)
    response = client.post(manage_path(app, active_id), data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="field-error"' in html
    assert message in html
    assert subscribers.get(db, active_id) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_foreign_token_is_refused_with_a_message(app, client, db, active_id, method):
    with app.app_context():
        unsubscribe_token = tokens.make_unsubscribe_token(active_id)
    for token in (
        "nope",
        manage_path(app, active_id).rsplit("/", 1)[1][:-2] + "xx",
        unsubscribe_token,
    ):
        response = getattr(client, method)(
            f"/newsletter/manage/{token}",
            data={"first_name": "Eve", "language": "en", "topics": "1"},
        )
        assert response.status_code == 400
        assert "This link to your preferences is not valid" in response.get_data(as_text=True)
    assert subscribers.get(db, active_id)["first_name"] == "Jane"


def test_a_cross_site_post_is_refused(app, client, db, active_id):
    response = client.post(
        manage_path(app, active_id),
        data={"first_name": "Eve", "language": "en", "topics": "1"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert subscribers.get(db, active_id)["first_name"] == "Jane"


def test_leaving_unsubscribes_and_offers_undo(app, client, db, active_id):
    response = client.post(manage_path(app, active_id) + "/leave")
    assert response.status_code == 200
    subscriber = subscribers.get(db, active_id)
    assert (subscriber["status"], subscriber["churn_source"]) == ("churned", "preferences")
    with app.app_context():
        assert subscribers.is_suppressed(db, "jane.doe@example.org")
    html = response.get_data(as_text=True)
    undo = html.split('action="', 2)[-1].split('"', 1)[0]
    assert undo.startswith("/unsubscribe/undo/")
    assert client.post(undo).status_code == 200
    assert subscribers.get(db, active_id)["status"] == "active"


def test_after_leaving_the_page_offers_to_subscribe_again_and_saving_is_refused(
    app, client, db, active_id
):
    path = manage_path(app, active_id)
    client.post(path + "/leave")
    page = client.get(path).get_data(as_text=True)
    assert "no longer receives the newsletter" in page
    assert 'action="/newsletter/manage/' not in page
    response = client.post(path, data={"first_name": "Eve", "language": "fr", "topics": "1"})
    assert response.status_code == 409
    subscriber = subscribers.get(db, active_id)
    assert (subscriber["first_name"], subscriber["language"]) == ("Jane", "en")


def test_an_unconfirmed_signup_cannot_be_edited(app, client, db, mailbox):
    sign_up(client)
    pending = subscribers.find_by_email(db, "jane.doe@example.org")
    path = manage_path(app, pending["id"])
    assert "not confirmed yet" in client.get(path).get_data(as_text=True)
    assert (
        client.post(path, data={"first_name": "Eve", "language": "fr", "topics": "1"}).status_code
        == 409
    )
    assert not preferences.save(db, pending["id"], "Eve", "fr", [1], utcnow())
    assert subscribers.get(db, pending["id"])["status"] == "pending"


def test_an_erased_subscriber_gets_a_page_saying_nothing_is_held(app, client, db, active_id):
    with app.app_context():
        subscribers.erase(db, active_id, utcnow())
    response = client.get(manage_path(app, active_id))
    assert response.status_code == 200
    assert "no longer on our list" in response.get_data(as_text=True)
    assert client.post(manage_path(app, active_id) + "/leave").status_code == 200
    assert subscribers.get(db, active_id) is None


def test_save_refuses_an_unknown_language(db, active_id):
    with pytest.raises(ValueError):
        preferences.save(db, active_id, "Jane", "de", [1], utcnow())


def test_leaving_is_undoable_only_because_it_is_the_persons_own(app, db, active_id):
    with app.app_context():
        result = preferences.leave(db, active_id, utcnow())
        assert result.created
        assert "preferences" in optout.UNDOABLE_SOURCES
        assert optout.is_undoable(db, result.subscriber)
