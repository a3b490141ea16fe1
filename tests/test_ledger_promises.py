"""The delivery ledger's promises, each pinned so that a one-token change breaks a test.

Every per-campaign statement is checked with a second campaign beside the first, every
time comparison from both sides of its boundary, and every count exactly. Service
functions are called directly with an explicit `now`.
"""

from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import add_subscribers, new_campaign

from weprode.campaigns import audiences, compose, freeze, ledger, senders, worker
from weprode.db import connect, isoformat, utcnow
from weprode.mail import bulk_smtp
from weprode.newsletter import optout

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
SENDER = "worker.example:4242:aaaaaa"


def people(count, language="en", prefix="p"):
    return [(f"{prefix}{i}@example.org", f"N{i}", language) for i in range(count)]


def deliveries(db, campaign_id):
    """The campaign's rows as dicts, in id order."""
    return list(
        db.query("SELECT * FROM deliveries WHERE campaign_id = ? ORDER BY id", [campaign_id])
    )


def statuses(db, campaign_id):
    return [row["status"] for row in deliveries(db, campaign_id)]


def started(db, count=1, language="all"):
    """`count` campaigns, each frozen at NOW over the subscribers that exist."""
    ids = [new_campaign(db, language=language) for _ in range(count)]
    for campaign_id in ids:
        freeze.start(db, campaign_id, NOW)
    return ids


def claim_ids(db, campaign_id, batch_size, now=NOW, sender=SENDER):
    return [row["delivery_id"] for row in ledger.claim(db, campaign_id, sender, batch_size, now)]


# Cancel, pause, resume: one campaign's action never touches another.


def test_cancel_leaves_other_campaigns(app, db):
    add_subscribers(app, db, people(4))
    before, cancelled, after = started(db, 3)  # neighbours on both sides of its id
    sent, failed, in_flight = claim_ids(db, cancelled, 3)
    ledger.record_outcomes(db, [(sent, "sent", None, "250"), (failed, "failed", None, "550")], NOW)

    ledger.cancel(db, cancelled, NOW + timedelta(minutes=5))

    rows = deliveries(db, cancelled)
    assert [(r["status"], r["smtp_reply"]) for r in rows] == [
        ("sent", "250"),
        ("failed", "550"),
        ("skipped", "cancelled"),  # was in flight
        ("skipped", "cancelled"),  # was queued
    ]
    assert rows[2]["id"] == in_flight
    campaign = ledger.get(db, cancelled)
    assert campaign["status"] == "cancelled"
    assert campaign["finished_at"] == isoformat(NOW + timedelta(minutes=5))
    # The other campaigns: still sending, all four rows queued and claimable.
    for other in (before, after):
        assert ledger.get(db, other)["status"] == "sending"
        assert ledger.get(db, other)["finished_at"] is None
        assert statuses(db, other) == ["queued"] * 4
        assert len(ledger.claim(db, other, SENDER, 10, NOW)) == 4


@pytest.mark.parametrize("status", ["draft", "scheduled", "sending", "paused"])
def test_cancel_is_allowed_until_the_campaign_is_over(app, db, status):
    add_subscribers(app, db, people(1))
    campaign_id = new_campaign(db)
    if status == "scheduled":
        ledger.schedule(db, campaign_id, NOW + timedelta(days=1), NOW)
    if status in ("sending", "paused"):
        freeze.start(db, campaign_id, NOW)
    if status == "paused":
        ledger.pause(db, campaign_id, "staff asked", NOW)
    ledger.cancel(db, campaign_id, NOW)
    assert ledger.get(db, campaign_id)["status"] == "cancelled"


@pytest.mark.parametrize("status", ["sent", "cancelled"])
def test_a_finished_campaign_cannot_be_cancelled(app, db, status):
    add_subscribers(app, db, people(1))
    [campaign_id] = started(db)
    [delivery_id] = claim_ids(db, campaign_id, 1)
    ledger.record_outcomes(db, [(delivery_id, "sent", None, "250")], NOW)
    if status == "sent":
        assert ledger.finish_if_done(db, campaign_id, NOW) is True
    else:
        ledger.cancel(db, campaign_id, NOW)
    with pytest.raises(ledger.CampaignStateError):
        ledger.cancel(db, campaign_id, NOW + timedelta(hours=1))
    campaign = ledger.get(db, campaign_id)
    assert (campaign["status"], campaign["finished_at"]) == (status, isoformat(NOW))
    assert statuses(db, campaign_id) == ["sent"]


