"""Sending that respects providers: a "slow down" (421, 4.7.x) holds back that provider
alone, with a growing backoff, while the others are all sent; nobody lost or doubled.

Real SMTP: an aiosmtpd relay that throttles one domain, counting per recipient.
"""

import time
from datetime import timedelta

import pytest
from campaign_helpers import add_readers_in_bulk, new_campaign
from relay_helpers import start_counting_relay

from weprode.campaigns import freeze, ledger, pacing, worker
from weprode.db import connect, isoformat, utcnow
from weprode.deliverability.providers import provider_of
from weprode.mail import bulk_smtp

PER_DOMAIN = 60
FAST, SLOW = "fast.example", "slow.example"


@pytest.fixture
def relay():
    controller, handler = start_counting_relay()
    yield handler
    controller.stop()


def add_readers(db, domains, per_domain=PER_DOMAIN):
    """Active subscribers, their domains interleaved by id."""
    addresses = [f"r{n:03d}@{domain}" for n in range(per_domain) for domain in domains]
    add_readers_in_bulk(db, addresses)
    return addresses


def send_until_sent(app, db, campaign_id, passes=60):
    """What the worker does: a pass, then another a little later, until all is sent."""
    statuses = []
    with app.app_context():
        for _ in range(passes):
            statuses.append(worker.send_campaign(db, campaign_id))
            if statuses[-1] != "sending":
                return statuses
            time.sleep(0.25)
    return statuses


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_throttled_provider_waits_alone_then_gets_its_mail_once(
    make_app, relay, stage, processes
):
    relay.throttle[SLOW] = ("421 4.7.0 Too many messages, slow down", 2, stage)
    app = make_app(
        MAIL_PORT=relay.port,
        CAMPAIGN_SMTP_CONNECTIONS=3,
        CAMPAIGN_BATCH_SIZE=10,
        CAMPAIGN_SENDER_PROCESSES=processes,
        PROVIDER_BACKOFF_SECONDS=1,
    )
    db = connect(app.config["DATABASE"])
    everyone = add_readers(db, [FAST, SLOW])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        assert worker.send_campaign(db, campaign_id) == "sending"

    # The first pass delivered every reader of the other provider, without waiting.
    fast = {address for address in everyone if address.endswith(FAST)}
    assert {address for address in relay.received if address.endswith(FAST)} == fast
    waiting = list(
        db.query(
            "SELECT status, next_attempt_at, smtp_reply FROM deliveries "
            "WHERE campaign_id = ? AND provider = ? AND status != 'sent'",
            [campaign_id, SLOW],
        )
    )
    assert waiting, "the throttled provider's rows wait"
    assert {row["status"] for row in waiting} == {"queued"}
    # Rows claimed when the throttle came back wait for the provider's retry time; the
    # others were never claimed: the provider's throttle holds them back.
    retry_times = {row["next_attempt_at"] for row in waiting if row["smtp_reply"]}
    [throttle] = db.query("SELECT * FROM provider_throttles")
    assert retry_times == {throttle["throttled_until"]}
    assert any((row["smtp_reply"] or "").startswith("421 4.7.0") for row in waiting)
    assert (throttle["provider"], throttle["strikes"]) == (SLOW, 1)

    # Later passes: a second throttle doubles the wait, then the provider accepts.
    statuses = send_until_sent(app, db, campaign_id)
    assert statuses[-1] == "sent", statuses
    assert relay.refused[SLOW] == 2
    assert set(relay.received) == set(everyone)  # nobody lost
    assert set(relay.received.values()) == {1}  # nobody twice
    [throttle] = db.query("SELECT * FROM provider_throttles")
    assert throttle["strikes"] == 0  # it accepted mail again: the next backoff starts anew
    db.close()


def test_a_provider_throttled_by_an_earlier_send_is_left_alone_until_its_time(make_app, relay):
    app = make_app(MAIL_PORT=relay.port, CAMPAIGN_BATCH_SIZE=10)
    db = connect(app.config["DATABASE"])
    add_readers(db, [FAST, SLOW], per_domain=5)
    later = utcnow() + timedelta(minutes=10)
    db.execute(
        "INSERT INTO provider_throttles (provider, strikes, throttled_until, updated_at) "
        "VALUES (?, 1, ?, ?)",
        [SLOW, isoformat(later), isoformat(utcnow())],
    )
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        assert worker.send_campaign(db, campaign_id) == "sending"
    assert sorted(relay.received) == [f"r{n:03d}@{FAST}" for n in range(5)]
    assert ledger.figures(db, campaign_id)["queued"] == 5
    db.close()


