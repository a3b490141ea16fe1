"""VERP: each mail to a subscriber carries a signed, short, address-free bounce address."""

import sqlite_utils

from tests.campaign_helpers import add_subscribers, new_campaign, send
from tests.newsletter_helpers import sign_up
from weprode import tokens
from weprode.db import connect
from weprode.deliverability import verp
from weprode.migrations import apply_pending, migrations

BOUNCES = "bounces@weprode.com"


def tag_of(envelope_sender):
    local, _, domain = envelope_sender.partition("@")
    assert domain == "weprode.com"
    prefix, _, tag = local.partition("+")
    assert prefix == "bounces"
    return tag


def test_tag_is_short_signed_and_names_no_address(app):
    with app.app_context():
        sender = verp.envelope_sender("campaign", 123456, 42)
        assert sender is None  # BOUNCE_ADDRESS is off by default
        app.config["BOUNCE_ADDRESS"] = BOUNCES
        sender = verp.envelope_sender("campaign", 123456, 42)
        tag = tag_of(sender)
        assert len(sender.partition("@")[0]) <= 64
        assert tag == tag.lower() and tag.isalnum()
        assert verp.check_tag(tag) == tokens.DeliveryTag(1, 123456, 42)
        # MTAs may change the case of a local part: still ours.
        assert verp.check_tag(tag.upper()) == tokens.DeliveryTag(1, 123456, 42)
        assert verp.tags_in(f"Return-Path: <{sender.upper()}>") == [tag]


def test_altered_or_foreign_tags_are_refused(app, make_app):
    with app.app_context():
        app.config["BOUNCE_ADDRESS"] = BOUNCES
        tag = tag_of(verp.envelope_sender("confirm", 7))
        flipped = tag[:5] + ("a" if tag[5] != "a" else "b") + tag[6:]
        assert verp.check_tag(flipped) is None
        assert verp.check_tag(tag[:-1]) is None
        assert verp.check_tag(tag + "a") is None
        assert verp.check_tag("") is None
        assert verp.check_tag("!" * 34) is None
    other = make_app(SECRET_KEY="another-long-random-key-for-tests-0123456789abcdef")
    with other.app_context():
        assert verp.check_tag(tag) is None  # another site's key


def test_tags_survive_key_rotation(app, make_app):
    with app.app_context():
        app.config["BOUNCE_ADDRESS"] = BOUNCES
        tag = tag_of(verp.envelope_sender("campaign", 5, 9))
    new_key = "a-new-long-random-key-for-rotation-tests-0123456789"
    rotated = make_app(SECRET_KEY=new_key, SECRET_KEY_FALLBACKS=[app.config["SECRET_KEY"]])
    with rotated.app_context():
        assert verp.check_tag(tag) == tokens.DeliveryTag(1, 5, 9)


def test_confirmation_mail_goes_out_with_a_verp_envelope_sender(app, client, mailbox, db):
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    sign_up(client)
    mailbox.wait_for(1)
    mail_from, rcpt_tos = mailbox.envelopes[0]
    assert rcpt_tos == ["jane.doe@example.org"]
    subscriber_id = db.execute("SELECT id FROM subscribers").fetchone()[0]
    with app.app_context():
        assert verp.check_tag(tag_of(mail_from)) == tokens.DeliveryTag(2, subscriber_id, 0)
    assert "jane" not in mail_from.lower()


def test_without_bounce_address_the_envelope_sender_is_unchanged(app, client, mailbox):
    sign_up(client)
    mailbox.wait_for(1)
    assert mailbox.envelopes[0][0] == "newsletter@weprode.com"


def campaign_envelopes(app, db, mailbox, pipelining):
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    mailbox.pipelining = pipelining
    people = [(f"p{n}@example.org", None, "en") for n in range(3)]
    ids = add_subscribers(app, db, people)
    campaign_id = new_campaign(db)
    assert send(app, db, campaign_id) == "sent"
    mailbox.wait_for(3)
    found = {}
    with app.app_context():
        for mail_from, (recipient,) in mailbox.envelopes:
            found[recipient] = verp.check_tag(tag_of(mail_from))
    expected = {
        email: tokens.DeliveryTag(1, subscriber_id, campaign_id)
        for (email, _, _), subscriber_id in zip(people, ids, strict=True)
    }
    assert found == expected


def test_campaign_messages_each_carry_their_own_tag_pipelined(app, db, mailbox):
    campaign_envelopes(app, db, mailbox, pipelining=True)


def test_campaign_messages_each_carry_their_own_tag_one_by_one(app, db, mailbox):
    campaign_envelopes(app, db, mailbox, pipelining=False)


def subscriber_schema_names(db):
    sql = "SELECT name FROM sqlite_master WHERE tbl_name = 'subscribers'"
    return {row[0] for row in db.execute(sql)}


def test_bounce_migration_keeps_every_row_link_index_and_counter(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = connect(path)
    migrations.apply(db, stop_before="0018_bounces")
    for n in range(1, 6):
        db["subscribers"].insert(
            {
                "email": f"p{n}@example.org",
                "status": "active" if n % 2 else "churned",
                "source": "form",
                "created_at": "2026-01-01T00:00:00+00:00",
                "request_first_name": "Req" if n == 2 else None,
            }
        )
        db["subscriber_events"].insert(
            {"subscriber_id": n, "kind": "confirmed", "at": "2026-01-01T00:00:00+00:00"}
        )
    db.execute("DELETE FROM subscribers WHERE id = 5")  # the counter stays at 5
    db.execute(
        "INSERT INTO campaigns (subject, body_markdown, language, created_at, created_by, "
        "updated_at) VALUES ('s', 'b', 'all', 'x', 'x', 'x')"
    )
    db.execute("INSERT INTO deliveries (campaign_id, subscriber_id) VALUES (1, 1)")
    db.conn.commit()
    before = list(db.query("SELECT * FROM subscribers ORDER BY id"))
    indexes_before = subscriber_schema_names(db)

    # 0018 alone: later migrations change `subscribers` again (0020: import_id).
    migrations.apply(db, stop_before="0019_outbox_sender")
    assert [migration.name for migration in migrations.pending(db)][0] == "0019_outbox_sender"

    after = list(db.query("SELECT * FROM subscribers ORDER BY id"))
    assert [{**row, "bounced_at": None} for row in before] == after
    indexes_after = subscriber_schema_names(db)
    assert indexes_after == indexes_before
    assert db.execute("SELECT count(*) FROM subscriber_events").fetchone()[0] == 4
    assert db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert (
        "AUTOINCREMENT"
        in db.execute("SELECT sql FROM sqlite_master WHERE name = 'subscribers'").fetchone()[0]
    )
    new_id = (
        db["subscribers"]
        .insert({"email": "new@example.org", "status": "bounced", "source": "x", "created_at": "x"})
        .last_pk
    )
    assert new_id == 6  # ids are never reused
    # The foreign keys still point at subscribers: erasing one cascades.
    db.execute("DELETE FROM subscribers WHERE id = 1")
    assert db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM subscriber_events").fetchone()[0] == 3
    db.close()


def test_bounce_migration_run_again_does_nothing(tmp_path):
    db = sqlite_utils.Database(tmp_path / "x.sqlite3")
    apply_pending(db)
    migration = next(m for m in migrations._migrations if m.name == "0018_bounces")
    migration.fn(db)  # as after a crash between its commit and its record
    assert "bounced_at" in {row[1] for row in db.execute("PRAGMA table_info(subscribers)")}