def test_pause_and_resume_leave_other_campaigns(app, db):
    add_subscribers(app, db, people(2))
    before, target, after = started(db, 3)  # neighbours on both sides of its id

    ledger.pause(db, target, "staff asked", NOW)
    paused = ledger.get(db, target)
    assert (paused["status"], paused["paused_reason"], paused["paused_at"]) == (
        "paused",
        "staff asked",
        isoformat(NOW),
    )
    for other in (before, after):
        assert ledger.get(db, other)["status"] == "sending"
        assert ledger.get(db, other)["paused_reason"] is None

    later = NOW + timedelta(minutes=1)
    ledger.pause(db, before, "before", later)
    ledger.pause(db, after, "after", later)
    assert ledger.get(db, target)["paused_reason"] == "staff asked"
    ledger.resume(db, target)
    resumed = ledger.get(db, target)
    assert (resumed["status"], resumed["paused_reason"], resumed["paused_at"]) == (
        "sending",
        None,
        None,
    )
    for other, reason in ((before, "before"), (after, "after")):
        still_paused = ledger.get(db, other)
        assert (still_paused["status"], still_paused["paused_reason"]) == ("paused", reason)
        assert still_paused["paused_at"] == isoformat(later)
    # Pausing and resuming never touch the rows.
    assert [statuses(db, c) for c in (before, target, after)] == [["queued"] * 2] * 3


def test_pause_needs_a_sending_campaign_and_resume_a_paused_one(app, db):
    add_subscribers(app, db, people(1))
    [campaign_id] = started(db)
    with pytest.raises(ledger.CampaignStateError):
        ledger.resume(db, campaign_id)
    ledger.pause(db, campaign_id, "first", NOW)
    with pytest.raises(ledger.CampaignStateError):
        ledger.pause(db, campaign_id, "second", NOW + timedelta(minutes=1))
    assert ledger.get(db, campaign_id)["paused_reason"] == "first"
    draft = new_campaign(db)
    with pytest.raises(ledger.CampaignStateError):
        ledger.pause(db, draft, "not started", NOW)
    assert ledger.get(db, draft)["status"] == "draft"


def test_claim_takes_nothing_from_a_paused_campaign(app, db):
    add_subscribers(app, db, people(3))
    [campaign_id] = started(db)
    ledger.pause(db, campaign_id, "staff asked", NOW)
    assert ledger.claim(db, campaign_id, SENDER, 10, NOW) == []
    assert statuses(db, campaign_id) == ["queued"] * 3


def test_a_cancelled_campaign_keeps_no_row_queued_when_its_batch_in_flight_returns(app, db):
    add_subscribers(app, db, people(2))
    [campaign_id] = started(db)
    delivered, refused = claim_ids(db, campaign_id, 2)
    ledger.cancel(db, campaign_id, NOW)
    ledger.record_outcomes(
        db,
        [
            (delivered, "sent", None, "250"),  # it did go out: recorded as sent
            (refused, "queued", NOW + timedelta(seconds=30), "451 try later"),
        ],
        NOW,
    )
    assert statuses(db, campaign_id) == ["sent", "skipped"]


# Finishing: sent exactly when the last row is marked, never while paused or cancelled.


def test_campaign_is_declared_sent_exactly_when_the_last_row_is_marked(app, db):
    add_subscribers(app, db, people(3))
    [campaign_id] = started(db)
    first, second, last = claim_ids(db, campaign_id, 3)
    assert ledger.finish_if_done(db, campaign_id, NOW) is False  # the whole batch in flight
    ledger.record_outcomes(db, [(first, "sent", None, "250"), (second, "failed", None, "550")], NOW)
    assert ledger.finish_if_done(db, campaign_id, NOW) is False  # one row still in flight
    assert ledger.get(db, campaign_id)["status"] == "sending"
    assert ledger.get(db, campaign_id)["finished_at"] is None

    ledger.record_outcomes(db, [(last, "sent", None, "250")], NOW + timedelta(seconds=1))
    assert ledger.finish_if_done(db, campaign_id, NOW + timedelta(seconds=2)) is True
    campaign = ledger.get(db, campaign_id)
    assert campaign["status"] == "sent"
    assert campaign["finished_at"] == isoformat(NOW + timedelta(seconds=2))