@pytest.mark.parametrize("processes", [1, 3])
def test_provider_session_limit_is_kept(make_app, relay, processes):
    """With several sending processes the limit holds for all of them together."""
    app = make_app(
        MAIL_PORT=relay.port,
        CAMPAIGN_SMTP_CONNECTIONS=4,
        CAMPAIGN_BATCH_SIZE=5,
        CAMPAIGN_SENDER_PROCESSES=processes,
        PROVIDER_LIMITS={"*": {"connections": 1}},
    )
    db = connect(app.config["DATABASE"])
    everyone = add_readers(db, [FAST])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        assert worker.send_campaign(db, campaign_id) == "sent"
    assert set(relay.received) == set(everyone) and set(relay.received.values()) == {1}
    # One provider, one session at a time: never two of its messages at once.
    assert relay.most_in_flight == 1
    db.close()


@pytest.mark.parametrize(
    ("code", "text", "kind"),
    [
        (421, "4.7.0 Try again later", bulk_smtp.ProviderThrottled),
        (421, "Service not available", bulk_smtp.ProviderThrottled),
        (451, "4.7.1 Rate limited", bulk_smtp.ProviderThrottled),
        (450, "4.7.28 Unusual rate of unsolicited mail", bulk_smtp.ProviderThrottled),
        (451, "4.3.0 Local error", bulk_smtp.TemporaryFailure),
        (452, "4.2.2 Mailbox full", bulk_smtp.TemporaryFailure),
        (550, "5.7.1 Blocked", bulk_smtp.PermanentFailure),
    ],
)
def test_slow_down_answers_are_told_from_other_refusals(code, text, kind):
    failure = bulk_smtp.classify_reply(code, text.encode())
    assert type(failure) is kind
    assert str(failure) == f"{code} {text}"


def test_backoff_doubles_up_to_its_cap():
    delays = [pacing.backoff(strikes, 60, 600).total_seconds() for strikes in range(1, 7)]
    assert delays == [60, 120, 240, 480, 600, 600]


@pytest.mark.parametrize(
    ("address", "provider"),
    [
        ("a@gmail.com", "gmail"),
        ("a@GoogleMail.com", "gmail"),
        ("a@hotmail.fr", "microsoft"),
        ("a@aol.com", "yahoo"),
        ("a@icloud.com", "apple"),
        ("a@wanadoo.fr", "orange"),
        ("a@mail.orange.fr", "orange"),
        ("a@free.fr", "free"),
        ("a@neuf.fr", "sfr"),
        ("a@laposte.net", "laposte"),
        ("a@bbox.fr", "bouygues"),
        ("a@ac-grenoble.fr", "ac-grenoble.fr"),
    ],
)
def test_addresses_map_to_their_provider(address, provider):
    assert provider_of(address) == provider


def test_frozen_rows_know_their_provider(app, db):
    add_readers(db, ["gmail.com", "orange.fr"], per_domain=2)
    campaign_id = new_campaign(db)
    freeze.start(db, campaign_id, utcnow())
    assert sorted(pacing.queued_providers(db, campaign_id)) == ["gmail", "orange"]


def test_a_backoff_is_never_shorter_than_asked_though_stored_in_whole_seconds(app, db):
    now = utcnow().replace(microsecond=999_000)
    until = pacing.record_throttle(db, SLOW, "421 4.7.0 slow down", now, 1, 60)
    assert until - now >= timedelta(seconds=1) and until.microsecond == 0
    # A "slow down" for a message that was in flight, just after: the same backoff.
    later = now + timedelta(milliseconds=900)
    assert pacing.record_throttle(db, SLOW, "421 4.7.0 slow down", later, 1, 60) == until
    assert db.execute("SELECT strikes FROM provider_throttles").fetchone()[0] == 1
