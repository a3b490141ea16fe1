"""Contact and meeting requests: validation, protection, prospects, mails over real SMTP."""

import email
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from contact_helpers import (
    VALID_CONTACT,
    VALID_MEETING,
    by_recipient,
    closed_port,
    send_contact,
    send_meeting,
)
from newsletter_helpers import html_part, link_path, text_part
from process_helpers import PROJECT_ROOT, flask_env

from weprode.contact import prospects, service
from weprode.db import connect, isoformat, utcnow
from weprode.mail import messages, outbox
from weprode.privacy import retention

NOTIFY = "contact@weprode.com"


def only_prospect(db):
    rows = list(db.query("SELECT * FROM prospects"))
    assert len(rows) == 1
    return rows[0]


def assert_nothing_stored_or_sent(db, mailbox):
    assert db["prospects"].count == 0
    assert db["interactions"].count == 0
    assert db["outbox"].count == 0
    assert mailbox.messages == []


def test_contact_page_shows_both_forms_notice_and_sets_no_cookie(client):
    response = client.get("/contact")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert 'action="/contact#message"' in html and 'action="/contact/meeting#meeting"' in html
    assert html.count("are required.") == 2  # the asterisk legend above each form
    assert 'for="contact-last_name">Last name<span class="required-mark"' in html
    assert 'for="contact-job_title">Job title</label>' in html  # optional: no asterisk
    assert 'name="contact-website"' in html and 'name="meeting-website"' in html
    assert html.count('href="/privacy"') >= 2  # the notice under each form
    assert "3 years from our last exchange" in html
    newsletter_box = re.search(r'<input[^>]*id="contact-newsletter"[^>]*>', html).group(0)
    assert 'type="checkbox"' in newsletter_box and "checked" not in newsletter_box