def test_campaign_is_not_sent_while_a_row_waits_for_its_retry(app, db):
    add_subscribers(app, db, people(2))
    [campaign_id] = started(db)
    sent, retried = claim_ids(db, campaign_id, 2)
    retry_at = NOW + timedelta(minutes=1)
    ledger.record_outcomes(
        db, [(sent, "sent", None, "250"), (retried, "queued", retry_at, "451")], NOW
    )
    assert ledger.finish_if_done(db, campaign_id, NOW) is False
    assert ledger.get(db, campaign_id)["status"] == "sending"


def test_finishing_one_campaign_leaves_the_others_sending(app, db):
    add_subscribers(app, db, people(2))
    before, done, after = started(db, 3)  # busy campaigns on both sides of its id
    ledger.record_outcomes(db, [(d, "sent", None, "250") for d in claim_ids(db, done, 2)], NOW)
    for busy in (before, after):
        claim_ids(db, busy, 1)  # one row in flight, one queued
        assert ledger.finish_if_done(db, busy, NOW) is False
    assert ledger.get(db, done)["status"] == "sending"  # nobody asked for it yet
    assert ledger.finish_if_done(db, done, NOW) is True
    assert ledger.get(db, done)["status"] == "sent"
    for busy in (before, after):
        assert ledger.get(db, busy)["status"] == "sending"
        assert ledger.get(db, busy)["finished_at"] is None


def test_finishing_lets_go_of_the_sender(app, db):
    add_subscribers(app, db, people(1))
    done, other = started(db, 2)
    assert senders.take_over(db, done, SENDER, NOW)
    assert senders.take_over(db, other, SENDER, NOW)
    ledger.record_outcomes(db, [(d, "sent", None, "250") for d in claim_ids(db, done, 1)], NOW)
    assert ledger.finish_if_done(db, done, NOW) is True
    assert ledger.get(db, done)["sender_id"] is None
    assert ledger.get(db, other)["sender_id"] == SENDER


@pytest.mark.parametrize("stop", ["pause", "cancel"])
def test_paused_or_cancelled_campaign_never_flips_to_sent(app, db, stop):
    add_subscribers(app, db, people(2))
    [campaign_id] = started(db)
    in_flight = claim_ids(db, campaign_id, 2)
    if stop == "pause":
        ledger.pause(db, campaign_id, "staff asked", NOW)
    else:
        ledger.cancel(db, campaign_id, NOW)
    # The batch that was in flight comes back: every row is now done.
    ledger.record_outcomes(db, [(d, "sent", None, "250") for d in in_flight], NOW)
    ledger.finish_if_done(db, campaign_id, NOW + timedelta(minutes=1))
    campaign = ledger.get(db, campaign_id)
    expected = "paused" if stop == "pause" else "cancelled"
    assert campaign["status"] == expected
    assert campaign["finished_at"] == (None if stop == "pause" else isoformat(NOW))


# Claiming: exact batch sizes, id order, one campaign, due retries only.


def test_claim_takes_exact_batches_in_id_order_from_one_campaign(app, db):
    add_subscribers(app, db, people(5))
    mine, other = started(db, 2)
    ids = [row["id"] for row in deliveries(db, mine)]

    first = ledger.claim(db, mine, SENDER, 2, NOW)
    assert [row["delivery_id"] for row in first] == ids[:2]
    assert [row["email"] for row in first] == ["p0@example.org", "p1@example.org"]
    assert [row["first_name"] for row in first] == ["N0", "N1"]
    assert [row["attempts"] for row in first] == [1, 1]
    assert claim_ids(db, mine, 2) == ids[2:4]
    assert claim_ids(db, mine, 2) == ids[4:]
    assert claim_ids(db, mine, 2) == []

    rows = deliveries(db, mine)
    assert [r["status"] for r in rows] == ["sending"] * 5
    assert {(r["claimed_by"], r["claimed_at"], r["attempts"]) for r in rows} == {
        (SENDER, isoformat(NOW), 1)
    }
    untouched = deliveries(db, other)
    assert [(r["status"], r["attempts"], r["claimed_by"]) for r in untouched] == [
        ("queued", 0, None)
    ] * 5


