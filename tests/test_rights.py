"""GDPR rights self-service: request, verification over real SMTP, copy, erase, correct, object."""

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from campaign_helpers import new_campaign, send
from flask_mail import Message
from newsletter_helpers import link_path, text_part
from staff_helpers import ENGLISH_STAFF, STAFF_EMAIL, STAFF_PASSWORD, log_in

from weprode import tokens, usage_log
from weprode.admin.labels import staff_time
from weprode.contact import prospects
from weprode.db import connect, isoformat, utcnow
from weprode.mail import outbox
from weprode.newsletter import importing, signup, subscribers
from weprode.privacy import retention
from weprode.privacy.rights import records, service
from weprode.staff import accounts

EMAIL = "jane.doe@example.org"
LINK_PREFIX = "/privacy/request/"


def no_cookie(response):
    """Public responses never set a cookie; returns the response for chaining."""
    assert "Set-Cookie" not in response.headers, response.request.path
    return response


def ask(client, email=EMAIL, kind="access", **changes):
    """Submit the request form."""
    data = {"email": email, "kind": kind, **changes}
    return no_cookie(client.post("/privacy/request", data=data))


def ask_and_open(client, mailbox, email=EMAIL, kind="access", count=1):
    """Submit the form, wait for the verification mail; return the link's path."""
    response = ask(client, email, kind)
    assert response.status_code == 200
    message = mailbox.wait_for(count)[-1]
    assert message["To"] == email
    return link_path(message, LINK_PREFIX)


def only_request(db):
    [row] = list(db.query("SELECT * FROM rights_requests"))
    return row


@pytest.fixture
def person(app, db, mailbox):
    """Jane is a subscriber who got a campaign, and a prospect with a request and a note."""
    now = utcnow()
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(
            db, EMAIL, "trade fair 2026", now, first_name="Jane", language="en"
        )
        campaign_id = new_campaign(db, subject="Sovereign clouds, issue 1")
        send(app, db, campaign_id)
        signup.record_send(db, EMAIL, "already", now)
        prospect_id, _ = prospects.record_request(
            db,
            prospects.Identity(
                email=EMAIL, last_name="Doe", first_name="Jane", company="Lycée du Lac"
            ),
            prospects.Interaction(kind="contact", subject="Hosting", message="Where is it?"),
            now,
        )
        prospects.add_note(db, prospect_id, "sales@weprode.com", "Called back re hosting", now)
        queued = Message(subject="Thanks Jane", recipients=[EMAIL], body="We read you.")
        outbox.enqueue(db, "contact_acknowledgement", queued, now, prospect_id)
    mailbox.wait_for(1)
    mailbox.clear()
    return {"subscriber_id": subscriber_id, "prospect_id": prospect_id, "campaign_id": campaign_id}


def rows_naming(db, email):
    """(table, row) for every row, in any table, whose values mention `email`."""
    found = []
    for table in db.table_names():
        for row in db[table].rows:
            if email in json.dumps(row, default=str).lower():
                found.append((table, row))
    return found


