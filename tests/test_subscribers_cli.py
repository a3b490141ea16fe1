"""`flask subscribers add` and `flask subscribers export`."""

import csv
import io
import json

from weprode.db import utcnow
from weprode.newsletter import export, subscribers


def test_add_confirmed_subscriber_records_staff_consent(runner, db):
    result = runner.invoke(
        args=[
            "subscribers",
            "add",
            " Ada@Example.org ",
            "--first-name",
            "Ada",
            "--language",
            "fr",
            "--source",
            "signed paper form, trade fair 2026",
        ]
    )
    assert result.exit_code == 0, result.output
    subscriber = subscribers.find_by_email(db, "ada@example.org")
    assert subscriber["status"] == "active"
    assert subscriber["language"] == "fr"
    [consent] = subscribers.consents(db, subscriber["id"])
    assert consent["method"] == "staff"
    assert consent["source"] == "signed paper form, trade fair 2026"


def test_add_refuses_invalid_address_and_requires_source(runner, db):
    result = runner.invoke(args=["subscribers", "add", "not-an-address", "--source", "x"])
    assert result.exit_code != 0
    assert "not valid" in result.output.lower() or "must have" in result.output.lower()
    result = runner.invoke(args=["subscribers", "add", "ok@example.org"])
    assert result.exit_code != 0
    assert "--source" in result.output
    assert db["subscribers"].count == 0


def test_add_refuses_suppressed_address(app, runner, db):
    with app.app_context():
        subscribers.suppress(db, "gone@example.org", "unsubscribe", utcnow())
    result = runner.invoke(args=["subscribers", "add", "gone@example.org", "--source", "x"])
    assert result.exit_code == 1
    assert "can only come back" in result.output
    assert db["subscribers"].count == 0


def test_export_csv_escapes_formulas_and_lists_every_subscriber(app, runner, db, tmp_path):
    with app.app_context():
        subscribers.add_confirmed(db, "a@example.org", "x", utcnow(), first_name="=HYPERLINK(1)")
        subscribers.add_confirmed(db, "b@example.org", "x", utcnow(), first_name="+33 Bob")
    output = tmp_path / "out.csv"
    result = runner.invoke(args=["subscribers", "export", "--output", str(output)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert [row["email"] for row in rows] == ["a@example.org", "b@example.org"]
    assert rows[0]["first_name"] == "'=HYPERLINK(1)"
    assert rows[1]["first_name"] == "'+33 Bob"
    assert rows[0]["status"] == "active"
    assert rows[0]["topics"] == "newsletter"
    assert set(export.EXPORT_COLUMNS) == set(rows[0])


def test_export_json_to_stdout(app, runner, db):
    with app.app_context():
        subscribers.add_confirmed(db, "a@example.org", "x", utcnow())
    result = runner.invoke(args=["subscribers", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["email"] == "a@example.org"
    assert row["churned_at"] is None and row["topics"] == "newsletter"