def test_claim_skips_people_who_left_after_the_freeze(app, db):
    ids = add_subscribers(app, db, people(3))
    [campaign_id] = started(db)
    with app.app_context():
        optout.unsubscribe(db, ids[1], "page", NOW)
    claimed = ledger.claim(db, campaign_id, SENDER, 10, NOW)
    assert [row["email"] for row in claimed] == ["p0@example.org", "p2@example.org"]
    gone = deliveries(db, campaign_id)[1]
    assert (gone["status"], gone["smtp_reply"], gone["claimed_by"], gone["sent_at"]) == (
        "skipped",
        "unsubscribed",
        None,
        None,
    )
    assert statuses(db, campaign_id) == ["sending", "skipped", "sending"]


def test_retry_becomes_claimable_exactly_when_its_time_has_come(app, db):
    add_subscribers(app, db, people(1))
    [campaign_id, other] = started(db, 2)
    [delivery_id] = claim_ids(db, campaign_id, 1)
    retry_at = NOW + timedelta(seconds=60)
    ledger.record_outcomes(db, [(delivery_id, "queued", retry_at, "451 try later")], NOW)
    [row] = deliveries(db, campaign_id)
    assert (row["status"], row["next_attempt_at"]) == ("queued", isoformat(retry_at))

    assert claim_ids(db, campaign_id, 10, now=retry_at - timedelta(seconds=1)) == []
    assert statuses(db, campaign_id) == ["queued"]
    assert claim_ids(db, campaign_id, 10, now=retry_at) == [delivery_id]
    assert deliveries(db, campaign_id)[0]["attempts"] == 2
    # A fresh row (no retry time) of another campaign was claimable all along.
    assert len(claim_ids(db, other, 10, now=NOW - timedelta(days=1))) == 1


def test_attempts_count_one_per_try_and_the_row_fails_at_the_limit(app, db):
    """The worker's path: claim, `outcome_for` after a temporary refusal, record."""
    add_subscribers(app, db, people(1))
    [campaign_id] = started(db)
    refusal = bulk_smtp.TemporaryFailure("451 4.7.1 Try again later")
    max_attempts, now = 3, NOW
    history = []
    for _ in range(max_attempts):
        [row] = ledger.claim(db, campaign_id, SENDER, 10, now)
        outcome = worker.outcome_for(row, refusal, now, max_attempts)
        ledger.record_outcomes(db, [outcome], now)
        [stored] = deliveries(db, campaign_id)
        history.append((stored["attempts"], stored["status"], stored["next_attempt_at"]))
        if stored["next_attempt_at"]:
            now = datetime.fromisoformat(stored["next_attempt_at"])
    assert history == [
        (1, "queued", isoformat(NOW + timedelta(seconds=30))),
        (2, "queued", isoformat(NOW + timedelta(seconds=90))),
        (3, "failed", None),
    ]
    assert ledger.claim(db, campaign_id, SENDER, 10, now + timedelta(days=1)) == []
    assert ledger.finish_if_done(db, campaign_id, now) is True


def test_refused_row_is_retried_at_its_time_and_fails_at_the_attempt_limit_over_smtp(
    make_app, mailbox
):
    """The same over a real relay: a 451 is retried when its (real) time has come."""
    app = make_app(CAMPAIGN_MAX_ATTEMPTS=2, CAMPAIGN_SMTP_CONNECTIONS=1)
    db = connect(app.config["DATABASE"])
    add_subscribers(app, db, [("ok@example.org", None, "en"), ("busy@example.org", None, "en")])
    mailbox.refusals["busy@example.org"] = "451 4.3.0 Try again later"  # not a throttle
    campaign_id = new_campaign(db)

    def busy_row():
        [row] = db.query(
            "SELECT d.* FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
            "WHERE s.email = 'busy@example.org'"
        )
        return row

    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        assert worker.send_campaign(db, campaign_id) == "sending"
        first = busy_row()
        assert (first["status"], first["attempts"]) == ("queued", 1)
        assert first["smtp_reply"].startswith("451")
        assert first["next_attempt_at"] > first["claimed_at"]
        # Its retry time has come (a real timestamp in the past, not NULL).
        past = isoformat(utcnow() - timedelta(minutes=1))
        db.execute("UPDATE deliveries SET next_attempt_at = ? WHERE id = ?", [past, first["id"]])
        assert worker.send_campaign(db, campaign_id) == "sent"
    second = busy_row()
    assert (second["status"], second["attempts"], second["next_attempt_at"]) == ("failed", 2, None)
    assert [message["To"] for message in mailbox.wait_for(1)] == ["ok@example.org"]
    db.close()