def test_message_is_saved_then_acknowledged_and_notified_over_smtp(client, db, mailbox):
    response = send_contact(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/contact/thanks?kind=contact"
    assert "Set-Cookie" not in response.headers
    thanks = client.get(response.headers["Location"])
    assert "Your message has reached us" in thanks.get_data(as_text=True)
    assert "Set-Cookie" not in thanks.headers

    prospect = only_prospect(db)
    assert prospect["email"] == "jane.doe@example.org"
    assert (prospect["last_name"], prospect["first_name"]) == ("Doe", "Jane")
    assert (prospect["company"], prospect["job_title"]) == ("Lycée du Lac", "IT lead")
    assert prospect["phone"] == "+33 4 79 00 00 00"
    assert prospect["status"] == "new"
    [interaction] = prospects.interactions(db, prospect["id"])
    assert interaction["kind"] == "contact"
    assert interaction["subject"] == "Hosting of our digital workspace"
    assert interaction["message"] == "Where is our data stored?\nWe would like to know more."

    mails = by_recipient(mailbox.wait_for(2))
    assert set(mails) == {"jane.doe@example.org", NOTIFY}
    notification = mails[NOTIFY]
    assert notification["Reply-To"] == "Jane Doe <jane.doe@example.org>"
    assert "Hosting of our digital workspace" in notification["Subject"]
    assert "Where is our data stored?" in text_part(notification)
    assert "Lycée du Lac" in html_part(notification)
    assert f"http://localhost/admin/prospects/{prospect['id']}" in text_part(notification)
    ack = mails["jane.doe@example.org"]
    assert ack["Reply-To"] == NOTIFY
    assert "Hello," in text_part(ack) and "Hello," in html_part(ack)
    assert "Jane" not in text_part(ack) + html_part(ack)  # nothing typed, not even the name
    # The acknowledgement repeats nothing else the sender typed (no relay for spam).
    assert "Where is our data" not in text_part(ack) + html_part(ack)
    assert "Hosting" not in ack["Subject"] + text_part(ack)
    assert db["outbox"].count == 0  # delivered, so no longer kept


def test_meeting_request_keeps_topic_format_and_slots(client, db, mailbox):
    response = send_meeting(client, **{"slot_3": "Any Friday afternoon", "format": "on_site"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/contact/thanks?kind=meeting"
    assert "time slots you suggested" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    prospect = only_prospect(db)
    [interaction] = prospects.interactions(db, prospect["id"])
    assert interaction["kind"] == "meeting"
    assert interaction["topic"] == "Exit plan for our Education Cloud"
    assert interaction["format"] == "on_site"
    assert interaction["time_slots"] == [
        "Tuesday 3 March, morning",
        "Thursday 5 March, 14:00",
        "Any Friday afternoon",
    ]
    mails = by_recipient(mailbox.wait_for(2))
    notification = mails[NOTIFY]
    assert notification["Reply-To"] == "Paul Martin <paul.martin@example.org>"
    assert notification["Subject"].startswith("Meeting request: Exit plan")
    text = text_part(notification)
    assert "On site" in text and "3. Any Friday afternoon" in text
    assert "Thursday 5 March, 14:00" in html_part(notification)
    ack = mails["paul.martin@example.org"]
    assert "meeting request" in ack["Subject"].lower()
    assert "time slots you suggested" in text_part(ack)


def test_notification_goes_to_the_configured_address(make_app, mailbox):
    app = make_app(CONTACT_NOTIFY_ADDRESS="sales@example.net")
    assert send_contact(app.test_client()).status_code == 303
    assert set(by_recipient(mailbox.wait_for(2))) == {"sales@example.net", "jane.doe@example.org"}


@pytest.mark.parametrize(
    "send, changes, field_id, message",
    [
        (send_contact, {"last_name": ""}, "contact-last_name", "enter your last name"),
        (send_contact, {"first_name": "   "}, "contact-first_name", "enter your first name"),
        (send_contact, {"company": None}, "contact-company", "enter your organisation"),
        (send_contact, {"email": "not-an-address"}, "contact-email", "valid e-mail address"),
        (send_contact, {"message": ""}, "contact-message", "write your message"),
        (send_contact, {"message": "x" * 5001}, "contact-message", "under 5000 characters"),
        (send_contact, {"phone": "call me maybe"}, "contact-phone", "enter a phone number"),
        (send_contact, {"phone": "12"}, "contact-phone", "enter a phone number"),
        (send_contact, {"subject": "s" * 201}, "contact-subject", "Field cannot be longer"),
        (send_meeting, {"topic": ""}, "meeting-topic", "what you would like to discuss"),
        (send_meeting, {"format": None}, "meeting-format", "choose a format"),
        (send_meeting, {"format": "phone"}, "meeting-format", "Not a valid choice"),
        (send_meeting, {"slot_2": ""}, "meeting-slot_2", "second time slot"),
        (send_meeting, {"email": ""}, "meeting-email", "enter your e-mail address"),
    ],
)
def test_invalid_request_shows_error_next_to_field_keeps_input_and_stores_nothing(
    client, db, mailbox, send, changes, field_id, message
):
    response = send(client, **changes)
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert f'<div class="field-errors" id="{field_id}-error">' in html
    error_block = html.split(f'id="{field_id}-error">')[1].split("</div>")[0]
    assert message in error_block
    assert "Please correct the fields marked below." in html
    if send is send_contact:
        assert 'value="Doe"' in html or field_id == "contact-last_name"  # typed input kept
        assert "Where is our data stored?" in html or field_id == "contact-message"
    else:
        assert 'value="Exit plan for our Education Cloud"' in html or field_id == "meeting-topic"
        assert 'value="Tuesday 3 March, morning"' in html
    assert_nothing_stored_or_sent(db, mailbox)


@pytest.mark.parametrize(
    "send, changes, field_id",
    [
        (send_contact, {"last_name": "Doe\r\nBcc: victim@example.net"}, "contact-last_name"),
        (send_contact, {"first_name": "Jane\nCc: x@example.net"}, "contact-first_name"),
        (send_contact, {"subject": "Hello\r\nBcc: victim@example.net"}, "contact-subject"),
        (send_contact, {"email": "a@example.org\nBcc: x@example.net"}, "contact-email"),
        (send_meeting, {"topic": "Exit\r\nBcc: victim@example.net"}, "meeting-topic"),
        (send_meeting, {"slot_1": "Monday\nBcc: victim@example.net"}, "meeting-slot_1"),
    ],
)
def test_line_breaks_in_single_line_fields_are_refused_and_nothing_is_sent(
    client, db, mailbox, send, changes, field_id
):
    response = send(client, **changes)
    assert response.status_code == 400
    error_block = response.get_data(as_text=True).split(f'id="{field_id}-error">')[1]
    assert "Line breaks" in error_block.split("</div>")[0]
    assert_nothing_stored_or_sent(db, mailbox)


@pytest.mark.parametrize("send, kind", [(send_contact, "contact"), (send_meeting, "meeting")])
def test_honeypot_gets_the_same_thank_you_and_nothing_is_stored_or_sent(
    client, db, mailbox, send, kind
):
    response = send(client, website="http://spam.example")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contact/thanks?kind={kind}"
    assert "Set-Cookie" not in response.headers
    assert_nothing_stored_or_sent(db, mailbox)


def test_forged_consent_wording_is_refused_in_the_summary(client, db, mailbox):
    response = send_contact(client, consent_version="forged")
    assert response.status_code == 400
    assert "out of date" in response.get_data(as_text=True)
    assert_nothing_stored_or_sent(db, mailbox)


@pytest.mark.parametrize("send", [send_contact, send_meeting])
def test_each_form_is_rate_limited_per_ip(make_app, mailbox, send):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORMS="2 per minute")
    client = app.test_client()
    codes = [send(client, email=f"p{i}@example.org").status_code for i in range(3)]
    assert codes == [303, 303, 429]
    last = send(client, email="p9@example.org")
    assert last.status_code == 429
    assert "Too many requests" in last.get_data(as_text=True)
    assert "Set-Cookie" not in last.headers
    assert client.get("/contact").status_code == 200  # reading the page is not limited


@pytest.mark.parametrize("send", [send_contact, send_meeting])
@pytest.mark.parametrize(
    "headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}]
)
def test_cross_origin_post_is_rejected(client, db, mailbox, send, headers):
    response = send(client, headers=headers)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    assert_nothing_stored_or_sent(db, mailbox)


def test_same_origin_post_is_accepted(client, mailbox):
    headers = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    assert send_meeting(client, headers=headers).status_code == 303


def test_relay_down_still_thanks_then_retry_delivers_each_mail_exactly_once(make_app, mailbox):
    down = make_app(MAIL_PORT=closed_port())  # nothing listens there
    client = down.test_client()
    response = send_contact(client)
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200
    db = connect(down.config["DATABASE"])
    assert db["prospects"].count == 1  # the request itself is safe
    rows = {row["kind"]: row for row in db.query("SELECT * FROM outbox")}
    assert set(rows) == {"contact_notification", "contact_acknowledgement"}
    assert rows["contact_notification"]["attempts"] == 1
    assert rows["contact_notification"]["last_error"]
    assert mailbox.messages == []

    listed = down.test_cli_runner().invoke(args=["outbox", "list"]).output
    assert "contact request (to the team)" in listed and "attempts 1" in listed
    # The relay is still down: the command says so with its exit code.
    failed = down.test_cli_runner().invoke(args=["outbox", "retry"])
    assert failed.exit_code == 1

    # Same database, relay back; the retry delay is not over yet, so pretend it is.
    db.execute("UPDATE outbox SET next_attempt_at = ?", [isoformat(utcnow())])
    up = make_app(DATABASE=down.config["DATABASE"])
    result = up.test_cli_runner().invoke(args=["outbox", "retry"])
    assert result.exit_code == 0, result.output
    assert "sent 2, still waiting 0" in result.output
    mails = by_recipient(mailbox.wait_for(2))
    assert set(mails) == {NOTIFY, "jane.doe@example.org"}
    assert mails[NOTIFY]["Reply-To"] == "Jane Doe <jane.doe@example.org>"
    assert "Where is our data stored?" in html_part(mails[NOTIFY])
    assert db["outbox"].count == 0
    again = up.test_cli_runner().invoke(args=["outbox", "retry"])
    assert "sent 0, still waiting 0" in again.output
    assert len(mailbox.wait_for(3, timeout=0.5)) == 2  # exactly once
    db.close()


def sample_message():
    """A small rendered message to queue (needs a request context)."""
    identity = prospects.Identity("someone@example.org", "One", "Some", "Org")
    return messages.render_message(
        identity.email,
        "Test",
        "contact_acknowledgement",
        identity=identity,
        interaction=prospects.Interaction(kind="contact"),
    )


def test_failed_mail_waits_longer_after_each_failure(make_app, mailbox):
    app = make_app(MAIL_PORT=closed_port())
    db = connect(app.config["DATABASE"])
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with app.test_request_context():
        message = sample_message()
        message_id = outbox.enqueue(db, "test", message, now)
        assert outbox.send_due(db, now) == (0, True, 1, 0)
        assert outbox.due_ids(db, now + timedelta(seconds=59)) == []
        assert outbox.due_ids(db, now + timedelta(minutes=1)) == [message_id]
        outbox.send_due(db, now + timedelta(minutes=1))
        row = db["outbox"].get(message_id)
        assert row["attempts"] == 2
        assert row["next_attempt_at"] == isoformat(now + timedelta(minutes=3))
    assert [outbox.retry_delay(n) for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert outbox.retry_delay(30) == timedelta(hours=6)
    db.close()


def test_a_claimed_message_is_not_sent_twice(app, db, mailbox):
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with app.test_request_context():
        message = sample_message()
        message_id = outbox.enqueue(db, "test", message, now)
        assert outbox.claim(db, message_id, now)["id"] == message_id
        # Another worker at the same moment finds it taken...
        assert outbox.claim(db, message_id, now) is None
        assert outbox.deliver(db, [message_id], now) == 1  # (nothing to do counts as done)
        assert mailbox.messages == []
        # ...until the lease runs out (the first sender died before recording the send).
        later = now + outbox.CLAIM_LEASE + timedelta(seconds=1)
        assert outbox.send_due(db, later) == (1, False, 0, 0)
    assert len(mailbox.wait_for(1)) == 1


def submit_at(app, db, when, form="contact", **identity_changes):
    """Submit a request through the service at a chosen moment."""
    identity = prospects.Identity(
        email="jane.doe@example.org",
        last_name="Doe",
        first_name="Jane",
        company="Lycée du Lac",
        job_title="IT lead",
        phone="+33 4 79 00 00 00",
    )
    identity = prospects.Identity(**{**identity.__dict__, **identity_changes})
    if form == "contact":
        interaction = prospects.Interaction(kind="contact", subject="Hello", message="Hi")
    else:
        interaction = prospects.Interaction(
            kind="meeting", topic="Exit plan", format="video", time_slots=("Mon", "Tue")
        )
    with app.test_request_context():
        return service.submit(db, service.ContactRequest(identity, interaction), when)


def test_repeat_requests_update_the_same_prospect_and_move_last_interaction(app, db, mailbox):
    first = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    prospect_id = submit_at(app, db, first)
    prospects.set_status(db, prospect_id, "answered")
    second = first + timedelta(days=40)
    again = submit_at(
        app, db, second, form="meeting", company="Région Exemple", job_title=None, phone=None
    )
    assert again == prospect_id
    prospect = only_prospect(db)
    assert prospect["created_at"] == isoformat(first)
    assert prospect["last_interaction_at"] == isoformat(second)
    assert prospect["company"] == "Région Exemple"  # the latest wins
    assert prospect["job_title"] == "IT lead"  # an empty field erases nothing
    assert prospect["status"] == "new"  # a new request reopens an answered file
    kinds = [(i["kind"], i["at"]) for i in prospects.interactions(db, prospect_id)]
    assert kinds == [("meeting", isoformat(second)), ("contact", isoformat(first))]
    prospects.set_status(db, prospect_id, "in_progress")
    submit_at(app, db, second + timedelta(days=1))
    assert only_prospect(db)["status"] == "in_progress"  # work under way is kept
    assert len(mailbox.wait_for(6)) == 6


def test_same_address_in_another_case_is_the_same_prospect(client, db, mailbox):
    send_contact(client)
    send_contact(client, email="JANE.DOE@example.ORG")
    assert only_prospect(db)["email"] == "jane.doe@example.org"
    assert db["interactions"].count == 2


def purge_prospects(db, now):
    """Run the retention purge at `now`; the prospects left, by address."""
    retention.purge(db, now)
    return sorted(row["email"] for row in db.query("SELECT email FROM prospects"))


def test_prospects_are_deleted_3_years_after_their_last_interaction(app, db, mailbox):
    last = datetime(2023, 5, 17, 12, 0, tzinfo=UTC)
    submit_at(app, db, last)
    submit_at(app, db, last + timedelta(days=10), email="recent@example.org")
    both = ["jane.doe@example.org", "recent@example.org"]
    boundary = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
    assert purge_prospects(db, boundary - timedelta(days=1)) == both
    assert purge_prospects(db, boundary) == both  # exactly 3 years: kept
    assert purge_prospects(db, boundary + timedelta(seconds=1)) == ["recent@example.org"]


def test_a_new_request_restarts_the_prospect_clock(app, db, mailbox):
    last = datetime(2023, 5, 17, 12, 0, tzinfo=UTC)
    submit_at(app, db, last)
    boundary = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
    submit_at(app, db, boundary - timedelta(days=1))
    assert purge_prospects(db, boundary + timedelta(days=1)) == ["jane.doe@example.org"]


def test_retention_cutoff_handles_29_february():
    leap = datetime(2028, 2, 29, 8, 0, tzinfo=UTC)
    rule = retention.RULES_BY_KEY["prospects"]
    assert rule.cutoff(leap) == datetime(2025, 2, 28, 8, 0, tzinfo=UTC)


def test_newsletter_box_starts_the_double_opt_in(client, db, mailbox):
    response = send_contact(client, newsletter="y")
    assert response.status_code == 303
    mails = mailbox.wait_for(3)
    confirmations = [m for m in mails if "confirm" in m["Subject"].lower()]
    assert len(confirmations) == 1
    assert confirmations[0]["To"] == "jane.doe@example.org"
    assert link_path(confirmations[0], "/newsletter/confirm/")
    [subscriber] = list(db.query("SELECT * FROM subscribers"))
    assert subscriber["status"] == "pending"  # nothing more until they confirm
    assert subscriber["request_page"] == "/contact"
    assert subscriber["request_text_version"] == "2026-11-v1"


def test_without_the_box_no_subscriber_is_created(client, db, mailbox):
    send_meeting(client)
    assert len(mailbox.wait_for(2)) == 2
    assert db["subscribers"].count == 0


def test_newsletter_mail_failure_does_not_fail_the_request(make_app, mailbox):
    down = make_app(MAIL_PORT=closed_port())
    response = send_meeting(down.test_client(), newsletter="y")
    assert response.status_code == 303
    db = connect(down.config["DATABASE"])
    assert db["prospects"].count == 1
    assert db["outbox"].count == 2
    # The signup was not counted against the address, so the person can retry it (the
    # acknowledgement waiting in the outbox is, against its own limit).
    kinds = [row["kind"] for row in db.query("SELECT kind FROM newsletter_mail_sends")]
    assert kinds == ["contact_acknowledgement"]
    db.close()


def test_meeting_url_on_get_leads_to_the_page(client):
    response = client.get("/contact/meeting")
    assert response.status_code == 302
    assert response.headers["Location"] == "/contact#meeting"


def test_site_links_lead_to_the_contact_page(client):
    home = client.get("/").get_data(as_text=True)
    assert 'class="nav-contact" href="/contact"' in home
    assert 'href="/contact#meeting"' in home
    assert 'href="mailto:contact@weprode.com">contact@weprode.com</a>' in home  # footer
    page = client.get("/contact").get_data(as_text=True)
    assert 'href="/contact" aria-current="page"' in page
    assert "<loc>http://localhost/contact</loc>" in client.get("/sitemap.xml").get_data(
        as_text=True
    )


def test_campaign_worker_also_retries_the_outbox(make_app, mailbox):
    from weprode.campaigns import worker

    down = make_app(MAIL_PORT=closed_port())
    send_contact(down.test_client())
    db = connect(down.config["DATABASE"])
    assert db["outbox"].count == 2
    db.execute("UPDATE outbox SET next_attempt_at = ?", [isoformat(utcnow())])
    up = make_app(DATABASE=down.config["DATABASE"])
    with up.app_context():
        worker.run_once(db, utcnow())
    assert db["outbox"].count == 0
    assert len(mailbox.wait_for(2)) == 2
    db.close()


# Addresses whose part before the @ is not ASCII can only be sent with SMTPUTF8.
UTF8_ADDRESS = "zoë@example.com"
FORMS = [("/contact", VALID_CONTACT, "contact"), ("/contact/meeting", VALID_MEETING, "meeting")]


@pytest.mark.parametrize("path, valid, prefix", FORMS)
@pytest.mark.parametrize(
    "lang, message",
    [("en", "cannot write to an address with accents"), ("fr", "Nous ne pouvons pas écrire")],
)
def test_an_address_that_needs_smtputf8_is_refused_next_to_the_field(
    client, db, mailbox, path, valid, prefix, lang, message
):
    data = {**valid, f"{prefix}-email": UTF8_ADDRESS}
    response = client.post(f"{path}?lang={lang}", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html.split(f'id="{prefix}-email-error">')[1].split("</div>")[0]
    assert f'value="{UTF8_ADDRESS}"' in html  # kept for correcting
    assert_nothing_stored_or_sent(db, mailbox)


def test_smtputf8_on_but_not_offered_by_the_relay_still_refuses(make_app, db, mailbox):
    from aiosmtpd.controller import Controller

    from devtools.mailsink import MailSinkHandler

    port, handler = closed_port(), MailSinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        app = make_app(MAIL_SMTPUTF8=True, MAIL_PORT=port)
        response = send_contact(app.test_client(), email=UTF8_ADDRESS)
    finally:
        controller.stop()
    assert response.status_code == 400
    assert "cannot write to an address with accents" in response.get_data(as_text=True)
    assert handler.messages == []


def test_smtputf8_on_and_offered_by_the_relay_delivers_to_the_address(make_app, mailbox):
    app = make_app(MAIL_SMTPUTF8=True)  # the test sink advertises SMTPUTF8
    assert send_contact(app.test_client(), email=UTF8_ADDRESS).status_code == 303
    mailbox.wait_for(2)
    # RFC 6532: the headers are UTF-8 on the wire.
    parsed = [
        email.message_from_string(raw.decode("utf-8"), policy=policy.default) for raw in mailbox.raw
    ]
    mails = by_recipient(parsed)
    assert set(mails) == {NOTIFY, UTF8_ADDRESS}
    assert mails[NOTIFY]["Reply-To"].addresses[0].addr_spec == UTF8_ADDRESS
    assert mails[NOTIFY]["Reply-To"].addresses[0].display_name == "Jane Doe"
    assert "Hello" in text_part(mails[UTF8_ADDRESS])
    assert connect(app.config["DATABASE"])["outbox"].count == 0


def add_outbox_rows(app, db, now, recipients):
    """Queue one acknowledgement per recipient, as rows stored before any check would."""
    ids = []
    with app.test_request_context():
        for recipient in recipients:
            message_id = outbox.enqueue(db, "contact_acknowledgement", sample_message(), now)
            db.execute("UPDATE outbox SET recipient = ? WHERE id = ?", [recipient, message_id])
            ids.append(message_id)
    return ids


def outbox_process(app, *command):
    """`flask --app app outbox ...` in a child process, configured like the test app."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "outbox", *command],
        cwd=PROJECT_ROOT,
        env=flask_env(app),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_message_that_can_never_be_sent_is_parked_and_the_others_still_go(
    app, db, mailbox, staff_client
):
    now = utcnow() - timedelta(minutes=1)
    first, poison, last = add_outbox_rows(
        app, db, now, ["first@example.org", UTF8_ADDRESS, "last@example.org"]
    )
    broken = add_outbox_rows(app, db, now, ["broken@example.org"])[0]
    db.execute("UPDATE outbox SET headers = '{not json' WHERE id = ?", [broken])

    run = outbox_process(app, "retry")
    assert run.returncode == 2, run.stderr  # documented: parked messages this pass
    assert "sent 2, still waiting 0" in run.stdout
    assert "2 messages can never be sent and were parked" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == [
        "first@example.org",
        "last@example.org",
    ]
    rows = {row["id"]: row for row in db.query("SELECT * FROM outbox")}
    assert set(rows) == {poison, broken}
    assert rows[poison]["failed_at"] and "SMTPUTF8" in rows[poison]["last_error"]
    assert rows[broken]["failed_at"] and "JSONDecodeError" in rows[broken]["last_error"]

    again = outbox_process(app, "retry")
    assert again.returncode == 0, again.stderr
    assert "sent 0, still waiting 0" in again.stdout
    assert "Traceback" not in again.stdout + again.stderr
    assert len(mailbox.wait_for(3, timeout=0.5)) == 2  # the parked ones are not retried

    listed = outbox_process(app, "list")
    assert listed.returncode == 0 and listed.stdout.count("FAILED") == 2
    dashboard = staff_client.get("/admin/").get_data(as_text=True)
    assert "2 mails could not be sent" in dashboard
    assert "needs SMTPUTF8" in dashboard


def test_the_campaign_worker_goes_on_past_a_message_that_can_never_be_sent(app, db, mailbox):
    from weprode.campaigns import worker

    now = utcnow()
    add_outbox_rows(app, db, now, [UTF8_ADDRESS, "good@example.org"])
    with app.app_context():
        worker.run_once(db, now)
        worker.run_once(db, now + timedelta(hours=1))
    assert [m["To"] for m in mailbox.wait_for(1)] == ["good@example.org"]
    [row] = list(db.query("SELECT * FROM outbox"))
    assert row["recipient"] == UTF8_ADDRESS and row["failed_at"]


def test_acknowledgements_to_one_address_are_limited_and_repeat_nothing_typed(
    app, client, db, mailbox
):
    victim = "victim@example.net"
    spam = "Buy cheap pills at pills.example"
    for attempt in range(12):
        response = send_contact(client, email=victim, first_name=spam, last_name=f"X{attempt}")
        assert response.status_code == 303
    # Every request reached the team; the victim got one acknowledgement, not twelve.
    assert db["interactions"].count == 12
    received = mailbox.wait_for(13)
    to_victim = [m for m in received if m["To"] == victim]
    assert len(to_victim) == 1
    assert sum(m["To"] == NOTIFY for m in received) == 12
    assert len(mailbox.wait_for(14, timeout=0.5)) == 13
    [ack] = to_victim
    assert "pills" not in text_part(ack) + html_part(ack) + str(ack["Subject"])
    assert "Hello," in text_part(ack)
    # The limit is per address and per window, like the newsletter's.
    later = utcnow() + timedelta(minutes=11)
    with app.test_request_context():
        identity = prospects.Identity(victim, "X", "Jane", "Org")
        interaction = prospects.Interaction(kind="contact", message="Hi")
        service.submit(db, service.ContactRequest(identity, interaction), later)
    assert sum(m["To"] == victim for m in mailbox.wait_for(15)) == 2
    # Another address is not affected by the victim's count.
    send_contact(client, email="someone.else@example.org")
    assert any(m["To"] == "someone.else@example.org" for m in mailbox.wait_for(17))


@pytest.mark.parametrize("send_form", [send_contact, send_meeting])
def test_acknowledgements_come_from_contact_sender_also_when_retried_later(
    make_app, mailbox, send_form
):
    down = make_app(MAIL_PORT=closed_port(), CONTACT_SENDER="Weprode Sales <sales@weprode.com>")
    assert send_form(down.test_client()).status_code == 303
    db = connect(down.config["DATABASE"])
    db.execute("UPDATE outbox SET next_attempt_at = ?", [isoformat(utcnow())])
    # The relay is back and the setting changed since: the mail keeps the From it was built with.
    up = make_app(DATABASE=down.config["DATABASE"], CONTACT_SENDER="Other <other@weprode.com>")
    assert up.test_cli_runner().invoke(args=["outbox", "retry"]).exit_code == 0
    mailbox.wait_for(2)
    mails = dict(zip([m["To"] for m in mailbox.messages], mailbox.raw, strict=True))
    [person] = set(mails) - {NOTIFY}
    assert mails[person].startswith(b"From: Weprode Sales <sales@weprode.com>\r\n")
    assert b"@weprode.com>\r\n" in mails[person].split(b"\r\nMessage-ID: ")[1][:80]
    assert b"\r\nReply-To: contact@weprode.com\r\n" in mails[person]
    # Staff notifications stay with the default sender.
    assert mails[NOTIFY].startswith(b"From: Weprode <newsletter@weprode.com>\r\n")
    db.close()


def test_acknowledgements_come_from_contact_at_weprode_by_default(client, mailbox):
    assert send_contact(client).status_code == 303
    mails = by_recipient(mailbox.wait_for(2))
    assert mails["jane.doe@example.org"]["From"] == "Weprode <contact@weprode.com>"
    assert mails[NOTIFY]["From"] == "Weprode <newsletter@weprode.com>"
