"""The staff Deliverability page and bounce log: figures, thresholds, raw reports, lifting."""

import json
import os
import re
from datetime import timedelta
from html import unescape

import nu_checker
import pytest
from campaign_helpers import add_subscribers, new_campaign, send
from newsletter_helpers import unsubscribe_path
from staff_helpers import STAFF_EMAIL, csrf_token, speak
from test_deliverability_reports import sample

from weprode.campaigns import freeze, ledger
from weprode.db import isoformat, utcnow
from weprode.deliverability import effects, figures, ingest
from weprode.newsletter import subscribers

BOUNCES = "bounces@weprode.com"
PEOPLE = [
    ("ann@gmail.com", "Ann", "en"),
    ("bob@googlemail.com", "Bob", "en"),
    ("carl@hotmail.fr", "Carl", "fr"),
    ("dora@orange.fr", "Dora", "fr"),
    ("eve@tiny-school.fr", "Eve", "en"),
]


@pytest.fixture
def sent(app, db, mailbox, client):
    """A campaign to five people at four providers: one hard bounce (carl), one
    complaint (dora), one one-click unsubscribe (bob), one deferral (ann)."""
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    ann, bob, carl, dora, eve = add_subscribers(app, db, PEOPLE)
    campaign_id = new_campaign(db, subject="Autumn news")
    assert send(app, db, campaign_id) == "sent"
    mailbox.wait_for(5)
    envelopes = {rcpt[0]: mail_from for mail_from, rcpt in mailbox.envelopes}
    with app.app_context():
        for name, email in [
            ("postfix_user_unknown.eml", "carl@hotmail.fr"),
            ("yahoo_arf_complaint.eml", "dora@orange.fr"),
        ]:
            raw = sample(name, verp=envelopes[email], email=email)
            assert ingest.ingest(db, raw, utcnow()).stored
    one_click = client.post(
        unsubscribe_path(app, bob, campaign_id), data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    # Ann's mail was deferred once before the relay took it.
    db.execute("UPDATE deliveries SET attempts = 2 WHERE subscriber_id = ?", [ann])
    events = {row["severity"]: row["id"] for row in db.query("SELECT * FROM bounce_events")}
    return {"campaign": campaign_id, "hard": events["hard"], "complaint": events["complaint"]}


def text(response_or_html):
    """The page's text without tags, spaces collapsed, entities decoded."""
    html = getattr(response_or_html, "text", response_or_html)
    # No-break spaces stay: French typography is part of what is checked.
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def provider_row(response, name):
    """The text of the table row headed `name` after the heading."""
    for row in re.findall(r"<tr>(.*?)</tr>", response.text, re.S):
        heading = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if heading and text(heading.group(1)) == name:
            return " " + text(row[heading.end() :])
    raise AssertionError(f"no row {name}")


def test_figures_per_campaign_with_rates_and_threshold_labels(sent, staff_client):
    response = staff_client.get("/admin/deliverability")
    assert response.status_code == 200
    page = text(response)
    row = page.split("Autumn news", 1)[1].strip()
    # attempted 5; accepted 5 (100%); deferred 1 (20%); hard 1 (20%), soft 0, policy 0;
    # complaint 1 of 5 accepted (20%); one unsubscribe (the complaint is not counted twice).
    assert row.startswith(
        f"#{sent['campaign']}, sent 5 5 100% 1 20% 1 20% Above threshold (2%) 0 0% 0 0% "
        "1 20% Above threshold (0.3%) 1 20%"
    ), row[:200]
    html = response.get_data(as_text=True)
    # Each bar draws the threshold mark; nothing about opens or clicks exists.
    assert html.count('class="rate-limit"') == 2 * (1 + 4)  # 2 bars: the campaign, 4 providers
    headings = [text(h) for h in re.findall(r'<th scope="col">(.*?)</th>', html)]
    assert headings[:9] == [
        "Campaign",
        "Attempted",
        "Accepted",
        "Deferred",
        "Hard bounces",
        "Soft bounces",
        "Policy refusals",
        "Spam complaints",
        "Unsubscribes",
    ]


def test_figures_per_provider_for_one_campaign(sent, staff_client):
    response = staff_client.get(f"/admin/deliverability?campaign={sent['campaign']}")
    page = text(response)
    assert "Per mailbox provider: Autumn news" in page
    assert provider_row(response, "Gmail").startswith(" 2 2 100% 1 50% 0 0% 0 0% 0 0% 0 0% 1 50%")
    assert provider_row(response, "Microsoft").startswith(" 1 1 100% 0 0% 1 100% Above threshold")
    orange = provider_row(response, "Orange/Wanadoo")
    assert orange.startswith(" 1 1 100% 0 0% 0 0% 0 0% 0 0% 1 100% Above threshold (0.3%) 0 0%")
    # A one-person domain is never named: it joins "other domains".
    assert "tiny-school.fr" not in page
    assert provider_row(response, "Other domains").startswith(" 1 1 100%")


def test_the_page_in_french(app, sent, staff_client):
    speak(app, "fr")
    response = staff_client.get("/admin/deliverability")
    html = response.get_data(as_text=True)
    assert '<html lang="fr"' in html
    page = text(response)
    assert "Délivrabilité" in page and "Plaintes" in page
    assert "Au-dessus du seuil (0,3\xa0%)" in page
    assert "20\xa0%" in page
    # The staff area has one language: its links carry none.
    assert f'/admin/deliverability?campaign={sent["campaign"]}"' in html
    assert '"/admin/deliverability/bounces"' in html


def test_a_finished_campaigns_delivery_counts_are_kept_once(app, db, sent, staff_client):
    assert staff_client.get("/admin/deliverability").status_code == 200
    stored = {
        row["provider"]: (row["attempted"], row["accepted"], row["deferred"])
        for row in db.query("SELECT * FROM delivery_totals")
    }
    assert stored == figures.count_deliveries(db, sent["campaign"])
    assert stored["Gmail"] == (2, 2, 1) and stored[figures.OTHER_DOMAINS] == (1, 1, 0)
    # Later bounces still count: they are read live.
    with app.app_context():
        eve = subscribers.find_by_email(db, "eve@tiny-school.fr")
        effects.apply_bounce(
            db,
            eve,
            "5.2.2",
            utcnow(),
            mail_kind="campaign",
            campaign_id=sent["campaign"],
            source="report",
        )
    page = text(staff_client.get("/admin/deliverability"))
    assert "1 20% 1 20% Above threshold (2%) 1 20% 0 0%" in page


def test_only_the_biggest_providers_are_kept_per_campaign(db, sent, monkeypatch):
    monkeypatch.setattr(figures, "STORED_ROWS", 2)
    counted = figures.count_deliveries(db, sent["campaign"])
    # Gmail (2) and one of the single-recipient providers are kept; the rest is summed.
    assert len(counted) == 3 and counted["Gmail"] == (2, 2, 1)
    assert counted[figures.OTHER_DOMAINS] == (2, 2, 0)


def test_a_campaign_cancelled_mid_batch_is_counted_once_its_batch_is_recorded(
    app, db, staff_client
):
    add_subscribers(app, db, [("ann@gmail.com", None, "en"), ("bob@gmail.com", None, "en")])
    campaign_id = new_campaign(db)
    now = utcnow()
    freeze.start(db, campaign_id, now)
    [first, _second] = ledger.claim(db, campaign_id, "sender-1", 2, now)
    ledger.cancel(db, campaign_id, now)
    assert staff_client.get("/admin/deliverability").status_code == 200
    assert db.execute("SELECT count(*) FROM delivery_totals").fetchone()[0] == 0
    # The sender records the message that went out before it saw the cancel.
    ledger.record_outcomes(
        db, [ledger.DeliveryOutcome(first["delivery_id"], "sent", None, "250")], now
    )
    page = text(staff_client.get("/admin/deliverability"))
    assert f"#{campaign_id}, cancelled 1 1 100%" in page
    assert db.execute("SELECT count(*) FROM delivery_totals").fetchone()[0] == 0
    # Fifteen minutes after the cancel, nothing can be in flight any more.
    settled = isoformat(now - figures.SETTLE - timedelta(seconds=1))
    db.execute("UPDATE campaigns SET finished_at = ? WHERE id = ?", [settled, campaign_id])
    assert staff_client.get("/admin/deliverability").status_code == 200
    stored = db.execute("SELECT provider, attempted, accepted FROM delivery_totals").fetchall()
    assert stored == [("Gmail", 1, 1)]


def test_a_deferred_row_waiting_for_its_retry_counts_as_attempted(app, db, staff_client):
    add_subscribers(app, db, [("ann@gmail.com", None, "en"), ("bob@gmail.com", None, "en")])
    campaign_id = new_campaign(db)
    now = utcnow()
    freeze.start(db, campaign_id, now)
    first, second = ledger.claim(db, campaign_id, "sender-1", 2, now)
    ledger.record_outcomes(
        db,
        [
            ledger.DeliveryOutcome(first["delivery_id"], "sent", None, "250"),
            ledger.DeliveryOutcome(
                second["delivery_id"], "queued", now + timedelta(minutes=5), "451 4.7.1 later"
            ),
        ],
        now,
    )
    page = text(staff_client.get("/admin/deliverability"))
    # Attempted 2 (one accepted, one waiting after a 451), deferred 1 of 2: never over 100%.
    assert f"#{campaign_id}, sending 2 1 50% 1 50%" in page
    live = text(staff_client.get(f"/admin/deliverability?campaign={campaign_id}"))
    assert "Gmail 2 1 50% 1 50%" in live


def test_campaigns_are_paged_newest_first(app, db, staff_client):
    now = utcnow()
    ids = []
    for number in range(22):
        campaign_id = new_campaign(db, subject=f"Issue {number:02d}")
        freeze.start(db, campaign_id, now)
        ledger.cancel(db, campaign_id, now)
        ids.append(campaign_id)
    new_campaign(db, subject="Never sent draft")
    first = staff_client.get("/admin/deliverability")
    page = text(first)
    assert "Issue 21" in page and "Issue 02" in page and "Issue 01" not in page
    assert "Never sent draft" not in page
    link = re.search(r'href="(/admin/deliverability\?after=\d+)">Older campaigns', first.text)
    second = text(staff_client.get(link.group(1)))
    assert "Issue 01" in second and "Issue 00" in second and "Issue 02" not in second
    assert "Older campaigns" not in second and "First page" in second


def test_an_unknown_or_unsent_campaign_is_a_404(db, staff_client):
    draft = new_campaign(db)
    assert staff_client.get(f"/admin/deliverability?campaign={draft}").status_code == 404
    assert staff_client.get("/admin/deliverability?campaign=999").status_code == 404


def test_the_pages_need_a_staff_session(client):
    for path in ["/admin/deliverability", "/admin/deliverability/bounces"]:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.location


def test_bounce_log_lists_and_filters_by_class(app, sent, staff_client):
    page = text(staff_client.get("/admin/deliverability/bounces"))
    assert "Microsoft Hard bounce 5.1.1" in page
    assert "Orange/Wanadoo Complaint" in page
    hard = text(staff_client.get("/admin/deliverability/bounces?class=hard"))
    assert "5.1.1" in hard and "Orange/Wanadoo" not in hard
    speak(app, "fr")
    french = text(staff_client.get("/admin/deliverability/bounces?class=complaint"))
    assert "Journal des rebonds" in french and "Plainte" in french and "5.1.1" not in french
    assert staff_client.get("/admin/deliverability/bounces?class=x").status_code == 400
    assert staff_client.get("/admin/deliverability/bounces?after=junk").status_code == 400


def test_bounce_log_pages_by_time(app, db, sent, staff_client):
    with app.app_context():
        carl = subscribers.find_by_email(db, "carl@hotmail.fr")
    start = utcnow() - timedelta(days=2)
    for minute in range(55):
        effects.record_event(
            db,
            carl["id"],
            "soft",
            start + timedelta(minutes=minute),
            status_code="4.2.2",
            mail_kind="campaign",
            campaign_id=sent["campaign"],
            source="smtp",
            detail=f"452 mailbox full {minute:02d}",
        )
    first = staff_client.get("/admin/deliverability/bounces")
    page = text(first)
    assert page.count("Soft bounce 4.2.2") == 48  # 2 newer events, then the newest soft
    assert "mailbox full 54" in page and "mailbox full 06" not in page
    link = re.search(r'href="([^"]+)">Older events', first.text).group(1).replace("&amp;", "&")
    second = text(staff_client.get(link))
    assert "mailbox full 06" in second and "mailbox full 00" in second
    assert "mailbox full 07" not in second and "Older events" not in second


def test_raw_report_is_shown_as_escaped_text_until_deleted(app, db, sent, staff_client, runner):
    db.execute(
        "UPDATE bounce_reports SET message = message || ? WHERE id = "
        "(SELECT report_id FROM bounce_events WHERE id = ?)",
        [b"\n<script>alert(1)</script><img src=x onerror=alert(2)>", sent["hard"]],
    )
    response = staff_client.get(f"/admin/deliverability/bounces/{sent['hard']}")
    html = response.get_data(as_text=True)
    assert "Final-Recipient: rfc822; carl@hotmail.fr" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]

    later = (utcnow() + timedelta(days=31)).date().isoformat()
    assert runner.invoke(args=["retention", "purge", "--now", later]).exit_code == 0
    page = text(staff_client.get(f"/admin/deliverability/bounces/{sent['hard']}"))
    assert "Deleted after 30 days" in page and "Final-Recipient" not in page