def test_request_page_has_the_form_and_the_privacy_policy_links_to_it(client):
    page = no_cookie(client.get("/privacy/request"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="email"' in html and 'class="required-mark"' in html
    for kind in records.KINDS:
        assert f'name="kind" value="{kind}"' in html
    assert 'name="website"' in html  # the honeypot
    assert 'name="csrf_token"' not in html
    privacy = no_cookie(client.get("/privacy")).get_data(as_text=True)
    assert 'href="/privacy/request"' in privacy


def test_copy_flow_over_smtp_get_changes_nothing_post_downloads_everything(
    client, db, mailbox, person
):
    path = ask_and_open(client, mailbox, kind="access")
    request_row = only_request(db)
    assert request_row["status"] == "awaiting_verification"
    assert request_row["channel"] == "web"
    message = mailbox.messages[0]
    assert "copy" in message["Subject"].lower()
    assert "60 minutes" in text_part(message)

    page = no_cookie(client.get(path))
    assert page.status_code == 200
    assert "Download my data" in page.get_data(as_text=True)
    assert only_request(db)["status"] == "awaiting_verification"

    download = no_cookie(client.post(path))
    assert download.status_code == 200
    assert download.mimetype == "application/json"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    document = json.loads(download.data)
    assert document["email"] == EMAIL
    assert document["copy_number"] == 1
    newsletter = document["newsletter"]
    assert newsletter["subscriber"]["first_name"] == "Jane"
    assert newsletter["consents"][0]["source"] == "trade fair 2026"
    [topic] = newsletter["topics"]
    assert (topic["slug"], topic["status"], topic["churned_at"]) == ("newsletter", "active", None)
    assert [event["kind"] for event in newsletter["history"]] == ["added_by_staff"]
    [delivery] = newsletter["deliveries"]
    assert delivery["campaign_id"] == person["campaign_id"]
    assert delivery["status"] == "sent" and delivery["sent_at"]
    assert delivery["campaign_subject"] == "Sovereign clouds, issue 1"  # the version received
    assert [send["kind"] for send in document["newsletter_mails_sent"]] == ["already"]
    prospect = document["prospect"]
    assert prospect["prospect"]["company"] == "Lycée du Lac"
    assert prospect["requests"][0]["message"] == "Where is it?"
    assert prospect["staff_notes"][0]["body"] == "Called back re hosting"
    assert prospect["mails_waiting_to_be_sent"][0]["subject"] == "Thanks Jane"
    [recorded] = document["rights_requests"]
    assert recorded["kind"] == "access" and recorded["status"] == "completed"
    about = document["about_this_processing"]
    assert about["controller"]["privacy_contact"] == "privacy@weprode.com"
    assert any("newsletter" in item["purpose"] for item in about["purposes"])
    assert any("OVH" in recipient for recipient in about["recipients"])
    assert any(rule["kept_for"] == "3 years" for rule in about["retention"])
    assert len(about["your_rights"]) == 7  # with restriction and withdrawing consent
    assert "second copy" in about["copies"]
    assert "3 Place de Fontenoy" in about["complaints"]["address"]

    done = only_request(db)
    assert done["status"] == "completed" and done["copy_number"] == 1
    assert done["verified_at"] and done["completed_at"]
    received = datetime.fromisoformat(done["received_at"])
    assert done["due_at"] == isoformat(records.add_months(received, 1))


def test_copies_are_counted_per_person_and_the_second_is_noted_for_staff(
    app, client, db, mailbox, person
):
    first = ask_and_open(client, mailbox, kind="access")
    assert json.loads(client.post(first).data)["copy_number"] == 1
    # Downloading again from the same link is the same copy.
    assert json.loads(client.post(first).data)["copy_number"] == 1
    second = ask_and_open(client, mailbox, kind="access", count=2)
    assert json.loads(client.post(second).data)["copy_number"] == 2
    assert records.completed_copies(db, EMAIL) == 2
    with app.app_context():
        accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)
    log_in(client)
    html = client.get("/admin/requests").get_data(as_text=True)
    assert "copy 2 <span" in html and "copy 1<" in html
    assert html.count("(from the second copy a fee may apply)") == 1


def test_erasure_flow_leaves_only_the_suppression_hash_and_the_request(
    app, client, db, mailbox, person
):
    path = ask_and_open(client, mailbox, kind="erase")
    page = no_cookie(client.get(path))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "permanently deletes" in html and "cannot be undone" in html
    assert "internal note" in html and "(status: subscribed)" in html
    assert subscribers.find_by_email(db, EMAIL) is not None  # GET changed nothing

    done = no_cookie(client.post(path))
    assert done.status_code == 200
    assert "Your data has been erased" in done.get_data(as_text=True)
    assert {table for table, _row in rows_naming(db, EMAIL)} == {"rights_requests"}
    for table in ("subscribers", "consents", "subscriber_events", "deliveries", "prospects"):
        assert db[table].count == 0, table
    for table in ("interactions", "prospect_notes", "outbox", "newsletter_mail_sends"):
        assert db[table].count == 0, table
    assert db["campaigns"].count == 1  # the campaign itself is not personal data
    with app.app_context():
        assert subscribers.is_suppressed(db, EMAIL)
        hashes = tokens.address_hashes(EMAIL)
    assert [row["address_hash"] for row in db["suppressions"].rows] == [hashes[-1]]
    erased = only_request(db)
    assert erased["status"] == "completed" and "deleted 1 newsletter record" in erased["note"]
    # A second press of the button is harmless.
    assert client.post(path).status_code == 200


def test_erasure_blocks_reimport_and_readd(app, db, runner, person):
    with app.app_context():
        request_id = service.record_offline(db, EMAIL, "erase", utcnow())
        service.erase(db, request_id, utcnow())
        report = importing.import_subscribers(
            db,
            io.StringIO(f"email\n{EMAIL}\nother@example.org\n"),
            source="fair",
            legal_basis="consent at the fair",
            mode="confirmed",
            actor="tester",
            now=utcnow(),
        )
    assert report.imported and report.added == 1
    assert len(report.refused_suppressed) == 1
    result = runner.invoke(args=["subscribers", "add", EMAIL, "--source", "x"])
    assert result.exit_code != 0
    assert "erased" in result.output
    assert subscribers.find_by_email(db, EMAIL) is None


def test_correct_flow_shows_what_we_hold_and_errors_next_to_fields(client, db, mailbox, person):
    path = ask_and_open(client, mailbox, kind="rectify")
    page = no_cookie(client.get(path))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="Lycée du Lac"' in html and 'value="Doe"' in html
    assert only_request(db)["status"] == "awaiting_verification"
    # Topics are chosen on the subscriber's own preference page, linked from here.
    manage = re.search(r'href="(/newsletter/manage/[^"]+)"', html)[1]
    preferences = client.get(manage).get_data(as_text=True)
    assert 'name="topics"' in preferences and 'value="Jane"' in preferences

    form = {
        "first_name": "Janet",
        "last_name": "",
        "company": "Lycée du Lac",
        "job_title": "CIO",
        "language": "fr",
    }
    invalid = no_cookie(client.post(path, data=form))
    assert invalid.status_code == 400
    html = invalid.get_data(as_text=True)
    assert "field-has-error" in html and "Please enter your last name." in html
    assert prospects.find_by_email(db, EMAIL)["first_name"] == "Jane"

    saved = no_cookie(client.post(path, data={**form, "last_name": "Doe-Martin"}))
    assert saved.status_code == 200
    assert "Your corrections have been saved" in saved.get_data(as_text=True)
    subscriber = subscribers.find_by_email(db, EMAIL)
    assert (subscriber["first_name"], subscriber["language"]) == ("Janet", "fr")
    prospect = prospects.find_by_email(db, EMAIL)
    assert (prospect["first_name"], prospect["last_name"]) == ("Janet", "Doe-Martin")
    assert (prospect["job_title"], prospect["language"]) == ("CIO", "fr")
    events = subscribers.history(db, subscriber["id"])
    assert (events[-1]["kind"], events[-1]["source"]) == ("rectified", "rights-request")
    assert only_request(db)["status"] == "completed"


def test_correct_for_a_subscriber_only_shows_name_and_language(app, client, db, mailbox):
    with app.app_context():
        subscribers.add_confirmed(db, EMAIL, "test", utcnow(), first_name="Jane")
    mailbox.clear()
    path = ask_and_open(client, mailbox, kind="rectify")
    html = client.get(path).get_data(as_text=True)
    assert 'name="first_name"' in html and 'name="last_name"' not in html
    response = client.post(path, data={"first_name": "", "language": "fr"})
    assert response.status_code == 200
    subscriber = subscribers.find_by_email(db, EMAIL)
    assert (subscriber["first_name"], subscriber["language"]) == (None, "fr")


def test_object_flow_unsubscribes_flags_the_prospect_and_suppresses(
    app, client, db, mailbox, person
):
    path = ask_and_open(client, mailbox, kind="object")
    assert "Stop all marketing" in no_cookie(client.get(path)).get_data(as_text=True)
    assert subscribers.find_by_email(db, EMAIL)["status"] == "active"

    done = no_cookie(client.post(path))
    assert done.status_code == 200
    subscriber = subscribers.find_by_email(db, EMAIL)
    assert (subscriber["status"], subscriber["churn_source"]) == ("churned", "rights-request")
    assert prospects.find_by_email(db, EMAIL)["marketing_objection_at"]
    with app.app_context():
        assert subscribers.is_suppressed(db, EMAIL)
        with pytest.raises(subscribers.SuppressedAddress):
            subscribers.add_confirmed(db, EMAIL, "staff", utcnow())
    assert only_request(db)["status"] == "completed"


def test_same_answer_and_a_mail_whether_or_not_we_hold_data(client, db, mailbox, person):
    known = ask(client, EMAIL, "erase")
    unknown = ask(client, "nobody@example.org", "erase")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    messages = mailbox.wait_for(2)
    assert sorted(message["To"] for message in messages) == [EMAIL, "nobody@example.org"]
    assert db["rights_requests"].count == 2
    # Only the mailbox's owner learns that we hold nothing.
    stranger = [m for m in messages if m["To"] == "nobody@example.org"][0]
    page = client.get(link_path(stranger, LINK_PREFIX)).get_data(as_text=True)
    assert "We hold no personal data about this address" in page


def test_copy_for_an_unknown_address_holds_only_the_request(client, db, mailbox):
    path = ask_and_open(client, mailbox, email="nobody@example.org", kind="access")
    document = json.loads(client.post(path).data)
    assert document["newsletter"] is None and document["prospect"] is None
    assert len(document["rights_requests"]) == 1
    assert document["about_this_processing"]["complaints"]["phone"]


def test_verification_mails_are_limited_per_address(client, db, mailbox):
    for _ in range(3):
        ask(client, "busy@example.org", "access")
    mailbox.wait_for(3)
    over = ask(client, "busy@example.org", "access")
    assert over.get_data() == ask(client, "other@example.org", "access").get_data()
    assert [m["To"] for m in mailbox.wait_for(4)].count("busy@example.org") == 3
    assert db["rights_requests"].count == 4


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "", "kind": "access"}, "Please enter your e-mail address."),
        ({"email": "not-an-address", "kind": "access"}, "valid e-mail address"),
        ({"email": EMAIL}, "Please choose what you would like us to do."),
        ({"email": EMAIL, "kind": "sell"}, "Not a valid choice"),
        ({"email": f"{EMAIL}\nBcc: x@evil.example", "kind": "erase"}, "Line breaks"),
    ],
)
def test_invalid_request_shows_the_error_and_sends_nothing(client, db, mailbox, data, message):
    response = no_cookie(client.post("/privacy/request", data=data))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db["rights_requests"].count == 0
    assert mailbox.messages == []


