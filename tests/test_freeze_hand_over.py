"""The Send button freezes the audience for at most CAMPAIGN_START_SECONDS; the campaign
worker finishes a larger freeze and sends to everyone, once each."""

from collections import Counter

import pytest
from campaign_helpers import add_readers_in_bulk, new_campaign
from staff_helpers import send_box

from weprode.campaigns import freeze, ledger, worker
from weprode.db import utcnow

READERS = [f"reader{n}@example.org" for n in range(9)]


@pytest.fixture
def small_windows(monkeypatch):
    """Windows of 2 subscriber ids: nine readers take five windows."""
    monkeypatch.setattr(freeze, "FREEZE_IDS", 2)


def press_send(staff_client, campaign_id):
    """Tick the box and press Send, as on the page; returns the page shown after."""
    url = f"/admin/campaigns/{campaign_id}"
    confirmed = {**send_box(staff_client, url), "confirm": "yes"}
    response = staff_client.post(f"{url}/send", data=confirmed)
    assert response.status_code == 302
    return staff_client.get(url).get_data(as_text=True)


def test_send_button_hands_a_long_freeze_to_the_worker_which_sends_to_everyone_once(
    app, db, staff_client, mailbox, small_windows
):
    app.config["CAMPAIGN_START_SECONDS"] = 0  # out of time after the first window
    add_readers_in_bulk(db, READERS)
    campaign_id = new_campaign(db)
    page = press_send(staff_client, campaign_id)
    assert (
        "Preparing the recipients (2 so far): the campaign worker finishes and starts "
        "sending in a few seconds." in page
    )
    assert "Sending started." not in page
    campaign = ledger.get(db, campaign_id)
    assert campaign["status"] == "scheduled" and campaign["scheduled_at"] is not None
    assert db["deliveries"].count == 2
    with app.app_context():
        assert worker.run_once(db, utcnow())
    assert ledger.get(db, campaign_id)["status"] == "sent"
    received = Counter(message["To"] for message in mailbox.wait_for(len(READERS)))
    assert received == Counter(READERS)


def test_send_button_starts_at_once_when_the_freeze_fits_its_budget(
    app, db, staff_client, small_windows
):
    add_readers_in_bulk(db, READERS)
    campaign_id = new_campaign(db)
    page = press_send(staff_client, campaign_id)
    assert "Sending started." in page and "Preparing the recipients" not in page
    assert ledger.get(db, campaign_id)["status"] == "sending"
    assert ledger.recipients(db, campaign_id) == len(READERS)


def test_freeze_out_of_time_keeps_what_it_wrote_and_the_next_start_adds_nobody_twice(
    app, db, small_windows
):
    add_readers_in_bulk(db, READERS)
    campaign_id = new_campaign(db)
    with app.app_context():
        assert freeze.start(db, campaign_id, utcnow(), seconds=0) is None
        assert freeze.start(db, campaign_id, utcnow(), seconds=0) is None
        assert db["deliveries"].count == 2  # the same first window, written again
        assert freeze.start(db, campaign_id, utcnow()) == len(READERS)
    per_reader = db.execute(
        "SELECT count(*) FROM deliveries GROUP BY subscriber_id HAVING count(*) > 1"
    ).fetchall()
    assert per_reader == []


def test_hand_over_never_pulls_back_a_campaign_already_sending(app, db):
    add_readers_in_bulk(db, READERS[:2])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        freeze.hand_over(db, campaign_id, utcnow())
    campaign = ledger.get(db, campaign_id)
    assert campaign["status"] == "sending" and campaign["scheduled_at"] is None


def test_the_freeze_lets_waiting_writers_go_before_each_window(app, db, small_windows, monkeypatch):
    """A bulk job's windows: a one-click unsubscribe waits for one window at most."""
    add_readers_in_bulk(db, READERS)
    campaign_id = new_campaign(db)
    turns = []
    monkeypatch.setattr(db.write_lock, "give_way", lambda longest: turns.append(longest) or True)
    with app.app_context():
        assert freeze.start(db, campaign_id, utcnow()) == len(READERS)
    # Five windows of two ids for nine readers, and the transaction that marks it sending.
    assert len(turns) == 6


def test_a_cancelled_campaign_is_refused_with_what_could_be_sent(app, db):
    add_readers_in_bulk(db, READERS[:1])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        ledger.cancel(db, campaign_id, utcnow())
        with pytest.raises(ledger.CampaignStateError) as refused:
            freeze.start(db, campaign_id, utcnow())
    assert "campaign can be sent." in str(refused.value)


def test_the_freeze_writes_everyone_while_other_writers_keep_queueing(
    app, db, small_windows, monkeypatch
):
    """Under contention each window is sized from the last one's hold; nobody is left out."""
    add_readers_in_bulk(db, READERS)
    campaign_id = new_campaign(db)
    monkeypatch.setattr(db.write_lock, "queued", lambda: True)  # someone always waits
    monkeypatch.setattr(db.write_lock, "give_way", lambda longest: False)
    with app.app_context():
        assert freeze.start(db, campaign_id, utcnow()) == len(READERS)
    assert db.write_lock.bulk_contended