def lift_path(event_id):
    return f"/admin/deliverability/bounces/{event_id}/lift"


def test_lifting_a_false_bounce_needs_a_reason_and_is_audited(app, db, sent, staff_client):
    path = lift_path(sent["hard"])
    confirm = text(staff_client.get(path))
    assert "Lift the suppression of carl@hotmail.fr?" in confirm
    token = csrf_token(staff_client, path)

    assert staff_client.post(path, data={"reason": "typo"}).status_code == 400  # no CSRF
    empty = staff_client.post(path, data={"reason": "  ", "csrf_token": token})
    assert empty.status_code == 400
    assert "Say why this bounce was a false positive." in text(empty)
    with app.app_context():
        assert subscribers.suppression_sources(db, "carl@hotmail.fr") == {"bounce"}

    reason = "Hotmail outage on 3 Nov answered 5.1.1 for carl@hotmail.fr; mailbox works"
    done = staff_client.post(path, data={"reason": reason, "csrf_token": token})
    assert done.status_code == 302
    with app.app_context():
        assert subscribers.suppression_sources(db, "carl@hotmail.fr") == set()
        carl = subscribers.find_by_email(db, "carl@hotmail.fr")
    # Only the person's own double opt-in makes them a subscriber again.
    assert carl["status"] == "bounced"
    entry = db.execute(
        "SELECT actor, action, target, detail FROM audit_log WHERE action = 'suppression_lifted'"
    ).fetchone()
    assert entry[:3] == (STAFF_EMAIL, "suppression_lifted", f"subscriber:{carl['id']}")
    detail = json.loads(entry[3])
    assert detail["bounce_event"] == sent["hard"] and detail["status_code"] == "5.1.1"
    assert detail["reason"].startswith("Hotmail outage on 3 Nov answered 5.1.1 for ")
    assert "carl@hotmail.fr" not in entry[3]  # the audit log never keeps addresses
    assert "address taken off the exclusion list" in text(staff_client.get("/admin/audit"))
    after = text(staff_client.get(done.location))
    assert "The suppression is lifted." in after
    assert "not on the suppression list" in after
    # Lifting again changes nothing and says why.
    again = staff_client.post(path, data={"reason": reason, "csrf_token": token})
    assert again.status_code == 409


