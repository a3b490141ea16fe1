"""Promises of opt-out and undo: the first churn stands, undo restores exactly what the
unsubscribe ended, and never turns an unconfirmed signup into a subscription.

Written against mutation-testing survivors (issue 17).
"""

from datetime import UTC, datetime, timedelta

import pytest

from weprode import tokens
from weprode.db import isoformat
from weprode.newsletter import optout, signup, subscribers

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
EMAIL = "jane.doe@example.org"


def confirmed(app, db, email=EMAIL):
    """A subscriber who asked on the form and confirmed (double opt-in)."""
    request = signup.SignupRequest(email, "Jane", "en", "2026-11-v1", "/newsletter")
    with app.app_context():
        _kind, pending, _ = signup.prepare(db, request, NOW - timedelta(days=10))
        token = tokens.make_confirm_token(pending["id"], NOW - timedelta(days=10))
        outcome, subscriber = signup.confirm(db, token, NOW - timedelta(days=9))
    assert outcome == "confirmed"
    return subscriber["id"]


def unconfirmed(app, db, email=EMAIL):
    """A signup whose confirmation link was never used."""
    request = signup.SignupRequest(email, "Jane", "en", "2026-11-v1", "/newsletter")
    with app.app_context():
        _kind, pending, _ = signup.prepare(db, request, NOW - timedelta(hours=1))
    assert pending["status"] == "pending"
    return pending["id"]


def leave(app, db, subscriber_id, when=NOW, source="page", campaign_id=None):
    """Unsubscribe; returns the undo button's token."""
    with app.app_context():
        churned = optout.unsubscribe(db, subscriber_id, source, when, campaign_id)
        return optout.undo_token(churned)


def undo(app, db, token, when):
    with app.app_context():
        return optout.undo(db, token, when)


def suppressed(app, db, email=EMAIL):
    with app.app_context():
        return subscribers.is_suppressed(db, email)


def kinds(db, subscriber_id):
    return [event["kind"] for event in subscribers.history(db, subscriber_id)]


def test_undoing_the_unsubscribe_of_an_unconfirmed_signup_does_not_make_it_active(app, db):
    """Double opt-in cannot be bypassed by unsubscribing and pressing "Undo"."""
    pending_id = unconfirmed(app, db)
    token = leave(app, db, pending_id)
    assert subscribers.get(db, pending_id)["status"] == "churned"
    outcome, subscriber = undo(app, db, token, NOW + timedelta(minutes=1))
    assert outcome == "restored"
    assert (subscriber["status"], subscriber["confirmed_at"]) == ("pending", None)
    assert subscribers.consents(db, pending_id) == []  # no consent was ever given
    # ...and pressing it again does not promote it either.
    assert undo(app, db, token, NOW + timedelta(minutes=2))[0] == "invalid"
    assert subscribers.get(db, pending_id)["status"] == "pending"


def test_undo_restores_a_confirmed_subscriber_and_only_what_the_unsubscribe_ended(app, db):
    subscriber_id = confirmed(app, db)
    before = subscribers.get(db, subscriber_id)
    token = leave(app, db, subscriber_id, source="one-click", campaign_id=4)
    assert suppressed(app, db)
    outcome, subscriber = undo(app, db, token, NOW + timedelta(hours=1))
    assert outcome == "restored"
    assert subscriber == before  # status, churn fields and consent date as they were
    assert not suppressed(app, db)
    history = subscribers.history(db, subscriber_id)
    assert [(e["kind"], e["source"]) for e in history[-2:]] == [
        ("churned", "one-click"),
        ("resubscribed", "undo"),
    ]
    assert history[-1]["at"] == isoformat(NOW + timedelta(hours=1))
    assert len(subscribers.consents(db, subscriber_id)) == 1  # undo is no new consent


def test_undo_works_until_exactly_24_hours_after_the_unsubscribe(app, db):
    subscriber_id = confirmed(app, db)
    token = leave(app, db, subscriber_id)
    outcome, subscriber = undo(app, db, token, NOW + timedelta(hours=24) + SECOND)
    assert (outcome, subscriber["status"]) == ("expired", "churned")
    assert suppressed(app, db)
    assert kinds(db, subscriber_id).count("resubscribed") == 0
    assert undo(app, db, token, NOW + timedelta(hours=24))[0] == "restored"


def test_a_second_undo_answers_already_and_changes_nothing(app, db):
    subscriber_id = confirmed(app, db)
    token = leave(app, db, subscriber_id)
    assert undo(app, db, token, NOW + SECOND)[0] == "restored"
    outcome, subscriber = undo(app, db, token, NOW + 2 * SECOND)
    assert (outcome, subscriber["status"]) == ("already", "active")
    assert kinds(db, subscriber_id).count("resubscribed") == 1


