"""What staff read, on the command line and in the staff area, is said like a person would:
counts agree with their nouns, no double punctuation, fields named by their labels,
campaign states in words, an import file's shape explained, French where the page is.
"""

import csv
import io

import pytest
from campaign_helpers import add_subscribers, new_campaign
from staff_helpers import csrf_token, speak

from weprode.campaigns import compose, freeze, ledger
from weprode.cli import counted
from weprode.db import utcnow
from weprode.newsletter import subscribers
from weprode.newsletter.importing import reading

IMPORT = "/admin/subscribers/import"


def test_counts_agree_with_their_noun():
    assert [counted(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    assert counted(1, "key", "keys") == "1 key" and counted(3, "person", "people") == "3 people"


def test_a_refused_campaign_action_says_the_state_and_what_is_needed(app, db):
    campaign_id = new_campaign(db)
    with app.test_request_context("/"):
        freeze.start(db, campaign_id, utcnow())
        db.execute("UPDATE campaigns SET status = 'sent' WHERE id = ?", [campaign_id])
        with pytest.raises(ledger.CampaignStateError) as refused:
            freeze.start(db, campaign_id, utcnow())
    assert str(refused.value) == (
        f"Campaign {campaign_id} has already been sent. "
        "Only a draft, scheduled, or sending campaign can be sent."
    )
    with app.test_request_context("/?lang=fr"):
        with pytest.raises(ledger.CampaignStateError) as refused:
            ledger.pause(db, campaign_id, "x", utcnow())
        with pytest.raises(ledger.CampaignStateError) as unknown:
            ledger.require(db, campaign_id + 1)
    assert str(refused.value) == (
        f"La campagne {campaign_id} a déjà été envoyée. "
        "Seule une campagne en cours d’envoi peut être mise en pause."
    )
    assert str(unknown.value) == f"Il n’existe pas de campagne {campaign_id + 1}."


def test_cli_names_invalid_fields_by_label_without_double_punctuation(runner, tmp_path):
    body = tmp_path / "body.md"
    body.write_text("Hello {{ nope }}", encoding="utf-8")
    options = ["--audience", "all", "--en-subject", " ", "--en-body-file", body]
    refused = runner.invoke(args=["campaigns", "create", *options])
    assert refused.exit_code == 1
    message = refused.output.strip()
    assert message == (
        "Error: English subject: A subject is required. "
        "English body: Unknown placeholder nope: use email or first_name."
    )
    assert "body_markdown" not in message and ".;" not in message and ".)." not in message


def test_validation_messages_are_french_on_a_french_page(app):
    with app.test_request_context("/?lang=fr"):
        version = compose.Version("x" * 201, "", "a" * 100_001)
        errors = compose.validation_errors({"fr": version}, "de")
        invalid = str(compose.CampaignInvalid({"fr-body_markdown": errors["fr-body_markdown"]}))
        nothing = compose.validation_errors({}, None)
    assert errors["fr-subject"] == "Une seule ligne de 200 caractères au maximum."
    # French groups thousands with a narrow no-break space.
    assert errors["fr-body_markdown"] == "100\u202f000 caractères au maximum."
    assert errors["audience"].startswith("Choix de destinataires inconnu")
    assert invalid == "Corps du message en français\u00a0: 100\u202f000 caractères au maximum."
    assert nothing == {"versions": "Rédigez la version anglaise, la version française ou les deux."}


def test_campaign_list_counts_recipients_in_the_singular(app, db, runner):
    add_subscribers(app, db, [("ada@example.org", "Ada", "en")])
    campaign_id = new_campaign(db, subject="One reader")
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    listed = runner.invoke(args=["campaigns", "list"]).output
    assert f"{campaign_id}\tsending\t1 recipient, 0 sent," in listed


def test_outbox_list_says_when_it_is_empty(runner):
    listed = runner.invoke(args=["outbox", "list"])
    assert listed.exit_code == 0
    assert listed.output == "The outbox is empty: no message is waiting or parked.\n"


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_the_separator_is_read_from_the_header(separator):
    header = separator.join(reading.COLUMNS) + "\r\n"
    assert reading.separator(header) == separator
    report = reading.ImportReport()
    text = header + separator.join(["marie@example.org", "Marie, dite Mimi", "fr"]) + "\n"
    if separator == ",":
        text = header + 'marie@example.org,"Marie, dite Mimi",fr\n'
    entries = reading.read_entries(text, report, reading.Progress(None, 1))
    assert report.errors == []
    assert [(e.email, e.first_name, e.language) for e in entries.values()] == [
        ("marie@example.org", "Marie, dite Mimi", "fr")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "marie2@example.org;Marie;fr\njean@example.org;Jean;fr\n",
        "marie2@example.org,Marie,fr\n",
        "marie2@example.org\njean@example.org\n",
        "marie2@example.org\tMarie\n",
    ],
)
def test_a_file_without_header_row_is_told_what_the_first_line_should_be(text):
    report = reading.ImportReport()
    assert reading.read_entries(text, report, reading.Progress(None, 1)) == {}
    [(line, reason)] = report.errors
    assert line == 1 and "unknown column" not in reason.lower()
    assert reason == (
        "The first line holds an e-mail address, not the names of the columns. "
        "Add a first line naming them: email,first_name,language, then one person per line, "
        "such as marie@example.org,Marie,fr."
    )


def upload(staff_client, csv_text):
    return staff_client.post(
        IMPORT,
        data={
            "file": (io.BytesIO(csv_text.encode()), "list.csv"),
            "source": "Trade fair 2026",
            "legal_basis": "signed consent forms",
            "mode": "confirmed",
            "csrf_token": csrf_token(staff_client, IMPORT),
        },
        content_type="multipart/form-data",
    )


def test_import_page_counts_rows_to_fix_in_singular_and_plural(db, staff_client):
    one = upload(staff_client, "email\nbad\n").get_data(as_text=True)
    assert "1 row needs fixing." in one and "1 rows" not in one
    two = upload(staff_client, "email\nbad\nworse\n").get_data(as_text=True)
    assert "2 rows need fixing." in two
    assert db["subscribers"].count == 0


def test_import_page_in_french_explains_a_missing_header(app, db, staff_client):
    speak(app, "fr")
    response = upload(staff_client, "marie2@example.org;Marie;fr\n")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "1 ligne est à corriger." in html
    assert "La première ligne contient une adresse e-mail, et non les noms des colonnes." in html
    assert "marie2@example.org" not in html.split("Rien n’a été importé")[1].split("</table>")[0]
    assert db["subscribers"].count == 0


@pytest.mark.parametrize(
    "language, filename, first",
    [("en", "subscribers-example.csv", "en"), ("fr", "exemple-abonnes.csv", "fr")],
)
def test_the_import_page_offers_an_example_file_the_import_accepts(
    app, db, staff_client, language, filename, first
):
    speak(app, language)
    page = staff_client.get(IMPORT).get_data(as_text=True)
    link = "/admin/subscribers/import/example.csv"
    assert f'href="{link}" download' in page
    example = staff_client.get(link)
    assert example.status_code == 200 and example.mimetype == "text/csv"
    assert example.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    rows = list(csv.reader(io.StringIO(example.get_data(as_text=True))))
    assert rows[0] == ["email", "first_name", "language"] and rows[1][2] == first
    imported = upload(staff_client, example.get_data(as_text=True))
    assert imported.status_code == 200, imported.get_data(as_text=True)
    assert db["subscribers"].count == 2
    assert subscribers.find_by_email(db, "marie@example.org")["language"] == "fr"


@pytest.mark.parametrize(
    "language, message",
    [
        ("en", "No campaign with this number."),
        ("fr", "Aucune campagne ne porte ce numéro."),
    ],
)
def test_staff_page_messages_come_from_the_catalogue(app, db, staff_client, language, message):
    speak(app, language)
    response = staff_client.get("/admin/campaigns/999")
    assert response.status_code == 404 and message in response.get_data(as_text=True)
