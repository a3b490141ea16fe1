"""Staff screens for prospects: guarded, list and search, detail, status, notes, export."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from spreadsheet_helpers import formula_cells
from staff_helpers import STAFF_EMAIL, csrf_token

from weprode.contact import prospects

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def add(db, email, when, kind="contact", **identity):
    """A prospect whose (latest) request arrived at `when`; returns its id."""
    person = {"last_name": "Doe", "first_name": "Jane", "company": "Lycée du Lac", **identity}
    if kind == "contact":
        interaction = prospects.Interaction(kind="contact", subject="Hosting", message="Hi\nthere")
    else:
        interaction = prospects.Interaction(
            kind="meeting", topic="Exit plan", format="on_site", time_slots=("Mon am", "Tue pm")
        )
    prospect_id, _ = prospects.record_request(
        db, prospects.Identity(email=email, **person), interaction, when
    )
    return prospect_id


def audit_entries(db, action):
    return list(db.query("SELECT * FROM audit_log WHERE action = ? ORDER BY id", [action]))


def detail_links(html):
    return re.findall(r'href="/admin/prospects/(\d+)"', html)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/admin/prospects"),
        ("GET", "/admin/prospects/1"),
        ("GET", "/admin/prospects/export.csv"),
        ("POST", "/admin/prospects/1/status"),
        ("POST", "/admin/prospects/1/notes"),
    ],
)
def test_staff_pages_are_guarded(client, db, method, path):
    add(db, "jane@example.org", START)
    response = client.open(path, method=method, data={"status": "closed", "body": "x"})
    if method == "GET":
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/login")
    else:
        assert response.status_code == 400  # no session, so no valid CSRF token either
    assert prospects.get(db, 1)["status"] == "new"
    assert db["prospect_notes"].count == 0
    assert audit_entries(db, "export") == []


def test_nav_links_to_prospects(staff_client):
    html = staff_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/prospects"' in html


def test_list_searches_by_substring_filters_and_paginates(db, staff_client):
    for index in range(55):
        add(db, f"user{index:02d}@example.org", START + timedelta(minutes=index))
    add(db, "zoe@other.org", START, last_name="Zola", company="Académie de Lyon")
    first = staff_client.get("/admin/prospects").get_data(as_text=True)
    assert len(detail_links(first)) == 50
    assert first.index("user54@") < first.index("user53@")  # latest interaction first
    next_link = re.search(r'href="(/admin/prospects\?after=[^"]+)"', first).group(1)
    second = staff_client.get(next_link.replace("&amp;", "&")).get_data(as_text=True)
    assert len(detail_links(second)) == 6
    assert not set(detail_links(first)) & set(detail_links(second))
    for query in ("ZOLA", "mie de ly", "other.org"):
        found = staff_client.get(f"/admin/prospects?q={query}").get_data(as_text=True)
        assert detail_links(found) == [str(prospects.find_by_email(db, "zoe@other.org")["id"])]
    # LIKE wildcards typed in the box are taken literally.
    assert detail_links(staff_client.get("/admin/prospects?q=%25").get_data(as_text=True)) == []
    prospects.set_status(db, prospects.find_by_email(db, "user07@example.org")["id"], "closed")
    closed = staff_client.get("/admin/prospects?status=closed").get_data(as_text=True)
    assert "user07@example.org" in closed and len(detail_links(closed)) == 1
    assert "1 closed" in closed


def test_list_rejects_unknown_status_with_a_clear_400(staff_client):
    response = staff_client.get("/admin/prospects?status=deleted")
    assert response.status_code == 400
    assert "Unknown status" in response.get_data(as_text=True)


def test_detail_shows_every_request(db, staff_client):
    prospect_id = add(db, "jane@example.org", START, phone="+33 1 23 45 67 89")
    add(db, "jane@example.org", START + timedelta(days=3), kind="meeting")
    html = staff_client.get(f"/admin/prospects/{prospect_id}").get_data(as_text=True)
    assert "Requests (2)" in html
    assert "Hosting" in html and "Hi\nthere" in html
    assert "Exit plan" in html and "On site" in html and "<li>Tue pm</li>" in html
    assert html.index("Meeting request") < html.index("Message —")  # newest first
    assert "+33 1 23 45 67 89" in html
    assert staff_client.get("/admin/prospects/999999").status_code == 404


def test_status_change_is_saved_and_audited(db, staff_client):
    prospect_id = add(db, "jane@example.org", START)
    url = f"/admin/prospects/{prospect_id}"
    token = csrf_token(staff_client, url)
    response = staff_client.post(f"{url}/status", data={"status": "answered", "csrf_token": token})
    assert response.status_code == 302
    assert prospects.get(db, prospect_id)["status"] == "answered"
    [entry] = audit_entries(db, "prospect_status")
    assert entry["actor"] == STAFF_EMAIL
    assert entry["target"] == f"prospect:{prospect_id}"
    assert json.loads(entry["detail"]) == {"previous": "new", "status": "answered"}
    assert "Status set to “Answered”." in staff_client.get(url).get_data(as_text=True)


def test_status_change_refuses_unknown_status_and_missing_csrf(db, staff_client):
    prospect_id = add(db, "jane@example.org", START)
    url = f"/admin/prospects/{prospect_id}"
    token = csrf_token(staff_client, url)
    bad = staff_client.post(f"{url}/status", data={"status": "deleted", "csrf_token": token})
    assert bad.status_code == 400
    assert "Not a valid choice" in bad.get_data(as_text=True)
    forged = staff_client.post(f"{url}/status", data={"status": "closed"})
    assert forged.status_code == 400
    assert prospects.get(db, prospect_id)["status"] == "new"
    assert audit_entries(db, "prospect_status") == []


def test_notes_are_signed_listed_and_audited_without_their_text(db, staff_client):
    prospect_id = add(db, "jane@example.org", START)
    url = f"/admin/prospects/{prospect_id}"
    token = csrf_token(staff_client, url)
    empty = staff_client.post(f"{url}/notes", data={"body": "  ", "csrf_token": token})
    assert empty.status_code == 400
    assert "Please write the note." in empty.get_data(as_text=True)
    response = staff_client.post(
        f"{url}/notes", data={"body": "Called back.\nWants a quote.", "csrf_token": token}
    )
    assert response.status_code == 302
    [note] = prospects.notes(db, prospect_id)
    assert (note["author"], note["body"]) == (STAFF_EMAIL, "Called back.\nWants a quote.")
    html = staff_client.get(url).get_data(as_text=True)
    assert "Called back.\nWants a quote." in html and STAFF_EMAIL in html
    [entry] = audit_entries(db, "prospect_note")
    assert entry["target"] == f"prospect:{prospect_id}"
    assert "Called back" not in (entry["detail"] or "")
    # Notes leave nothing behind when their prospect goes.
    db.execute("DELETE FROM prospects WHERE id = ?", [prospect_id])
    assert db["prospect_notes"].count == 0 and db["interactions"].count == 0


def test_export_follows_the_filter_is_formula_safe_and_audited(db, staff_client):
    add(db, "evil@example.org", START, first_name='=HYPERLINK("http://x")', company="x;＝1+1")
    add(db, "jane@example.org", START + timedelta(hours=1), kind="meeting")
    add(db, "jane@example.org", START + timedelta(hours=2))
    prospects.set_status(db, prospects.find_by_email(db, "jane@example.org")["id"], "closed")
    response = staff_client.get("/admin/prospects/export.csv?status=closed")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == ["jane@example.org"]
    assert rows[0]["interactions"] == "2"
    assert rows[0]["status"] == "closed"
    everything = staff_client.get("/admin/prospects/export.csv?q=evil").get_data(as_text=True)
    [evil] = list(csv.DictReader(io.StringIO(everything)))
    assert evil["first_name"] == '\'=HYPERLINK("http://x")'
    assert evil["company"] == "x;'＝1+1"
    assert formula_cells(everything) == []
    entries = audit_entries(db, "export")
    assert [e["target"] for e in entries] == ["prospects", "prospects"]
    assert json.loads(entries[0]["detail"]) == {"query": "", "status": "closed"}
    # The audit says a text search was applied, not what staff typed (a name, an address).
    assert json.loads(entries[1]["detail"]) == {"query": "[withheld]", "status": ""}


def test_list_links_to_the_export_of_the_current_filter(db, staff_client):
    html = staff_client.get("/admin/prospects?q=jane&status=new").get_data(as_text=True)
    link = re.search(r'href="(/admin/prospects/export\.csv[^"]*)"', html).group(1)
    assert "q=jane" in link and "status=new" in link