def test_undo_cannot_revive_a_later_churn_even_when_expired(app, db):
    subscriber_id = confirmed(app, db)
    first = leave(app, db, subscriber_id)
    assert undo(app, db, first, NOW + SECOND)[0] == "restored"
    leave(app, db, subscriber_id, when=NOW + timedelta(hours=2))
    for when in (NOW + timedelta(hours=3), NOW + timedelta(days=3)):
        outcome, subscriber = undo(app, db, first, when)
        assert (outcome, subscriber["status"]) == ("invalid", "churned")
    assert suppressed(app, db)


def test_undo_of_an_erased_subscriber_or_with_a_foreign_token_is_invalid(app, db):
    subscriber_id = confirmed(app, db)
    token = leave(app, db, subscriber_id)
    with app.app_context():
        confirm_token = tokens.make_confirm_token(subscriber_id, NOW)
        assert optout.undo(db, confirm_token, NOW) == ("invalid", None)
        unsubscribe_token = tokens.make_unsubscribe_token(subscriber_id)
        assert optout.undo(db, unsubscribe_token, NOW) == ("invalid", None)
    db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber_id])
    assert undo(app, db, token, NOW + SECOND) == ("invalid", None)


@pytest.mark.parametrize("second_source", ["page", "one-click", "staff"])
def test_repeated_unsubscribe_keeps_the_first_churn_date_source_and_campaign(
    app, db, second_source
):
    subscriber_id = confirmed(app, db)
    with app.app_context():
        first = optout.unsubscribe(db, subscriber_id, "one-click", NOW, 5).subscriber
        again = optout.unsubscribe(db, subscriber_id, second_source, NOW + timedelta(days=1), 9)
        again = again.subscriber
    expected = (isoformat(NOW), "one-click", 5, "churned")
    for row in (first, again, subscribers.get(db, subscriber_id)):
        assert (
            row["churned_at"],
            row["churn_source"],
            row["churn_campaign_id"],
            row["status"],
        ) == (expected)
    [suppression] = list(db.query("SELECT created_at, source FROM suppressions"))
    assert suppression == {"created_at": isoformat(NOW), "source": "unsubscribe"}
    churns = [e for e in subscribers.history(db, subscriber_id) if e["kind"] == "churned"]
    assert [(e["at"], e["source"], e["campaign_id"]) for e in churns] == [
        (isoformat(NOW), "one-click", 5)
    ]


def test_unsubscribe_returns_the_churned_record_or_none_when_gone(app, db):
    subscriber_id = confirmed(app, db)
    with app.app_context():
        churned = optout.unsubscribe(db, subscriber_id, "page", NOW).subscriber
        assert churned == subscribers.get(db, subscriber_id)
        assert optout.unsubscribe(db, subscriber_id + 1000, "page", NOW).subscriber is None
    assert kinds(db, subscriber_id)[-1] == "churned"


def test_unsubscribing_one_person_leaves_everyone_else_subscribed(app, db):
    jane = confirmed(app, db)
    ada = confirmed(app, db, "ada@example.org")
    leave(app, db, jane)
    assert subscribers.get(db, ada)["status"] == "active"
    assert not suppressed(app, db, "ada@example.org")


def test_suppressing_an_address_again_keeps_the_first_date_and_reason(app, db):
    subscriber_id = confirmed(app, db)
    leave(app, db, subscriber_id)
    with app.app_context():
        subscribers.suppress(db, EMAIL, "erasure", NOW + timedelta(days=1))
    [suppression] = list(db.query("SELECT created_at, source FROM suppressions"))
    assert suppression == {"created_at": isoformat(NOW), "source": "unsubscribe"}


@pytest.mark.parametrize("again", ["one-click", "page"])
def test_a_repeated_click_on_the_link_keeps_the_undo_of_the_first(app, db, again):
    """Mailbox providers post one-click again, people click twice: neither is a new
    decision that the first request's "Undo" must respect."""
    subscriber_id = confirmed(app, db)
    token = leave(app, db, subscriber_id, source="page")
    assert leave(app, db, subscriber_id, NOW + timedelta(seconds=1), source=again) is None
    assert kinds(db, subscriber_id)[-1] == "churned"
    outcome, subscriber = undo(app, db, token, NOW + timedelta(seconds=2))
    assert (outcome, subscriber["status"]) == ("restored", "active")


def test_a_staff_unsubscribe_of_someone_already_gone_leaves_a_trace_and_erased_people_none(app, db):
    subscriber_id = confirmed(app, db)
    token = leave(app, db, subscriber_id, source="page")
    leave(app, db, subscriber_id, NOW + timedelta(seconds=1), source="staff")
    trace = subscribers.history(db, subscriber_id)[-1]
    assert (trace["kind"], trace["source"]) == ("unsubscribed_again", "staff")
    assert undo(app, db, token, NOW + timedelta(seconds=2))[0] != "restored"
    db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber_id])
    with app.app_context():  # gone: nothing to record, and no error
        assert optout.unsubscribe(db, subscriber_id, "staff", NOW).subscriber is None
