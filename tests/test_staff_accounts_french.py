"""Each staff account has a language and a time zone (French, Europe/Paris by default):
staff pages follow them after login, STAFF_LANGUAGE (French by default) before; the
staff member changes them on "My account", an administrator with `flask staff`."""

import re
from datetime import UTC, datetime

import pytest
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in, send_box

from weprode.config import DEFAULTS
from weprode.contact import prospects
from weprode.db import utcnow
from weprode.staff import accounts

NBSP = "\u00a0"


@pytest.fixture
def french_app(make_app):
    """The app with the shipped default for STAFF_LANGUAGE (the tests' base config says en)."""
    return make_app(STAFF_LANGUAGE=DEFAULTS["STAFF_LANGUAGE"])


@pytest.fixture
def marie(french_app, db):
    """A staff account created with the defaults, signed in."""
    with french_app.app_context():
        accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow())
    client = french_app.test_client()
    assert log_in(client).status_code == 302
    return client


@pytest.fixture
def db(french_app):
    from weprode.db import connect

    connection = connect(french_app.config["DATABASE"])
    yield connection
    connection.close()


def text(response):
    return response.get_data(as_text=True)


def staff_row(db):
    return db.execute(
        "SELECT language, time_zone FROM staff WHERE email = ?", [STAFF_EMAIL]
    ).fetchone()


def save(client, **fields):
    token = csrf_token(client, "/admin/account")
    return client.post("/admin/account", data={"csrf_token": token, **fields})


def test_a_new_account_and_the_login_page_are_french_by_default(french_app, marie, db):
    assert DEFAULTS["STAFF_LANGUAGE"] == "fr"
    assert tuple(staff_row(db)) == ("fr", "Europe/Paris")
    login = text(french_app.test_client().get("/admin/login"))
    assert '<html lang="fr">' in login and "Connexion à l’espace équipe" in login
    page = text(marie.get("/admin/account"))
    assert '<html lang="fr">' in page and "<h1>Mon compte</h1>" in page
    assert (
        'checked id="language-0" name="language" required type="radio" value="fr"> '
        '<span lang="fr">Français</span>' in page
    )
    assert 'value="Europe/Paris"' in page and 'list="time-zones"' in page
    assert "Heures affichées dans le fuseau Europe/Paris" in page


def test_dates_show_in_the_account_zone_and_language(marie, db):
    winter = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 5, 9, 0, tzinfo=UTC)
    identity = prospects.Identity(
        email="jane@example.org", first_name="Jane", last_name="Doe", company="Lac"
    )
    question = prospects.Interaction(kind="contact", subject="Exit plan", message="Hello")
    prospect_id, _ = prospects.record_request(db, identity, question, winter)
    prospects.record_request(db, identity, question, summer)
    detail = text(marie.get(f"/admin/prospects/{prospect_id}"))
    # Paris is UTC+1 in January, UTC+2 in July; never the stored ISO string.
    assert "5 janv. 2026, 10:00:00" in detail and "5 juil. 2026, 11:00:00" in detail
    assert "2026-01-05T09:00" not in detail
    assert save(marie, language="en", time_zone="America/Montreal").status_code == 302
    english = text(marie.get(f"/admin/prospects/{prospect_id}"))
    assert '<html lang="en">' in english
    assert "Jan 5, 2026, 4:00:00\u202fAM" in english and "Jul 5, 2026, 5:00:00\u202fAM" in english


def test_my_account_changes_language_and_zone_and_says_so_in_the_new_language(marie, db):
    response = save(marie, language="en", time_zone="Europe/London")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/account"
    assert tuple(staff_row(db)) == ("en", "Europe/London")
    page = text(marie.get("/admin/account"))
    assert '<html lang="en">' in page and "<p>Your settings are saved.</p>" in page
    assert ">My account<" in page and "Times are shown in the Europe/London time zone" in page
    back = save(marie, language="fr", time_zone="Europe/Paris")
    assert back.status_code == 302
    assert "<p>Vos réglages sont enregistrés.</p>" in text(marie.get("/admin/account"))


@pytest.mark.parametrize("zone", ["Europe/Pariss", "Mars/Olympus", "../../etc/passwd", "x" * 80])
def test_an_unknown_zone_is_refused_next_to_the_field_and_changes_nothing(marie, db, zone):
    response = save(marie, language="en", time_zone=zone)
    assert response.status_code == 400
    html = text(response)
    assert '<html lang="fr">' in html  # still the saved language
    errors = re.search(r'<div class="field-errors" id="time_zone-error">(.*?)</div>', html, re.S)
    assert errors, html
    assert "indiquez un nom IANA" in errors.group(1) or "caractères" in errors.group(1)
    assert 'aria-invalid="true"' in html
    assert tuple(staff_row(db)) == ("fr", "Europe/Paris")


