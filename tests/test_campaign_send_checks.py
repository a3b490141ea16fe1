"""The send box sends only what staff saw: its topic, segment and segment conditions."""

from campaign_helpers import BODY
from staff_helpers import csrf_token, send_box
from test_segments import french_fairs_in_march, readers

from weprode.campaigns import compose, ledger
from weprode.db import utcnow


def draft_for_the_fairs(app, db):
    """A draft to the events topic narrowed to 'French fairs, March' (one reader: ben)."""
    _ids, main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    with app.app_context():
        campaign_id = compose.create(
            db, versions={"en": compose.Version("Fair", "", BODY)}, audience="all",
            author="t@weprode.com", now=utcnow(), topic_id=events, segment_id=segment_id,
        )  # fmt: skip
    return campaign_id, main, events, segment_id


def nothing_sent(db, campaign_id):
    """The campaign is still a draft and nobody was frozen into its deliveries."""
    campaign = ledger.get(db, campaign_id)
    return (
        campaign["status"] == "draft"
        and campaign["scheduled_at"] is None
        and (db["deliveries"].count == 0)
    )


def test_the_send_box_carries_the_topic_segment_and_conditions_shown(app, db, staff_client):
    campaign_id, _main, events, segment_id = draft_for_the_fairs(app, db)
    shown = send_box(staff_client, f"/admin/campaigns/{campaign_id}")
    assert shown["audience"] == "all"
    assert (shown["topic"], shown["segment"]) == (str(events), str(segment_id))
    assert len(shown["segment_definition"]) == 16
    # The schedule form carries the same fields.
    page = staff_client.get(f"/admin/campaigns/{campaign_id}").text
    assert page.count(f'name="segment_definition" value="{shown["segment_definition"]}"') == 2


def test_a_topic_changed_after_the_page_was_shown_is_not_sent(app, db, staff_client):
    campaign_id, main, _events, segment_id = draft_for_the_fairs(app, db)
    url = f"/admin/campaigns/{campaign_id}"
    shown = {**send_box(staff_client, url), "confirm": "yes"}
    with app.app_context():  # a colleague moves the draft to the main topic meanwhile
        compose.update(
            db, campaign_id, versions={"en": compose.Version("Fair", "", BODY)},
            audience="all", now=utcnow(), topic_id=main, segment_id=segment_id,
        )  # fmt: skip
    refused = staff_client.post(f"{url}/send", data=shown, follow_redirects=True)
    assert refused.status_code == 200
    assert "The topic changed since the page was shown. Check the counts and confirm again." in (
        refused.text
    )
    assert nothing_sent(db, campaign_id)
    scheduled = staff_client.post(
        f"{url}/schedule", data={**shown, "send_at": "2030-01-10T09:30"}, follow_redirects=True
    )
    assert "The topic changed since the page was shown." in scheduled.text
    assert nothing_sent(db, campaign_id)
    # Confirmed again from the page as it is now, it goes to the main topic's reader.
    staff_client.post(f"{url}/send", data={**send_box(staff_client, url), "confirm": "yes"})
    assert ledger.get(db, campaign_id)["status"] == "sending"
    assert db["deliveries"].count == 1
    actions = [row["action"] for row in db.query("SELECT action FROM audit_log")]
    assert actions.count("campaign_send") == 1 and "campaign_schedule" not in actions


def test_a_segment_edited_after_the_page_was_shown_is_not_sent(app, db, staff_client):
    campaign_id, _main, _events, segment_id = draft_for_the_fairs(app, db)
    url = f"/admin/campaigns/{campaign_id}"
    shown = {**send_box(staff_client, url), "confirm": "yes"}
    # Renaming the segment changes nothing of who receives the campaign: still sendable.
    edit = f"/admin/segments/{segment_id}/edit"
    conditions = {
        "name": "Fairs in March, French", "language": "fr", "source": "staff: fairs",
        "signed_up_from": "2026-03-01", "signed_up_until": "2026-03-10",
    }  # fmt: skip
    renamed = {**conditions, "csrf_token": csrf_token(staff_client, edit)}
    assert staff_client.post(edit, data=renamed).status_code == 302
    assert send_box(staff_client, url)["segment_definition"] == shown["segment_definition"]
    # Widening it to every language changes who receives it: the confirmed page is stale.
    widened = {**renamed, "language": ""}
    assert staff_client.post(edit, data=widened).status_code == 302
    refused = staff_client.post(f"{url}/send", data=shown, follow_redirects=True)
    assert "The segment’s conditions were edited since the page was shown." in refused.text
    assert nothing_sent(db, campaign_id)
    scheduled = staff_client.post(
        f"{url}/schedule", data={**shown, "send_at": "2030-01-10T09:30"}, follow_redirects=True
    )
    assert "The segment’s conditions were edited since the page was shown." in scheduled.text
    assert nothing_sent(db, campaign_id)


def test_a_segment_swapped_or_dropped_after_the_page_was_shown_is_not_sent(app, db, staff_client):
    campaign_id, _main, events, segment_id = draft_for_the_fairs(app, db)
    url = f"/admin/campaigns/{campaign_id}"
    shown = {**send_box(staff_client, url), "confirm": "yes"}
    with app.app_context():  # another tab saves the draft without its segment
        compose.update(
            db, campaign_id, versions={"en": compose.Version("Fair", "", BODY)},
            audience="all", now=utcnow(), topic_id=events, segment_id=None,
        )  # fmt: skip
    refused = staff_client.post(f"{url}/send", data=shown, follow_redirects=True)
    assert "The segment changed since the page was shown." in refused.text
    assert nothing_sent(db, campaign_id)
    # A forged or truncated form (no topic field at all) is refused the same way.
    bare = {"csrf_token": shown["csrf_token"], "confirm": "yes", "audience": "all"}
    refused = staff_client.post(f"{url}/send", data=bare, follow_redirects=True)
    assert "The topic changed since the page was shown." in refused.text
    assert nothing_sent(db, campaign_id)