def test_marking_touches_only_the_given_rows_and_stamps_only_sent_ones(app, db):
    add_subscribers(app, db, people(4))
    [campaign_id] = started(db)
    sent, failed, retried, untouched = claim_ids(db, campaign_id, 4)
    later = NOW + timedelta(minutes=2)
    ledger.record_outcomes(
        db,
        [
            (sent, "sent", None, "250"),
            (failed, "failed", None, "550 no such mailbox"),
            (retried, "queued", later + timedelta(minutes=5), "451 later"),
        ],
        later,
    )
    rows = {
        row["id"]: (
            row["status"],
            row["sent_at"],
            row["next_attempt_at"],
            row["smtp_reply"],
            row["claimed_by"],
        )
        for row in deliveries(db, campaign_id)
    }
    assert rows == {
        sent: ("sent", isoformat(later), None, "250", None),
        failed: ("failed", None, None, "550 no such mailbox", None),
        retried: ("queued", None, isoformat(later + timedelta(minutes=5)), "451 later", None),
        untouched: ("sending", None, None, None, SENDER),
    }


def test_a_sent_row_is_stamped_sent_whatever_the_relay_said_and_forgets_its_retry(app, db):
    add_subscribers(app, db, people(2))
    [campaign_id] = started(db)
    plain, wordy = claim_ids(db, campaign_id, 2)
    retry_at = NOW + timedelta(minutes=1)
    ledger.record_outcomes(
        db, [(plain, "queued", retry_at, "451"), (wordy, "queued", retry_at, "451")], NOW
    )
    assert claim_ids(db, campaign_id, 2, now=retry_at) == [plain, wordy]
    later = retry_at + timedelta(seconds=5)
    ledger.record_outcomes(
        db, [(plain, "sent", None, "250"), (wordy, "sent", None, "250 2.0.0 queued as 4F1B")], later
    )
    rows = {
        row["id"]: (row["status"], row["sent_at"], row["next_attempt_at"], row["smtp_reply"])
        for row in deliveries(db, campaign_id)
    }
    assert rows == {
        plain: ("sent", isoformat(later), None, "250"),
        wordy: ("sent", isoformat(later), None, "250 2.0.0 queued as 4F1B"),
    }
    assert [row["claimed_by"] for row in deliveries(db, campaign_id)] == [None, None]


def test_a_clean_stop_gives_back_only_its_own_rows_never_begun(app, db):
    add_subscribers(app, db, people(5))
    campaign_id, other_campaign = started(db, 2)
    first = claim_ids(db, campaign_id, 5)
    retried, begun, taken_over, skipped, sent = first
    retry_at = NOW + timedelta(minutes=1)
    ledger.record_outcomes(db, [(retried, "queued", retry_at, "451")], NOW)
    assert claim_ids(db, campaign_id, 1, now=retry_at) == [retried]  # its second try
    ledger.record_outcomes(db, [(sent, "sent", None, "250")], NOW)
    db.execute("UPDATE deliveries SET claimed_by = 'other:1:bbbbbb' WHERE id = ?", [taken_over])
    db.execute("UPDATE deliveries SET status = 'skipped' WHERE id = ?", [skipped])
    neighbours = claim_ids(db, other_campaign, 5)

    ledger.unclaim(db, [retried, begun, taken_over, skipped, sent], SENDER)

    rows = {
        row["id"]: (row["status"], row["claimed_by"], row["attempts"])
        for row in deliveries(db, campaign_id)
    }
    assert rows == {
        retried: ("queued", None, 1),  # the stop gives back the attempt it claimed
        begun: ("queued", None, 0),
        taken_over: ("sending", "other:1:bbbbbb", 1),
        skipped: ("skipped", SENDER, 1),
        sent: ("sent", None, 1),
    }
    assert statuses(db, other_campaign) == ["sending"] * len(neighbours)


