"""Staff screens: dashboard figures, subscriber list, detail, rectify, unsubscribe, erase."""

import csv
import io
import re
from datetime import timedelta

import pytest
from spreadsheet_helpers import formula_cells
from staff_helpers import STAFF_EMAIL, csrf_token

from weprode.db import isoformat, utcnow
from weprode.newsletter import stats, subscribers


def add(app, db, email, when, first_name=None, language="en"):
    """An active subscriber whose signup happened at `when`."""
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(
            db, email, "test", when, first_name=first_name, language=language
        )
    return subscriber_id


def test_dashboard_figures_match_a_known_dataset(app, db, staff_client):
    now = utcnow()
    for index in range(6):
        add(app, db, f"new{index}@example.org", now - timedelta(days=index * 3))  # 6 in 30 days
    for index in range(4):
        add(app, db, f"old{index}@example.org", now - timedelta(days=200 + index))
    db.execute(
        "INSERT INTO subscribers (email, language, status, source, created_at, requested_at) "
        "VALUES ('pending@example.org', 'en', 'pending', 'form', ?, ?)",
        [isoformat(now), isoformat(now)],
    )
    from weprode.newsletter import optout

    with app.app_context():
        old_id = subscribers.find_by_email(db, "old0@example.org")["id"]
        optout.unsubscribe(db, old_id, "one-click", now - timedelta(days=2))
    assert stats.counts_by_status(db) == {"active": 9, "pending": 1, "churned": 1, "bounced": 0}
    assert stats.recent_activity(db, now) == {"days": 30, "signups": 6, "churn": 1}
    weeks = stats.weekly_activity(db, now)
    assert len(weeks) == 52
    assert sum(w["signups"] for w in weeks) == 10
    assert sum(w["churn"] for w in weeks) == 1
    html = staff_client.get("/admin/").get_data(as_text=True)
    assert "<svg" in html and "Weekly signups and churn" in html
    assert "<dd>9</dd>" in html and "<dd>1</dd>" in html


def test_list_searches_filters_and_paginates_without_overlap(app, db, staff_client):
    start = utcnow() - timedelta(days=10)
    for index in range(60):
        add(
            app,
            db,
            f"user{index:02d}@example.org",
            start + timedelta(minutes=index),
            language="fr" if index % 2 else "en",
        )
    add(app, db, "zoe@other.org", start, first_name="Zoé")
    first = staff_client.get("/admin/subscribers").get_data(as_text=True)
    assert len(re.findall(r'href="/admin/subscribers/\d+"', first)) == 50
    assert "user59@example.org" in first  # newest first
    next_link = re.search(r'href="(/admin/subscribers\?after=[^"]+)"', first).group(1)
    second = staff_client.get(next_link.replace("&amp;", "&")).get_data(as_text=True)
    first_ids = set(re.findall(r'/admin/subscribers/(\d+)"', first))
    second_ids = set(re.findall(r'/admin/subscribers/(\d+)"', second))
    assert len(second_ids) == 11 and not first_ids & second_ids
    found = staff_client.get("/admin/subscribers?q=USER0").get_data(as_text=True)
    assert len(re.findall(r'href="/admin/subscribers/\d+"', found)) == 10
    by_name = staff_client.get("/admin/subscribers?q=zo").get_data(as_text=True)
    assert "zoe@other.org" in by_name and "user" not in by_name.split("<tbody>")[1]
    french = staff_client.get("/admin/subscribers?language=fr&sort=oldest").get_data(as_text=True)
    assert len(re.findall(r'href="/admin/subscribers/\d+"', french)) == 30
    assert french.index("user01@") < french.index("user03@")


def test_list_rejects_unknown_filters_with_a_clear_400(staff_client):
    response = staff_client.get("/admin/subscribers?status=deleted")
    assert response.status_code == 400
    assert "Unknown status" in response.get_data(as_text=True)