def test_honeypot_gets_the_same_page_and_nothing_happens(client, db, mailbox):
    response = ask(client, kind="erase", website="http://spam.example")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert db["rights_requests"].count == 0
    assert mailbox.messages == []


def test_expired_link_gets_400_and_changes_nothing(app, client, db, mailbox, person):
    sent_at = utcnow() - timedelta(minutes=61)
    with app.test_request_context():
        assert service.submit(db, EMAIL, "erase", "en", sent_at)
        path = link_path(mailbox.wait_for(1)[0], LINK_PREFIX)
        token = path.removeprefix(LINK_PREFIX)
        assert service.open_request(db, token, sent_at + timedelta(minutes=59))[0] == "ok"
        assert service.open_request(db, token, sent_at + timedelta(minutes=61))[0] == "expired"
    for method in ("GET", "POST"):
        response = no_cookie(client.open(path, method=method))
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "expired" in html and 'href="/privacy/request"' in html
    assert subscribers.find_by_email(db, EMAIL) is not None
    assert only_request(db)["status"] == "awaiting_verification"


def test_tampered_or_foreign_links_get_400(app, client, db, mailbox, person):
    path = ask_and_open(client, mailbox, kind="erase")
    request_row = only_request(db)
    with app.app_context():
        received = datetime.fromisoformat(request_row["received_at"])
        foreign = tokens.make_confirm_token(request_row["id"], received)  # another purpose
        stale = tokens.make_rights_token(request_row["id"], received - timedelta(seconds=5))
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    for bad in (tampered, path[:-10], LINK_PREFIX + "garbage", LINK_PREFIX + foreign):
        for method in ("GET", "POST"):
            response = no_cookie(client.open(bad, method=method))
            assert response.status_code == 400, bad
            assert "This link is not valid" in response.get_data(as_text=True)
    assert no_cookie(client.post(LINK_PREFIX + stale)).status_code == 400
    assert subscribers.find_by_email(db, EMAIL) is not None
    assert only_request(db)["status"] == "awaiting_verification"
    from weprode import usage_log

    log = usage_log.log_file(usage_log.log_folder(app), usage_log.clock().date()).read_text()
    assert "SECURITY kind=bad_token" in log and 'purpose="rights"' in log


