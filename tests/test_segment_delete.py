"""Deleting a saved segment: a confirmation page, an audit entry, refused while in use."""

import json

import pytest
from campaign_helpers import BODY, send
from staff_helpers import csrf_token
from test_segments import french_fairs_in_march, readers

from weprode.campaigns import compose, freeze, ledger, segments
from weprode.db import utcnow


def fairs_campaign(app, db, topic_id, segment_id, subject):
    """A draft to `topic_id` narrowed by the segment."""
    with app.app_context():
        return compose.create(
            db, versions={"en": compose.Version(subject, "", BODY)}, audience="all",
            author="t@weprode.com", now=utcnow(), topic_id=topic_id, segment_id=segment_id,
        )  # fmt: skip


def test_deleting_asks_first_then_sent_and_cancelled_campaigns_keep_its_name(
    app, db, staff_client, mailbox
):
    ids, _main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    sent = fairs_campaign(app, db, events, segment_id, "Fair, sent")
    send(app, db, sent)
    cancelled = fairs_campaign(app, db, events, segment_id, "Fair, cancelled")
    with app.app_context():
        ledger.cancel(db, cancelled, utcnow())
    edit = staff_client.get(f"/admin/segments/{segment_id}/edit").text
    assert f'href="/admin/segments/{segment_id}/delete"' in edit
    url = f"/admin/segments/{segment_id}/delete"
    page = staff_client.get(url)
    # The page says what happens, and showing it deletes nothing.
    assert page.status_code == 200
    assert "Delete the segment “French fairs, March”?" in page.text
    assert "language: French" in page.text and "signed up 2026-03-01 – 2026-03-10" in page.text
    assert "2 sent or cancelled campaigns used it: their records keep the segment’s name." in (
        page.text
    )
    assert segments.get(db, segment_id) is not None
    deleted = staff_client.post(url, data={"csrf_token": csrf_token(staff_client, url)})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/admin/segments"
    assert segments.get(db, segment_id) is None
    listing = staff_client.get("/admin/segments").text
    assert "Segment “French fairs, March” deleted." in listing
    for campaign_id in (sent, cancelled):
        campaign = compose.get(db, campaign_id)
        assert (campaign["segment_id"], campaign["segment_name"]) == (None, "French fairs, March")
    detail = staff_client.get(f"/admin/campaigns/{sent}").text
    assert "segment: French fairs, March (deleted since)" in detail
    # Who received it is still on record, and the audit log keeps the conditions.
    received = [row["subscriber_id"] for row in db.query("SELECT subscriber_id FROM deliveries")]
    assert received == [ids["ben"]]
    [entry] = db.query("SELECT * FROM audit_log WHERE action = 'segment_deleted'")
    assert entry["target"] == f"segment:{segment_id}"
    detail = json.loads(entry["detail"])
    assert detail["language"] == "fr" and detail["signed_up_from"] == "2026-03-01"
    assert sorted(detail["campaigns"]) == sorted([sent, cancelled])
    assert "segment deleted" in staff_client.get("/admin/audit").text
    # Deleted twice (a second tab): the segment is gone, a 404 and no second entry.
    again = staff_client.post(url, data={"csrf_token": csrf_token(staff_client, "/admin/segments")})
    assert again.status_code == 404
    assert (
        db.execute("SELECT count(*) FROM audit_log WHERE action = 'segment_deleted'").fetchone()[0]
        == 1
    )


@pytest.mark.parametrize("status", ["draft", "scheduled", "sending", "paused"])
def test_a_segment_a_campaign_still_to_send_uses_is_not_deleted(app, db, staff_client, status):
    _ids, _main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    campaign_id = fairs_campaign(app, db, events, segment_id, "Fair in March")
    with app.app_context():
        if status == "scheduled":
            ledger.schedule(db, campaign_id, utcnow().replace(year=2031), utcnow())
        elif status in ("sending", "paused"):
            freeze.start(db, campaign_id, utcnow())
            if status == "paused":
                ledger.pause(db, campaign_id, ledger.PAUSED_BY_STAFF, utcnow())
    assert ledger.get(db, campaign_id)["status"] == status
    # Its edit page says which campaigns still to freeze it would change.
    edit = staff_client.get(f"/admin/segments/{segment_id}/edit").text
    waits = status in ("draft", "scheduled")
    assert ('id="segment-waiting"' in edit) is waits
    assert (f"Campaign {campaign_id} — Fair in March</a> ({status}" in edit) is waits
    url = f"/admin/segments/{segment_id}/delete"
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "It cannot be deleted: a campaign still to be sent uses it." in page.text
    assert f'href="/admin/campaigns/{campaign_id}">Campaign {campaign_id} — Fair in March' in (
        page.text
    )
    assert "Delete the segment</button>" not in page.text
    # A POST anyway (a page opened before the campaign took the segment) is refused.
    refused = staff_client.post(url, data={"csrf_token": csrf_token(staff_client, url)})
    assert refused.status_code == 409
    assert f"Campaign {campaign_id} — Fair in March" in refused.text
    assert segments.get(db, segment_id) is not None
    assert compose.get(db, campaign_id)["segment_id"] == segment_id
    assert (
        db.execute("SELECT count(*) FROM audit_log WHERE action = 'segment_deleted'").fetchone()[0]
        == 0
    )


def test_the_service_refuses_and_a_deleted_segment_is_a_field_error_not_a_crash(app, db):
    _ids, _main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    campaign_id = fairs_campaign(app, db, events, segment_id, "Fair")
    with app.app_context():
        with pytest.raises(segments.SegmentInUse) as in_use:
            segments.delete(db, segment_id, "t@weprode.com", utcnow())
        assert in_use.value.campaigns == [{"id": campaign_id, "status": "draft"}]
        compose.update(
            db, campaign_id, versions={"en": compose.Version("Fair", "", BODY)},
            audience="all", now=utcnow(), topic_id=events, segment_id=None,
        )  # fmt: skip
        segments.delete(db, segment_id, "t@weprode.com", utcnow())
        # A composer page still offering the deleted segment: the field says so.
        with pytest.raises(compose.CampaignInvalid) as invalid:
            compose.update(
                db, campaign_id, versions={"en": compose.Version("Fair", "", BODY)},
                audience="all", now=utcnow(), topic_id=events, segment_id=segment_id,
            )  # fmt: skip
        assert set(invalid.value.errors) == {"segment"}