# Freezing the audience: once, by language, active people only.


def test_restarting_a_sending_campaign_does_not_refreeze_its_audience(app, db):
    ids = add_subscribers(app, db, people(3))
    [campaign_id] = started(db)
    waiting = new_campaign(db)
    add_subscribers(app, db, [("late@example.org", "Late", "en")])
    with app.app_context():
        optout.unsubscribe(db, ids[1], "page", NOW + timedelta(minutes=1))

    assert freeze.start(db, campaign_id, NOW + timedelta(hours=1)) == 3
    rows = deliveries(db, campaign_id)
    assert [row["subscriber_id"] for row in rows] == ids
    assert ledger.get(db, campaign_id)["started_at"] == isoformat(NOW)
    assert ledger.get(db, waiting)["status"] == "draft"
    # The one who left since is skipped when claimed, the latecomer never appears.
    claimed = ledger.claim(db, campaign_id, SENDER, 10, NOW + timedelta(hours=1))
    assert [row["email"] for row in claimed] == ["p0@example.org", "p2@example.org"]


def test_a_scheduled_campaign_starts_and_forgets_its_schedule(app, db):
    add_subscribers(app, db, people(2))
    before, scheduled, after = new_campaign(db), new_campaign(db), new_campaign(db)
    for hours, campaign_id in enumerate((before, scheduled, after), start=1):
        ledger.schedule(db, campaign_id, NOW + timedelta(hours=hours), NOW)
    assert freeze.start(db, scheduled, NOW + timedelta(hours=2)) == 2
    campaign = ledger.get(db, scheduled)
    assert (campaign["status"], campaign["started_at"], campaign["scheduled_at"]) == (
        "sending",
        isoformat(NOW + timedelta(hours=2)),
        None,
    )
    for hours, other in ((1, before), (3, after)):
        untouched = ledger.get(db, other)
        assert (untouched["status"], untouched["scheduled_at"], untouched["started_at"]) == (
            "scheduled",
            isoformat(NOW + timedelta(hours=hours)),
            None,
        )
        assert ledger.recipients(db, other) == 0


@pytest.mark.parametrize("stop", ["pause", "cancel", "finish"])
def test_a_stopped_or_finished_campaign_cannot_be_started_again(app, db, stop):
    add_subscribers(app, db, people(1))
    [campaign_id] = started(db)
    if stop == "pause":
        ledger.pause(db, campaign_id, "staff asked", NOW)
    elif stop == "cancel":
        ledger.cancel(db, campaign_id, NOW)
    else:
        ledger.record_outcomes(db, [(claim_ids(db, campaign_id, 1)[0], "sent", None, "250")], NOW)
        ledger.finish_if_done(db, campaign_id, NOW)
    status = ledger.get(db, campaign_id)["status"]
    with pytest.raises(ledger.CampaignStateError):
        freeze.start(db, campaign_id, NOW + timedelta(hours=1))
    assert ledger.get(db, campaign_id)["status"] == status


def test_audience_is_the_active_subscribers_it_names(app, db):
    english = add_subscribers(app, db, people(3, "en", "en"))
    french = add_subscribers(app, db, people(2, "fr", "fr"))
    db["subscribers"].insert(
        {
            "email": "pending@example.org",
            "language": "en",
            "status": "pending",
            "source": "signup",
            "created_at": isoformat(NOW),
        }
    )
    with app.app_context():
        optout.unsubscribe(db, english[2], "page", NOW)
        optout.unsubscribe(db, french[1], "page", NOW)
    sizes = {key: audiences.counts(db, key, ("en",))["all"]["total"] for key in ("en", "fr", "all")}
    assert sizes == {"en": 2, "fr": 1, "all": 3}
    expected = {"en": english[:2], "fr": french[:1], "all": [*english[:2], *french[:1]]}
    for language, subscriber_ids in expected.items():
        [campaign_id] = started(db, language=language)
        assert ledger.recipients(db, campaign_id) == len(subscriber_ids)
        assert [r["subscriber_id"] for r in deliveries(db, campaign_id)] == subscriber_ids