def test_cli_export_prints_the_document_and_records_the_request(runner, db, person):
    result = runner.invoke(args=["privacy", "export", "Jane.Doe@Example.org"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["newsletter"]["subscriber"]["email"] == EMAIL
    assert document["prospect"]["staff_notes"]
    recorded = only_request(db)
    assert (recorded["channel"], recorded["status"]) == ("post-or-email", "completed")
    assert recorded["copy_number"] == 1 and recorded["kind"] == "access"
    [entry] = list(db.query("SELECT * FROM audit_log WHERE action = 'rights_export'"))
    assert entry["target"] == f"rights_request:{recorded['id']}"
    again = runner.invoke(args=["privacy", "export", EMAIL])
    assert json.loads(again.stdout)["copy_number"] == 2
    assert "a fee may apply" in again.stderr
    assert runner.invoke(args=["privacy", "export", "nope"]).exit_code != 0


def test_cli_erase_needs_yes_then_erases_and_records(app, runner, db, person):
    refused = runner.invoke(args=["privacy", "erase", EMAIL])
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert subscribers.find_by_email(db, EMAIL) is not None
    assert db["rights_requests"].count == 0

    result = runner.invoke(args=["privacy", "erase", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output
    # What went, in words: no table names, counts agreeing with their noun.
    # (The queued mail goes with the contact file it belongs to.)
    assert result.output == (
        f"erased {EMAIL} (request 1; deleted 1 newsletter record, 1 contact file, "
        "1 confirmation mail log entry)\n"
    )
    assert {table for table, _row in rows_naming(db, EMAIL)} == {"rights_requests"}
    recorded = only_request(db)
    assert recorded["note"] == "deleted " + result.output.strip().split("; deleted ")[1][:-1]
    assert (recorded["kind"], recorded["channel"], recorded["status"]) == (
        "erase",
        "post-or-email",
        "completed",
    )
    with app.app_context():
        assert subscribers.is_suppressed(db, EMAIL)


def test_admin_requests_list_is_guarded(client, db):
    response = client.get("/admin/requests")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_admin_list_shows_due_dates_overdue_and_status_filter(app, staff_client, db):
    now = utcnow()
    late = records.create(db, "late@example.org", "erase", now - timedelta(days=40), verified=True)
    records.create(db, "fresh@example.org", "access", now)
    records.create(db, "gone@example.org", "object", now - timedelta(hours=2))
    html = staff_client.get("/admin/requests").get_data(as_text=True)
    assert 'href="/admin/requests"' in html  # the "Requests" entry in the staff nav
    late_row = records.get(db, late)
    with app.test_request_context("/admin/requests"):
        due = staff_time(late_row["due_at"])  # as staff read it: "Nov 21, 2026, 9:00:00 AM"
    assert f"Overdue: {due}" in html
    assert html.count("Overdue:") == 1
    assert html.index("fresh@example.org") < html.index("gone@example.org")
    assert "Expired (never verified)" in html  # an unused link older than an hour
    filtered = staff_client.get("/admin/requests?status=expired").get_data(as_text=True)
    assert "gone@example.org" in filtered and "fresh@example.org" not in filtered
    assert staff_client.get("/admin/requests?status=bogus").status_code == 400


def test_admin_list_pages_with_a_cursor(staff_client, db):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for index in range(records.PAGE_SIZE + 3):
        records.create(db, f"p{index}@example.org", "access", start + timedelta(minutes=index))
    first = staff_client.get("/admin/requests").get_data(as_text=True)
    assert f"p{records.PAGE_SIZE + 2}@example.org" in first and "p2@example.org" not in first
    rows, cursor = records.search(db, utcnow())
    second = staff_client.get("/admin/requests", query_string={"after": cursor})
    html = second.get_data(as_text=True)
    assert "p2@example.org" in html and "p0@example.org" in html
    assert f"p{records.PAGE_SIZE + 2}@example.org" not in html


@pytest.mark.parametrize(
    "received, due",
    [
        (datetime(2026, 1, 31, 10, tzinfo=UTC), datetime(2026, 2, 28, 10, tzinfo=UTC)),
        (datetime(2028, 1, 30, 10, tzinfo=UTC), datetime(2028, 2, 29, 10, tzinfo=UTC)),
        (datetime(2026, 12, 15, 10, tzinfo=UTC), datetime(2027, 1, 15, 10, tzinfo=UTC)),
    ],
)
def test_answer_is_due_one_calendar_month_after_receipt(received, due):
    assert records.due_date(received) == due


def test_relay_failure_answers_503_and_does_not_count_the_request(make_app):
    down = make_app(MAIL_PORT=1)  # nothing listens there
    response = no_cookie(
        down.test_client().post("/privacy/request", data={"email": EMAIL, "kind": "erase"})
    )
    assert response.status_code == 503
    db = connect(down.config["DATABASE"])
    assert db["rights_requests"].count == 0
    db.close()


def test_link_keeps_the_language_of_the_page_it_was_asked_on(client, mailbox):
    client.post("/privacy/request?lang=fr", data={"email": EMAIL, "kind": "access"})
    path = link_path(mailbox.wait_for(1)[0], LINK_PREFIX)
    assert path.endswith("?lang=fr")
    assert client.get(path).status_code == 200


def test_an_address_that_needs_smtputf8_is_refused_with_a_message_not_a_500(client, db, mailbox):
    for lang, message in (("en", "cannot write to an address with accents"), ("fr", "Nous ne")):
        response = client.post(
            f"/privacy/request?lang={lang}", data={"email": "zoë@example.com", "kind": "access"}
        )
        assert response.status_code == 400
        error = response.get_data(as_text=True).split('id="email-error">')[1].split("</div>")[0]
        assert message in error
    assert db["rights_requests"].count == 0 and mailbox.messages == []


def copies_in_files(app, needle):
    """How often `needle` occurs in the database file, its WAL and each usage log."""
    path = Path(app.config["DATABASE"])
    files = [path, Path(f"{path}-wal"), *sorted(usage_log.log_folder(app).glob("access-*.log"))]
    return {file.name: file.read_bytes().count(needle) for file in files if file.exists()}


def live_copies(db, tmp_path, needle):
    """Occurrences in a copy holding only the live rows and indexes (VACUUM INTO)."""
    copy = tmp_path / "live-content.sqlite3"
    db.execute("VACUUM INTO ?", [str(copy)])
    return copy.read_bytes().count(needle)


def test_erasure_leaves_no_copy_in_the_database_files_the_audit_log_or_the_logs(
    app, db, runner, staff_client, person, tmp_path
):
    """Issue 11, item 6: the WAL, audit details and access log kept what erasure deleted."""
    db["prospects"].update(person["prospect_id"], {"last_name": "Doe-Quilliam"})
    for path in (
        f"/admin/subscribers?q={EMAIL}",
        "/admin/prospects?q=Doe-Quilliam",
        f"/admin/subscribers/export.csv?q={EMAIL}",
        f"/admin/prospects/export.csv?q={EMAIL}",
        f"/admin/subscribers/{person['subscriber_id']}",
    ):
        assert staff_client.get(path).status_code == 200, path
    address, database = EMAIL.encode(), Path(app.config["DATABASE"]).name
    others = [b"Doe-Quilliam", "Lycée du Lac".encode(), b"Called back re hosting"]
    for needle in (address, *others):  # the scan can see them while they exist
        found = copies_in_files(app, needle)
        assert found[database] + found.get(f"{database}-wal", 0), needle

    result = runner.invoke(args=["privacy", "erase", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output
    for needle in others:
        assert set(copies_in_files(app, needle).values()) == {0}, needle
    # The address is kept only in the erasure request, our proof that we answered it
    # (kept five years): no dead copy in the main file, none in the WAL or the logs.
    assert {table for table, _row in rows_naming(db, EMAIL)} == {"rights_requests"}
    found = copies_in_files(app, address)
    assert found.pop(database) == live_copies(db, tmp_path, address)
    assert set(found.values()) == {0}, found
    assert db["audit_log"].count >= 3  # the exports and the erasure, told without the address


def test_erasure_clears_addresses_from_older_audit_details(app, db, person):
    """Entries written before details were redacted lose the address when it is erased."""
    db["audit_log"].insert(
        {
            "at": "2026-01-01T00:00:00+00:00",
            "actor": "x",
            "action": "export",
            "detail": json.dumps({"query": "Jane.Doe@example.org", "status": ""}),
        }
    )
    with app.app_context():
        request_id = service.record_offline(db, EMAIL, "erase", utcnow())
        service.erase(db, request_id, utcnow())
    [entry] = db.query("SELECT detail FROM audit_log WHERE at = '2026-01-01T00:00:00+00:00'")
    assert json.loads(entry["detail"]) == {"query": "[address]", "status": ""}
    assert {table for table, _row in rows_naming(db, EMAIL)} == {"rights_requests"}


def test_a_purge_with_nothing_due_finishes_a_checkpoint_an_erasure_could_not(app, db, person):
    """A reader open elsewhere stops the erasure's checkpoint short; the next purge ends it."""
    path = Path(app.config["DATABASE"])
    reader = connect(str(path))
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM subscribers").fetchone()  # holds a read snapshot
    try:
        with app.app_context():
            request_id = service.record_offline(db, EMAIL, "erase", utcnow())
            service.erase(db, request_id, utcnow())
        assert EMAIL.encode() in Path(f"{path}-wal").read_bytes()  # still there for now
    finally:
        reader.execute("COMMIT")
        reader.close()
    with app.app_context():
        results = retention.purge(db, utcnow())
    assert not any(result.due for result in results)
    assert EMAIL.encode() not in Path(f"{path}-wal").read_bytes()