def test_an_unknown_language_is_refused_and_changes_nothing(marie, db):
    response = save(marie, language="de", time_zone="Europe/Berlin")
    assert response.status_code == 400
    assert "Choisissez le français ou l’anglais." in text(response)
    assert tuple(staff_row(db)) == ("fr", "Europe/Paris")


def test_my_account_needs_the_csrf_token(marie, db):
    response = marie.post("/admin/account", data={"language": "en", "time_zone": "UTC"})
    assert response.status_code == 400
    assert tuple(staff_row(db)) == ("fr", "Europe/Paris")


def test_each_account_reads_its_own_language(french_app, marie, db):
    with french_app.app_context():
        accounts.create(
            db, "ops@weprode.com", STAFF_PASSWORD, utcnow(), language="en", time_zone="UTC"
        )
    other = french_app.test_client()
    assert log_in(other, email="ops@weprode.com").status_code == 302
    assert "<h1>Dashboard</h1>" in text(other.get("/admin/"))
    assert "<h1>Tableau de bord</h1>" in text(marie.get("/admin/"))


def test_scheduling_reads_the_typed_time_in_the_account_zone(marie, db):
    from weprode.campaigns import compose

    with marie.application.app_context():
        version = compose.Version("Bonjour", "", "Corps du message.")
        campaign_id = compose.create(
            db, versions={"fr": version}, audience="fr", author=STAFF_EMAIL, now=utcnow()
        )
    path = f"/admin/campaigns/{campaign_id}"
    response = marie.post(
        f"{path}/schedule",
        data={
            **send_box(marie, path),
            "send_at": "2030-01-10T09:30",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    stored = db.execute("SELECT scheduled_at FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    assert stored[0].startswith("2030-01-10T08:30")  # 09:30 in Paris is 08:30 UTC
    html = text(response)
    assert "Programmée pour le 10 janv. 2030, 09:30:00." in html
    assert "programmée pour le 10 janv. 2030, 09:30:00" in html


def test_cli_create_and_set_language_and_zone(french_app, db):
    runner = french_app.test_cli_runner()
    created = runner.invoke(
        args=["staff", "create", "ops@weprode.com", "--password-stdin", "--language", "en",
              "--time-zone", "Europe/London"],
        input=STAFF_PASSWORD + "\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    # The command speaks STAFF_LANGUAGE (French), whatever the account's own language.
    assert (
        "ops@weprode.com\tactif\tsans-totp\ten\tEurope/London"
        in runner.invoke(args=["staff", "list"]).output
    )
    changed = runner.invoke(args=["staff", "set", "ops@weprode.com", "--time-zone", "Asia/Tokyo"])
    assert changed.exit_code == 0 and "réglé sur en, Asia/Tokyo" in changed.output
    again = runner.invoke(args=["staff", "set", "ops@weprode.com", "--time-zone", "Asia/Tokyo"])
    assert again.exit_code == 0 and "déjà en, Asia/Tokyo" in again.output
    wrong = runner.invoke(args=["staff", "set", "ops@weprode.com", "--time-zone", "Asia/Tokio"])
    assert wrong.exit_code == 1 and "Fuseau horaire inconnu" in wrong.output
    refused = runner.invoke(
        args=["staff", "create", "b@weprode.com", "--password-stdin", "--time-zone", "Paris"],
        input=STAFF_PASSWORD + "\n",
    )
    assert refused.exit_code == 1 and "Fuseau horaire inconnu" in refused.output
    assert runner.invoke(args=["staff", "set", "ops@weprode.com"]).exit_code == 2
    assert (
        runner.invoke(args=["staff", "set", "nobody@weprode.com", "--language", "fr"]).exit_code
        == 1
    )
    rows = list(db.query("SELECT email, language, time_zone FROM staff ORDER BY email"))
    assert rows == [{"email": "ops@weprode.com", "language": "en", "time_zone": "Asia/Tokyo"}]
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["staff_created", "staff_preferences"]


def test_the_progress_script_gets_its_words_in_the_staff_language(marie, db):
    from weprode.campaigns import compose, freeze
    from weprode.newsletter import subscribers

    with marie.application.app_context():
        subscribers.add_confirmed(db, "zoe@example.org", "t", utcnow(), language="fr")
        version = compose.Version("Bonjour", "", "Corps du message.")
        campaign_id = compose.create(
            db, versions={"fr": version}, audience="all", author=STAFF_EMAIL, now=utcnow()
        )
        freeze.start(db, campaign_id, utcnow())
    progress = marie.get(f"/admin/campaigns/{campaign_id}/progress.json").get_json()
    assert progress["status"] == "sending" and progress["status_label"] == "en cours d’envoi"
    assert progress["progress_label"] == f"Progression{NBSP}: 0{NBSP}%"
    save(marie, language="en", time_zone="UTC")
    english = marie.get(f"/admin/campaigns/{campaign_id}/progress.json").get_json()
    assert english["progress_label"] == "Progress: 0 %" and english["status_label"] == "sending"