def test_detail_shows_consent_and_history_and_rectify_saves(app, db, staff_client):
    subscriber_id = add(app, db, "ada@example.org", utcnow(), first_name="Ada")
    html = staff_client.get(f"/admin/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Proof of consent" in html and "<td>added by staff</td>" in html  # the history
    token = csrf_token(staff_client, f"/admin/subscribers/{subscriber_id}")
    response = staff_client.post(
        f"/admin/subscribers/{subscriber_id}/rectify",
        data={"first_name": "Ada L.", "language": "fr", "csrf_token": token},
    )
    assert response.status_code == 302
    subscriber = subscribers.get(db, subscriber_id)
    assert (subscriber["first_name"], subscriber["language"]) == ("Ada L.", "fr")
    assert staff_client.get("/admin/subscribers/999999").status_code == 404


def test_rectify_without_csrf_token_changes_nothing(app, db, staff_client):
    subscriber_id = add(app, db, "ada@example.org", utcnow(), first_name="Ada")
    response = staff_client.post(
        f"/admin/subscribers/{subscriber_id}/rectify", data={"first_name": "X", "language": "fr"}
    )
    assert response.status_code == 400
    assert subscribers.get(db, subscriber_id)["first_name"] == "Ada"


def test_unsubscribe_on_request_asks_first_then_records_staff_source(app, db, staff_client):
    subscriber_id = add(app, db, "ada@example.org", utcnow())
    url = f"/admin/subscribers/{subscriber_id}/unsubscribe"
    page = staff_client.get(url)
    assert "Unsubscribe ada@example.org?" in page.get_data(as_text=True)
    assert subscribers.get(db, subscriber_id)["status"] == "active"
    staff_client.post(url, data={"csrf_token": csrf_token(staff_client, url)})
    subscriber = subscribers.get(db, subscriber_id)
    assert subscriber["status"] == "churned" and subscriber["churn_source"] == "staff"


def test_erase_keeps_only_the_suppression_hash(app, db, staff_client, runner):
    subscriber_id = add(app, db, "ada@example.org", utcnow(), first_name="Ada")
    url = f"/admin/subscribers/{subscriber_id}/erase"
    assert "cannot be undone" in staff_client.get(url).get_data(as_text=True)
    assert subscribers.get(db, subscriber_id) is not None
    response = staff_client.post(url, data={"csrf_token": csrf_token(staff_client, url)})
    assert response.status_code == 302
    assert subscribers.get(db, subscriber_id) is None
    assert db["consents"].count == 0 and db["subscriber_events"].count == 0
    with app.app_context():
        assert subscribers.is_suppressed(db, "ada@example.org")
    entries = list(db.query("SELECT * FROM audit_log WHERE action = 'erase'"))
    assert len(entries) == 1 and "ada" not in str(entries)
    result = runner.invoke(args=["subscribers", "add", "ada@example.org", "--source", "x"])
    assert result.exit_code == 1


def test_export_of_current_filter_is_formula_safe_and_audited(app, db, staff_client):
    add(app, db, "a@example.org", utcnow(), first_name="=cmd|'/c calc'!A1", language="fr")
    add(app, db, "b@example.org", utcnow(), language="en")
    response = staff_client.get("/admin/subscribers/export.csv?language=fr")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == ["a@example.org"]
    assert rows[0]["first_name"].startswith("'=")
    [entry] = db.query("SELECT * FROM audit_log WHERE action = 'export'")
    assert entry["actor"] == STAFF_EMAIL and '"language": "fr"' in entry["detail"]


TOO_BIG = str(2**63)  # one more than SQLite's largest integer
BAD_CURSORS = [
    "2026-01-01T00:00:00+00:00|" + "9" * 20,
    "2026-01-01T00:00:00+00:00|" + TOO_BIG,
    "2026-01-01T00:00:00+00:00|-1",
    "2026-01-01T00:00:00+00:00|\u0663",  # an Arabic-Indic digit: isdigit() said yes
    "not-a-moment|12",
    "2026-01-01T00:00:00+00:00" * 100 + "|12",
    "|12",
    "12",
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
@pytest.mark.parametrize("path", ["/admin/subscribers", "/admin/prospects", "/admin/requests"])
def test_a_bad_list_cursor_shows_the_first_page(app, db, staff_client, path, cursor):
    add(app, db, "first@example.org", utcnow())
    first = staff_client.get(path).get_data(as_text=True)
    response = staff_client.get(path, query_string={"after": cursor})
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("first@example.org") == first.count(
        "first@example.org"
    )


def test_list_cursors_accept_only_a_timestamp_and_a_64_bit_id():
    from weprode.db import parse_keyset_cursor

    moment = "2026-01-01T00:00:00+00:00"
    assert parse_keyset_cursor(f"{moment}|{2**63 - 1}") == (moment, 2**63 - 1)
    assert parse_keyset_cursor("2026-01-01T00:00:00.123456Z|7") == (
        "2026-01-01T00:00:00.123456Z",
        7,
    )
    assert [parse_keyset_cursor(cursor) for cursor in BAD_CURSORS] == [None] * len(BAD_CURSORS)


def test_ids_beyond_sqlite_integers_are_not_found_anywhere_in_the_staff_area(app, staff_client):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin") and r.arguments]
    assert len(rules) >= 10
    for rule in rules:
        path = rule.rule.replace(">", "").replace("<int:", "<")
        url = re.sub(r"<[^/]+", TOO_BIG, path)
        assert staff_client.get(url).status_code in (404, 405), url
    for path in ("/admin/audit", "/admin/campaigns"):
        assert staff_client.get(path, query_string={"before": TOO_BIG}).status_code == 200


FORMULA_PAYLOADS = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "x;=1+1;",
    "x,=1+1,",
    "x\t=1+1",
    "x; =1+1",
    "x\n=1+1",
    "＝1+1",
    "＋1",
    "x；＝1+1",
    'x";=1+1;"',
    '=HYPERLINK("http://evil.example";"x")',
]


def test_export_opens_with_no_formula_cell_whatever_the_separator(app, db, staff_client):
    for index, payload in enumerate(FORMULA_PAYLOADS):
        subscriber_id = add(app, db, f"f{index}@example.org", utcnow())
        # Stored directly: the export must be safe whatever reached the table.
        db.execute("UPDATE subscribers SET first_name = ? WHERE id = ?", [payload, subscriber_id])
    text = staff_client.get("/admin/subscribers/export.csv").get_data(as_text=True)
    assert formula_cells(text) == []
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    exported = {row["email"]: row["first_name"] for row in rows}
    for index, payload in enumerate(FORMULA_PAYLOADS):
        # Only "'" marks were added: the name is still there to read.
        assert exported[f"f{index}@example.org"].replace("'", "") == payload.replace("'", "")
    assert text.startswith('"email","first_name",') and '"f0@example.org",' in text  # quoted


def test_dense_and_sparse_search_plans_find_the_same_rows(app, db, monkeypatch):
    from weprode.newsletter import search

    start = utcnow() - timedelta(days=1)
    for index in range(30):
        add(app, db, f"ann{index:02d}@example.org", start + timedelta(minutes=index))
        add(app, db, f"x{index:02d}@example.org", start, first_name="Annie" if index % 3 else "Bob")
    filters = search.SubscriberFilter(query="ann")
    sparse = [row["id"] for row in search.search(db, filters, limit=100).rows]
    monkeypatch.setattr(search, "DENSE_MATCHES", 1)
    assert search.matches_are_dense(db, "ann", "ann\U0010ffff")
    dense = [row["id"] for row in search.search(db, filters, limit=100).rows]
    assert len(sparse) == 30 + 20
    assert dense == sparse


def upload(staff_client, csv_text, mode="confirmed", source="Trade fair 2026"):
    token = csrf_token(staff_client, "/admin/subscribers/import")
    return staff_client.post(
        "/admin/subscribers/import",
        data={
            "file": (io.BytesIO(csv_text.encode()), "list.csv"),
            "source": source,
            "legal_basis": "signed consent forms",
            "mode": mode,
            "topic": "1",  # the main topic, the one the page offers first
            "csrf_token": token,
        },
        content_type="multipart/form-data",
    )


def test_import_page_adds_confirmed_subscribers(db, staff_client):
    response = upload(staff_client, "email,first_name,language\nada@example.org,Ada,fr\n")
    assert response.status_code == 200
    assert "Imported." in response.get_data(as_text=True)
    subscriber = subscribers.find_by_email(db, "ada@example.org")
    assert subscriber["status"] == "active" and subscriber["language"] == "fr"


def test_import_page_lists_bad_rows_and_imports_nothing(db, staff_client):
    response = upload(staff_client, "email,first_name\nok@example.org,Ok\nnot-an-address,X\n")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html and "<td>3</td>" in html
    assert db["subscribers"].count == 0


def test_import_page_requires_source_and_mode(db, staff_client):
    token = csrf_token(staff_client, "/admin/subscribers/import")
    response = staff_client.post(
        "/admin/subscribers/import",
        data={"file": (io.BytesIO(b"email\na@example.org\n"), "l.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Choose what happens" in response.get_data(as_text=True)
    assert db["subscribers"].count == 0


def test_import_page_accepts_files_larger_than_the_public_limit(app, db, staff_client):
    rows = "".join(f"user{i:06d}@example.org,Name{i},en\n" for i in range(40000))
    assert len(rows) > app.config["MAX_CONTENT_LENGTH"]
    response = upload(staff_client, "email,first_name,language\n" + rows)
    assert response.status_code == 200
    assert db["subscribers"].count == 40000


@pytest.mark.parametrize(
    "top, labels", [(1, [0, 1]), (2, [0, 1, 2]), (5, [0, 5]), (10, [0, 5, 10])]
)
def test_chart_axis_labels_are_distinct_whole_numbers(top, labels):
    from datetime import date

    from weprode.admin.charts import weekly_chart

    chart = weekly_chart([{"start": date(2026, 1, 5), "signups": top, "churn": 0}])
    assert [value for _, value in chart.y_ticks] == labels
