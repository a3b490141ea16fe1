"""Why a campaign is paused is stored in English (the CLI and logs read it); French staff
read it in French, figures and SMTP answers kept."""

from campaign_helpers import add_readers_in_bulk, new_campaign
from staff_helpers import csrf_token, speak

from weprode.admin import labels
from weprode.campaigns import freeze, ledger
from weprode.campaigns.batch import PAUSED_BY_FAILURES
from weprode.db import isoformat, utcnow
from weprode.deliverability import effects

ATTEMPTS = 200


def sent_campaign_with_events(app, db, severity, people):
    """A campaign sent to ATTEMPTS readers, `people` of whom gave a `severity` event."""
    add_readers_in_bulk(db, [f"reader{n}@example.org" for n in range(ATTEMPTS)])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", [campaign_id])
    for (subscriber_id,) in db.execute(
        "SELECT subscriber_id FROM deliveries WHERE campaign_id = ? LIMIT ?", [campaign_id, people]
    ).fetchall():
        db.execute(
            "INSERT INTO bounce_events (subscriber_id, at, severity, mail_kind, campaign_id, "
            "source) VALUES (?, ?, ?, 'campaign', ?, 'report')",
            [subscriber_id, isoformat(utcnow()), severity, campaign_id],
        )
    db.conn.commit()
    return campaign_id


def in_french(app, stored):
    """`labels.pause_reason` as the staff area shows it before login, in French."""
    app.config["STAFF_LANGUAGE"] = "fr"  # the tests' default is English
    with app.test_request_context("/admin/"):
        return labels.pause_reason(stored)


def test_bounce_pause_reason_reads_in_french_with_its_figures(app, db):
    campaign_id = sent_campaign_with_events(app, db, "hard", 11)
    stored = effects.campaign_pause_reason(db, campaign_id)
    assert stored.startswith(effects.PAUSED_BY_BOUNCES)
    shown = in_french(app, stored)
    assert shown == (
        "En pause\u00a0: trop de rebonds définitifs "
        "(11 pour 200 tentatives, 5,5\u00a0%, plus de 5\u00a0%)"
    )


def test_complaint_pause_reason_reads_in_french_with_its_figures(app, db):
    campaign_id = sent_campaign_with_events(app, db, "complaint", 1)
    shown = in_french(app, effects.campaign_pause_reason(db, campaign_id))
    assert shown == (
        "En pause\u00a0: trop de plaintes (1 pour 200 tentatives, 0,5\u00a0%, plus de 0,1\u00a0%)"
    )


def test_relay_failure_reasons_keep_the_smtp_answer_verbatim(app):
    answer = "421 4.7.0 Try again later"
    shown = in_french(app, f"{PAUSED_BY_FAILURES}; last answer: {answer}")
    assert shown == f"En pause après des échecs répétés\u00a0; dernière réponse\u00a0: {answer}"
    relays = in_french(app, f"{PAUSED_BY_FAILURES}; every mail relay failed: {answer}")
    assert relays.startswith("En pause après des échecs répétés") and relays.endswith(answer)
    assert in_french(app, "Something new") == "Something new"  # unknown: shown as stored


def test_french_staff_read_their_pause_in_french_on_the_campaign_page(app, db, staff_client):
    add_readers_in_bulk(db, ["ada@example.org"])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    speak(app, "fr")
    url = f"/admin/campaigns/{campaign_id}"
    staff_client.post(f"{url}/pause", data={"csrf_token": csrf_token(staff_client, url)})
    assert ledger.get(db, campaign_id)["paused_reason"] == ledger.PAUSED_BY_STAFF
    page = staff_client.get(url).get_data(as_text=True)
    assert "Mise en pause par l’équipe" in page and ledger.PAUSED_BY_STAFF not in page