def test_the_audience_is_frozen_in_chunks_and_claimed_only_once_whole(app, db, monkeypatch):
    monkeypatch.setattr(freeze, "FREEZE_IDS", 2)
    english = add_subscribers(app, db, people(3, "en", "en"))
    french = add_subscribers(app, db, people(2, "fr", "fr"))
    english += add_subscribers(app, db, people(2, "en", "late"))  # ids above the French
    campaign_id, other = new_campaign(db, language="en"), new_campaign(db, language="en")
    assert freeze.start(db, campaign_id, NOW) == 5
    assert [r["subscriber_id"] for r in deliveries(db, campaign_id)] == english
    assert not set(french) & {r["subscriber_id"] for r in deliveries(db, campaign_id)}
    assert ledger.get(db, campaign_id)["status"] == "sending"
    assert ledger.recipients(db, other) == 0


def test_a_start_cut_short_is_started_again_over_the_audience_chosen_now(app, db, monkeypatch):
    monkeypatch.setattr(freeze, "FREEZE_IDS", 2)
    english = add_subscribers(app, db, people(3, "en", "en"))
    french = add_subscribers(app, db, people(3, "fr", "fr"))
    campaign_id = new_campaign(db, language="en")
    # A start whose process died after two chunks: rows written, still a draft.
    english_readers = audiences.recipients(audiences.get("en"), 1, row_by_row=True)
    freeze.freeze_window(db, campaign_id, *english_readers, 0, english[1])
    assert ledger.claim(db, campaign_id, SENDER, 10, NOW) == []  # a draft: nothing to claim
    compose.set_audience(db, campaign_id, "fr", NOW)  # staff chose another audience since
    assert freeze.start(db, campaign_id, NOW) == 3
    assert [r["subscriber_id"] for r in deliveries(db, campaign_id)] == french
    assert not set(english) & {r["subscriber_id"] for r in deliveries(db, campaign_id)}


def test_a_start_keeps_the_rows_another_start_wrote_for_the_same_audience(app, db, monkeypatch):
    """Two starts of one campaign at once (staff's button, the worker's schedule): each
    keeps the other's rows; deleting them, one could mark the campaign sending while
    the rows the other had written behind it were gone."""
    monkeypatch.setattr(freeze, "FREEZE_IDS", 2)
    ids = add_subscribers(app, db, people(5))
    campaign_id = new_campaign(db, language="en")
    english_readers = audiences.recipients(audiences.get("en"), 1, row_by_row=True)
    freeze.freeze_window(db, campaign_id, *english_readers, ids[1], ids[3])  # the other's
    theirs = {r["subscriber_id"]: r["id"] for r in deliveries(db, campaign_id)}
    assert list(theirs) == ids[2:4]
    assert freeze.start(db, campaign_id, NOW) == 5
    rows = {r["subscriber_id"]: r["id"] for r in deliveries(db, campaign_id)}
    assert sorted(rows) == ids and {i: rows[i] for i in theirs} == theirs


def test_schedule_needs_a_time_strictly_in_the_future(app, db):
    before, campaign_id, after = new_campaign(db), new_campaign(db), new_campaign(db)
    # The staff page shows this sentence as the reason (409).
    with pytest.raises(ledger.CampaignStateError, match=r"^Choose a time in the future\.$"):
        ledger.schedule(db, campaign_id, NOW, NOW)
    assert ledger.get(db, campaign_id)["status"] == "draft"
    ledger.schedule(db, campaign_id, NOW + timedelta(seconds=1), NOW)
    assert ledger.get(db, campaign_id)["scheduled_at"] == isoformat(NOW + timedelta(seconds=1))
    ledger.schedule(db, campaign_id, NOW + timedelta(days=1), NOW)  # moved again
    campaign = ledger.get(db, campaign_id)
    assert (campaign["status"], campaign["scheduled_at"]) == (
        "scheduled",
        isoformat(NOW + timedelta(days=1)),
    )
    for other in (before, after):
        assert (ledger.get(db, other)["status"], ledger.get(db, other)["scheduled_at"]) == (
            "draft",
            None,
        )
    freeze.start(db, before, NOW)
    with pytest.raises(ledger.CampaignStateError):
        ledger.schedule(db, before, NOW + timedelta(days=1), NOW)


