"""Campaign screens: editor validation, preview policy, test send, send, pause, cancel."""

import email
from email import policy

from campaign_helpers import BODY, add_subscribers, new_campaign
from mail_helpers import wire_problems
from newsletter_helpers import html_part, text_part
from staff_helpers import STAFF_EMAIL, csrf_token, send_box

from weprode.campaigns import freeze, ledger, worker
from weprode.db import utcnow
from weprode.newsletter import topics


def save(staff_client, db, **changes):
    """Save a new campaign from the editor; `changes` name the English version's fields."""
    data = {"en-subject": "Our news", "en-preheader": "", "en-body_markdown": BODY}
    data.update({f"en-{name}": value for name, value in changes.items()})
    data["audience"] = "all"
    data["topic"] = str(topics.main_topic_id(db))
    data["csrf_token"] = csrf_token(staff_client, "/admin/campaigns/new")
    return staff_client.post("/admin/campaigns/new", data=data)


def test_editor_refuses_unknown_placeholder_next_to_the_field(db, staff_client):
    response = save(staff_client, db, body_markdown="Hi {{ firstname }}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="en-body_markdown-error"' in html and "Unknown placeholder firstname" in html
    assert "Hi {{ firstname }}" in html  # what was typed is kept
    assert db["campaigns"].count == 0


def test_editor_refuses_an_expression_in_a_placeholder(db, staff_client):
    response = save(staff_client, db, subject="Hi {{ email * 20000000 }}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="en-subject-error"' in html and "is not allowed" in html
    assert db["campaigns"].count == 0


def test_compose_preview_test_send_and_watch_it_finish(app, db, staff_client, mailbox):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en"), ("bob@example.org", None, "fr")])
    response = save(staff_client, db)
    assert response.status_code == 302
    campaign_id = int(response.headers["Location"].rsplit("/", 1)[1])
    preview = staff_client.get(f"/admin/campaigns/{campaign_id}/preview/en")
    assert "frame-src 'self'" in preview.headers["Content-Security-Policy"]
    document = staff_client.get(f"/admin/campaigns/{campaign_id}/preview/en.html")
    policy = document.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "'unsafe-hashes' 'sha256-" in policy
    assert "Hello there," in document.get_data(as_text=True)
    url = f"/admin/campaigns/{campaign_id}"
    staff_client.post(f"{url}/test/en", data={"csrf_token": csrf_token(staff_client, url)})
    [test_mail] = mailbox.wait_for(1)
    assert test_mail["To"] == STAFF_EMAIL
    mailbox.clear()
    unconfirmed = staff_client.post(
        f"{url}/send", data={"csrf_token": csrf_token(staff_client, url)}
    )
    assert unconfirmed.status_code == 302
    assert ledger.get(db, campaign_id)["status"] == "draft"  # the box was not ticked
    staff_client.post(f"{url}/send", data={**send_box(staff_client, url), "confirm": "yes"})
    sending = staff_client.get(url).get_data(as_text=True)
    assert "campaign-progress.js" in sending and "<progress" in sending
    progress = staff_client.get(f"{url}/progress.json").get_json()
    assert progress["status"] == "sending" and progress["recipients"] == 2
    with app.app_context():
        worker.run_once(db, utcnow())
    done = staff_client.get(url).get_data(as_text=True)
    assert "status-sent" in done and "campaign-progress.js" not in done
    assert staff_client.get(f"{url}/progress.json").get_json()["percent"] == 100
    assert len(mailbox.wait_for(2)) == 2
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log")]
    assert {"campaign_created", "campaign_test", "campaign_send"} <= set(actions)


def test_pause_resume_cancel_buttons(app, db, staff_client):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en")])
    campaign_id = int(save(staff_client, db).headers["Location"].rsplit("/", 1)[1])
    url = f"/admin/campaigns/{campaign_id}"
    for step, expected in (
        ("send", "sending"),
        ("pause", "paused"),
        ("resume", "sending"),
        ("cancel", "cancelled"),
    ):
        data = {"csrf_token": csrf_token(staff_client, url)}
        if step == "send":
            data = {**send_box(staff_client, url), "confirm": "yes"}
        staff_client.post(f"{url}/{step}", data=data)
        assert ledger.get(db, campaign_id)["status"] == expected, step
    # A state change that makes no sense is refused with a message, not a 500.
    response = staff_client.post(
        f"{url}/resume", data={"csrf_token": csrf_token(staff_client, url)}
    )
    assert response.status_code == 302
    assert "was cancelled. Only a paused campaign can be resumed." in staff_client.get(
        url
    ).get_data(as_text=True)


def test_editing_a_sent_campaign_is_refused(app, db, staff_client):
    campaign_id = int(save(staff_client, db).headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    assert staff_client.get(f"/admin/campaigns/{campaign_id}/edit").status_code == 409


def test_dashboard_lists_last_campaigns_and_detail_lists_campaigns_received(
    app, db, staff_client, mailbox
):
    [subscriber_id] = add_subscribers(app, db, [("ada@example.org", "Ada", "en")])
    campaign_id = int(
        save(staff_client, db, subject="Spring letter").headers["Location"].rsplit("/", 1)[1]
    )
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        worker.send_campaign(db, campaign_id)
    dashboard = staff_client.get("/admin/").get_data(as_text=True)
    assert "Last campaigns" in dashboard and "Spring letter" in dashboard
    detail = staff_client.get(f"/admin/subscribers/{subscriber_id}").get_data(as_text=True)
    received = detail.split("Campaigns received")[1].split("</table>")[0]
    assert "Spring letter" in received and "sent" in received


def test_cli_create_list_and_send(app, db, runner, mailbox, tmp_path):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en"), ("bo@example.org", None, "fr")])
    body = tmp_path / "body.md"
    body.write_text(BODY, encoding="utf-8")
    created = runner.invoke(
        args=[
            "campaigns",
            "create",
            "--fr-subject",
            "CLI news",
            "--fr-body-file",
            str(body),
            "--audience",
            "fr",
        ]
    )
    assert created.exit_code == 0, created.output
    campaign_id = int(created.stdout.strip())
    bad = tmp_path / "bad.md"
    bad.write_text("Hi {{ nom }}", encoding="utf-8")
    options = ["--en-subject", "x", "--en-body-file", bad, "--audience", "all"]
    refused = runner.invoke(args=["campaigns", "create", *options])
    assert refused.exit_code == 1 and "Unknown placeholder nom" in refused.output
    listed = runner.invoke(args=["campaigns", "list"]).output
    assert f"{campaign_id}\tdraft\t0 recipients" in listed and "CLI news" in listed
    sent = runner.invoke(args=["campaigns", "send", str(campaign_id)])
    assert sent.exit_code == 0, sent.output
    assert "sent: 1 sent, 0 failed, 0 skipped, 0 left" in sent.output
    [message] = mailbox.wait_for(1)
    assert message["To"] == "bo@example.org"


def test_sending_rate_limit_is_honoured(make_app, mailbox):
    import time

    app = make_app(CAMPAIGN_MESSAGES_PER_SECOND=20, CAMPAIGN_SMTP_CONNECTIONS=2)
    from weprode.db import connect

    db = connect(app.config["DATABASE"])
    add_subscribers(app, db, [(f"r{i}@example.org", None, "en") for i in range(10)])
    from campaign_helpers import new_campaign, send

    started = time.monotonic()
    assert send(app, db, new_campaign(db)) == "sent"
    # 10 messages at 20 per second cannot take less than 9 intervals of 50 ms.
    assert time.monotonic() - started >= 0.45
    assert len(mailbox.wait_for(10)) == 10


def test_a_staff_test_says_test_and_carries_no_link_that_could_unsubscribe(
    app, db, staff_client, mailbox
):
    campaign_id = new_campaign(db, subject="Weprode news for {{ first_name | default('you') }}")
    url = f"/admin/campaigns/{campaign_id}"
    for _ in range(2):
        staff_client.post(f"{url}/test/en", data={"csrf_token": csrf_token(staff_client, url)})
    mailbox.wait_for(2)
    first, second = (email.message_from_bytes(raw, policy=policy.strict) for raw in mailbox.raw)
    assert first["Subject"] == "[TEST] Weprode news for you"
    assert wire_problems(mailbox.raw[0]) == []
    # Nothing a mailbox provider could act on.
    assert first["List-Unsubscribe"] is None and first["List-Unsubscribe-Post"] is None
    assert b"/unsubscribe/" not in mailbox.raw[0]
    assert "does nothing" in text_part(first) and 'href="#"' in html_part(first)
    # Two tests are two mails, not one a client would hide as a duplicate.
    assert first["Message-ID"] != second["Message-ID"]
    assert str(first["Message-ID"]).endswith("@weprode.com>")
    assert ledger.get(db, campaign_id)["status"] == "draft"


def test_two_versions_side_by_side_then_an_audience_must_be_chosen_before_sending(
    app, db, staff_client, mailbox
):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en"), ("luc@example.org", None, "fr")])
    editor = staff_client.get("/admin/campaigns/new").get_data(as_text=True)
    assert 'class="version-grid"' in editor
    assert 'name="en-subject"' in editor and 'name="fr-subject"' in editor
    assert " checked" not in editor  # no audience chosen for staff
    data = {
        "csrf_token": csrf_token(staff_client, "/admin/campaigns/new"),
        "fr-subject": "Nouvelles",
        "fr-body_markdown": "Bonjour {{ first_name | default('à vous') }}",
        "topic": str(topics.main_topic_id(db)),
    }
    response = staff_client.post("/admin/campaigns/new", data=data)
    assert response.status_code == 302
    url = response.headers["Location"]
    campaign_id = int(url.rsplit("/", 1)[1])
    page = staff_client.get(url).get_data(as_text=True)
    assert 'id="audience-missing"' in page and "/send" not in page
    assert "English-speaking subscribers get the French version" in page
    assert f"/admin/campaigns/{campaign_id}/test/fr" in page
    assert f"/admin/campaigns/{campaign_id}/test/en" not in page
    assert staff_client.get(f"{url}/preview/en").status_code == 404
    # Sending anyway (a stale page, a crafted request) is refused with the reason.
    staff_client.post(
        f"{url}/send", data={"csrf_token": csrf_token(staff_client, url), "confirm": "yes"}
    )
    assert ledger.get(db, campaign_id)["status"] == "draft"
    assert db["deliveries"].count == 0
    staff_client.post(
        f"{url}/audience", data={"csrf_token": csrf_token(staff_client, url), "audience": "all"}
    )
    page = staff_client.get(url).get_data(as_text=True)
    assert "2 get the French version: 1 French-speaking, 1 English-speaking" in page
    # The page confirmed showed 'all'; an audience changed meanwhile is not sent to.
    shown = {**send_box(staff_client, url), "confirm": "yes"}
    assert shown["audience"] == "all"
    staff_client.post(f"{url}/send", data={**shown, "audience": "en"})
    assert ledger.get(db, campaign_id)["status"] == "draft"
    staff_client.post(f"{url}/send", data=shown)
    assert ledger.get(db, campaign_id)["status"] == "sending"
    actions = {r["action"] for r in db.query("SELECT action FROM audit_log")}
    assert {"campaign_audience", "campaign_send"} <= actions


def test_each_version_has_its_own_preview_and_test(app, db, staff_client, mailbox):
    campaign_id = new_campaign(
        db, versions={"en": ("News", BODY), "fr": ("Nouvelles", "Bonjour {{ first_name }}")}
    )
    url = f"/admin/campaigns/{campaign_id}"
    french = staff_client.get(f"{url}/preview/fr.html").get_data(as_text=True)
    assert '<html lang="fr">' in french and "Se désabonner" in french
    english = staff_client.get(f"{url}/preview/en.html").get_data(as_text=True)
    assert '<html lang="en">' in english and "Unsubscribe from this topic in one click" in english
    staff_client.post(f"{url}/test/fr", data={"csrf_token": csrf_token(staff_client, url)})
    [test_mail] = mailbox.wait_for(1)
    assert test_mail["Subject"] == "[TEST] Nouvelles"
    assert "test of the French version" in text_part(test_mail)
    assert staff_client.get("/admin/campaigns").status_code == 200