def test_a_complaint_cannot_be_lifted_by_staff(app, db, sent, staff_client):
    path = lift_path(sent["complaint"])
    page = text(staff_client.get(path))
    assert "That is the person's own wish" in page and "Lift the suppression</" not in page
    detail = text(staff_client.get(f"/admin/deliverability/bounces/{sent['complaint']}"))
    assert "staff cannot lift it" in detail and "Lift suppression…" not in detail
    token = csrf_token(staff_client, "/admin/deliverability")
    refused = staff_client.post(path, data={"reason": "they did not mean it", "csrf_token": token})
    assert refused.status_code == 409
    assert "staff cannot lift it" in text(refused)
    with app.app_context():
        assert subscribers.suppression_sources(db, "dora@orange.fr") == {"complaint"}
    assert (
        db.execute("SELECT count(*) FROM audit_log WHERE action LIKE 'suppression%'").fetchone()[0]
        == 0
    )
    speak(app, "fr")
    french = text(staff_client.get(path))
    assert "personne" in french


def test_the_pages_are_valid_html_in_both_languages(app, db, sent, staff_client):
    """The Nu HTML Checker on every page here (staff pages are not in test_nu_html's batch)."""
    reason = nu_checker.unavailable_reason()
    if reason:
        if os.environ.get("WEPRODE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    draft = new_campaign(db)
    paths = {
        "deliverability": "/admin/deliverability",
        "deliverability-campaign": f"/admin/deliverability?campaign={sent['campaign']}",
        "bounce-log": "/admin/deliverability/bounces",
        "bounce-event": f"/admin/deliverability/bounces/{sent['hard']}",
        "bounce-lift": lift_path(sent["hard"]),
        "bounce-lift-refused": lift_path(sent["complaint"]),
        "campaign-preflight-button": f"/admin/campaigns/{draft}",
    }
    documents = {}
    for name, path in paths.items():
        for language in ("en", "fr"):
            speak(app, language)
            response = staff_client.get(path)
            assert response.status_code == 200, path
            documents[f"{name}-{language}"] = response.get_data(as_text=True)
    # The campaign page's own buttons repeat Flask-WTF's id="csrf_token" (older than
    # this page's pre-flight section, which adds none).
    messages = [
        m
        for m in nu_checker.check(documents)
        if not (m.document.startswith("campaign-") and "csrf_token" in m.message)
    ]
    assert not messages, "\n".join(map(str, messages))