def test_get_and_require_find_exactly_the_campaign_asked_for(app, db):
    first, second = new_campaign(db, subject="First"), new_campaign(db, subject="Second")
    assert ledger.get(db, second)["subject"] == "Second"
    assert ledger.get(db, second + 1) is None
    assert ledger.get(db, first - 1) is None  # an unknown id below the others too
    assert ledger.require(db, first)["subject"] == "First"  # no status asked: any will do
    assert ledger.require(db, first, "draft")["id"] == first
    with pytest.raises(ledger.CampaignStateError, match="no campaign"):
        ledger.require(db, second + 1)
    with pytest.raises(ledger.CampaignStateError, match="is a draft"):
        ledger.require(db, first, "sending", "paused")


# Progress: exact counts per state, per campaign.


def test_figures_count_each_state_of_one_campaign_exactly(app, db):
    ids = add_subscribers(app, db, people(6))
    counted, other = started(db, 2)
    with app.app_context():
        optout.unsubscribe(db, ids[5], "one-click", NOW, campaign_id=counted)
    sent_a, sent_b, failed, retried, _in_flight = claim_ids(db, counted, 6)  # ids[5] skipped
    ledger.record_outcomes(
        db,
        [
            (sent_a, "sent", None, "250"),
            (sent_b, "sent", None, "250"),
            (failed, "failed", None, "550"),
            (retried, "queued", NOW + timedelta(hours=1), "451"),
        ],
        NOW,
    )
    with app.app_context():
        optout.unsubscribe(db, ids[4], "one-click", NOW, campaign_id=other)
        optout.unsubscribe(db, ids[3], "page", NOW)
    assert ledger.figures(db, counted) == {
        "queued": 1,
        "sending": 1,
        "sent": 2,
        "failed": 1,
        "skipped": 1,
        "recipients": 6,
        "unsubscribed": 1,
        "percent": 67,  # 4 of 6 done
    }
    assert ledger.figures(db, other) == {
        "queued": 6,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "skipped": 0,
        "recipients": 6,
        "unsubscribed": 1,
        "percent": 0,
    }
    assert ledger.recipients(db, counted) == ledger.recipients(db, other) == 6
    empty = new_campaign(db)
    assert ledger.figures(db, empty)["percent"] == 0
    assert ledger.recipients(db, empty) == 0


def test_deliveries_for_lists_one_subscribers_campaigns_newest_first(app, db):
    first_person, second_person = add_subscribers(app, db, people(2))
    subjects = ["Spring", "Summer", "Autumn"]
    campaign_ids = [new_campaign(db, subject=subject) for subject in subjects]
    for campaign_id in campaign_ids:
        freeze.start(db, campaign_id, NOW)
    [delivery_id] = claim_ids(db, campaign_ids[0], 1)
    ledger.record_outcomes(db, [(delivery_id, "sent", None, "250")], NOW)

    listed = ledger.deliveries_for(db, first_person)
    assert [(row["campaign_id"], row["subject"], row["status"]) for row in listed] == [
        (campaign_ids[2], "Autumn", "queued"),
        (campaign_ids[1], "Summer", "queued"),
        (campaign_ids[0], "Spring", "sent"),
    ]
    assert listed[2]["sent_at"] == isoformat(NOW)
    assert [row["subject"] for row in ledger.deliveries_for(db, first_person, limit=2)] == [
        "Autumn",
        "Summer",
    ]
    assert [row["status"] for row in ledger.deliveries_for(db, second_person)] == ["queued"] * 3


def test_a_subscribers_page_lists_their_latest_hundred_deliveries(app, db):
    [person] = add_subscribers(app, db, people(1))
    campaign_ids = [new_campaign(db, subject=f"Issue {n}") for n in range(101)]
    for campaign_id in campaign_ids:
        db.execute(
            "INSERT INTO deliveries (campaign_id, subscriber_id) VALUES (?, ?)",
            [campaign_id, person],
        )
    listed = ledger.deliveries_for(db, person)
    assert [row["campaign_id"] for row in listed] == campaign_ids[:0:-1]  # not the oldest
