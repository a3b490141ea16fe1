"""`flask outbox retry --force`: send the waiting and parked mails now, once the cause is fixed."""

from datetime import timedelta

from contact_helpers import closed_port
from test_contact import UTF8_ADDRESS, sample_message

from weprode.db import connect, isoformat, utcnow
from weprode.mail import outbox


def queue(app, db, recipients):
    """One stored acknowledgement per recipient, due now; their ids."""
    ids = []
    with app.test_request_context():
        for recipient in recipients:
            message_id = outbox.enqueue(db, "contact_acknowledgement", sample_message(), utcnow())
            db.execute("UPDATE outbox SET recipient = ? WHERE id = ?", [recipient, message_id])
            ids.append(message_id)
    return ids


def make_waiting(db, message_id):
    """As after a relay failure: the next attempt is hours away."""
    db.execute(
        "UPDATE outbox SET attempts = 3, last_error = 'relay down', next_attempt_at = ? "
        "WHERE id = ?",
        [isoformat(utcnow() + timedelta(hours=4)), message_id],
    )


def make_parked(db, message_id):
    """As after a refusal for good that staff have since fixed."""
    db.execute(
        "UPDATE outbox SET attempts = 1, failed_at = ?, last_error = '550 mailbox full' "
        "WHERE id = ?",
        [isoformat(utcnow()), message_id],
    )


def make_held(db, message_id):
    """As while another process is sending it."""
    db.execute(
        "UPDATE outbox SET claimed_until = ? WHERE id = ?",
        [isoformat(utcnow() + outbox.CLAIM_LEASE), message_id],
    )


def rows(db):
    return {row["id"]: row for row in db.query("SELECT * FROM outbox")}


def test_force_sends_waiting_and_parked_mail_now_and_leaves_held_mail_alone(app, db, mailbox):
    waiting, parked, held = queue(
        app, db, ["waiting@example.org", "parked@example.org", "held@example.org"]
    )
    make_waiting(db, waiting)
    make_parked(db, parked)
    make_held(db, held)
    runner = app.test_cli_runner()

    plain = runner.invoke(args=["outbox", "retry"])
    assert plain.exit_code == 0, plain.output
    assert "sent 0, still waiting 2" in plain.output  # nothing due: the held one waits too
    assert set(rows(db)) == {waiting, parked, held}

    forced = runner.invoke(args=["outbox", "retry", "--force"])

    assert forced.exit_code == 0, forced.output
    assert "sent 2, still waiting 1" in forced.output
    received = sorted(message["To"] for message in mailbox.wait_for(2))
    assert received == ["parked@example.org", "waiting@example.org"]
    assert set(rows(db)) == {held}  # delivered rows are deleted, the held one untouched
    assert rows(db)[held]["attempts"] == 0
    assert len(mailbox.wait_for(3, timeout=0.5)) == 2  # sent once each


def test_force_with_the_relay_still_down_keeps_every_message_and_fails(make_app, mailbox):
    app = make_app(MAIL_PORT=closed_port())
    db = connect(app.config["DATABASE"])
    waiting, parked = queue(app, db, ["waiting@example.org", "parked@example.org"])
    make_waiting(db, waiting)
    make_parked(db, parked)

    result = app.test_cli_runner().invoke(args=["outbox", "retry", "--force"])

    assert result.exit_code == 1
    assert "the mail relay failed" in result.output
    after = rows(db)
    assert set(after) == {waiting, parked}
    # The first one tried waits again with a new delay; the pass stopped there.
    assert after[waiting]["attempts"] == 4
    assert after[waiting]["claimed_until"] is None
    assert after[parked]["failed_at"]  # still parked: not lost, not retried by the timer
    assert mailbox.messages == []
    db.close()


def test_force_parks_again_what_still_cannot_be_sent(app, db, mailbox):
    poison, fine = queue(app, db, [UTF8_ADDRESS, "fine@example.org"])
    make_parked(db, poison)

    result = app.test_cli_runner().invoke(args=["outbox", "retry", "--force"])

    assert result.exit_code == 2
    assert "1 message can never be sent and was parked" in result.output
    assert [message["To"] for message in mailbox.wait_for(1)] == ["fine@example.org"]
    after = rows(db)
    assert set(after) == {poison}
    assert after[poison]["failed_at"] and "SMTPUTF8" in after[poison]["last_error"]
    assert after[poison]["attempts"] == 2


def test_force_on_an_empty_outbox_sends_nothing(runner, mailbox):
    result = runner.invoke(args=["outbox", "retry", "--force"])
    assert result.exit_code == 0
    assert "sent 0, still waiting 0" in result.output
    assert mailbox.messages == []


def test_a_bad_option_is_refused_and_sends_nothing(app, db, runner, mailbox):
    [waiting] = queue(app, db, ["waiting@example.org"])
    make_waiting(db, waiting)
    result = runner.invoke(args=["outbox", "retry", "--forse"])
    assert result.exit_code == 2
    assert "No such option '--forse'" in result.output
    assert set(rows(db)) == {waiting} and rows(db)[waiting]["attempts"] == 3
    assert mailbox.messages == []


def test_a_message_held_by_a_sender_that_died_is_forced_after_its_lease(app, db, mailbox):
    [held] = queue(app, db, ["held@example.org"])
    db.execute(
        "UPDATE outbox SET claimed_until = ? WHERE id = ?",
        [isoformat(utcnow() - timedelta(seconds=1)), held],
    )
    result = app.test_cli_runner().invoke(args=["outbox", "retry", "--force"])
    assert "sent 1, still waiting 0" in result.output
    assert [message["To"] for message in mailbox.wait_for(1)] == ["held@example.org"]
