"""The staff area speaks STAFF_LANGUAGE (French here), whatever `?lang=` says.

Public pages keep following `?lang=`; numbers use the language's separators (a narrow
no-break space between thousands in French) and dates its words.
"""

import io
from datetime import UTC, datetime, timedelta

import pytest
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in

from weprode.config import ConfigError
from weprode.contact import prospects
from weprode.db import connect, isoformat, utcnow
from weprode.newsletter import subscribers
from weprode.privacy.rights import records
from weprode.staff import accounts

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"  # no-break space: before French : ; ! ?
FRENCH_NAV = ["Tableau de bord", "Abonnés", "Campagnes", "Prospects", "Demandes"]


@pytest.fixture
def french_app(make_app):
    """An app whose staff area is in French."""
    return make_app(STAFF_LANGUAGE="fr")


@pytest.fixture
def french_db(french_app):
    connection = connect(french_app.config["DATABASE"])
    yield connection
    connection.close()


@pytest.fixture
def french_staff(french_app, french_db):
    """A client signed in to the French staff area."""
    with french_app.app_context():
        accounts.create(french_db, STAFF_EMAIL, STAFF_PASSWORD, utcnow())
    client = french_app.test_client()
    assert log_in(client).status_code == 302
    return client


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def add_subscriber(app, db, email, when, language="fr"):
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(db, email, "test", when, language=language)
    return subscriber_id


def add_many_active(db, count, when):
    """`count` active subscribers who signed up at `when` (a thousands separator's worth)."""
    db["subscribers"].insert_all(
        {
            "email": f"bulk{index}@example.org",
            "language": "en",
            "status": "active",
            "source": "test",
            "created_at": isoformat(when),
            "confirmed_at": isoformat(when),
        }
        for index in range(count)
    )


def test_login_page_is_in_the_staff_language_whatever_lang_says(french_app):
    client = french_app.test_client()
    for path in ("/admin/login", "/admin/login?lang=en"):
        html = page(client, path)
        assert '<html lang="fr">' in html
        assert "<h1>Connexion à l’espace équipe</h1>" in html
        assert '<label for="password">Mot de passe<' in html and ">Se connecter</button>" in html
        assert "Staff login" not in html and "Password" not in html
    # The language switch would change nothing in the staff area: it is not shown.
    assert 'class="language-switch"' not in html
    # Public pages still follow ?lang=, English by default.
    public = page(client, "/newsletter")
    assert '<html lang="en">' in public and 'class="language-switch"' in public
    assert '<html lang="fr">' in page(client, "/newsletter?lang=fr")


def test_english_staff_language_ignores_lang_too(app):
    html = page(app.test_client(), "/admin/login?lang=fr")
    assert '<html lang="en">' in html and "<h1>Staff login</h1>" in html
    assert "Connexion" not in html


def test_staff_language_must_be_a_site_language(make_app):
    for wrong in ("de", "FR", "fr_FR", ""):
        with pytest.raises(ConfigError, match="STAFF_LANGUAGE must be one of 'en', 'fr'"):
            make_app(STAFF_LANGUAGE=wrong)


def test_french_login_errors(french_app, french_db):
    with french_app.app_context():
        accounts.create(french_db, STAFF_EMAIL, STAFF_PASSWORD, utcnow())
    client = french_app.test_client()
    wrong = log_in(client, password="not-the-password-at-all")
    assert wrong.status_code == 401
    assert "E-mail, mot de passe ou code incorrect." in wrong.get_data(as_text=True)
    empty = client.post(
        "/admin/login",
        data={"email": "", "password": "", "csrf_token": csrf_token(client, "/admin/login")},
    )
    assert empty.status_code == 400
    assert "Ce champ est requis." in empty.get_data(as_text=True)
    for _ in range(accounts.FREE_ATTEMPTS - 1):
        assert log_in(client, password="not-the-password-at-all").status_code == 401
    throttled = log_in(client)
    assert throttled.status_code == 429
    html = throttled.get_data(as_text=True)
    assert "Trop de tentatives échouées depuis votre réseau." in html
    assert "Veuillez patienter 1 minute, puis réessayer." in html


def test_french_dashboard_with_numbers_and_chart(french_app, french_db, french_staff):
    now = utcnow()
    add_many_active(french_db, 1233, now - timedelta(days=400))
    add_subscriber(french_app, french_db, "recent@example.org", now - timedelta(days=1))
    html = page(french_staff, "/admin/")
    assert '<html lang="fr">' in html
    assert "<h1>Tableau de bord</h1>" in html
    for label in FRENCH_NAV + ["Journal d’audit", "Mon compte", "Se déconnecter"]:
        assert f">{label}<" in html, label
    assert f"<dt>Abonnés actifs</dt><dd>1{NNBSP}234</dd>" in html
    assert "<dt>Nouveaux abonnements, 30 derniers jours</dt><dd>1</dd>" in html
    assert "Abonnements et désabonnements par semaine sur les 12 derniers mois" in html
    assert f"{NBSP}: 1 abonnement</title>" in html  # this week's bar
    assert "Aucune campagne pour l’instant." in html
    assert "Dashboard" not in html and "Active subscribers" not in html


def test_french_subscriber_list_detail_and_rectify_flash(french_app, french_db, french_staff):
    now = utcnow()
    add_many_active(french_db, 1500, now - timedelta(days=3))
    ada = add_subscriber(french_app, french_db, "ada@example.org", now)
    listing = page(french_staff, "/admin/subscribers")
    assert "<h1>Abonnés</h1>" in listing
    assert f"1{NNBSP}501 actifs · 0 en attente · 0 désabonné" in listing
    assert ">Rechercher (début de l’e-mail ou du prénom)</label>" in listing
    assert '<th scope="col">Abonnement</th>' in listing
    assert ">50 suivants</a>" in listing
    assert '<span class="status status-active">actif</span>' in listing

    detail = page(french_staff, f"/admin/subscribers/{ada}")
    assert '<h2 id="consent-title">Preuve du consentement</h2>' in detail
    assert "<dt>Langue</dt><dd>Français</dd>" in detail
    assert ">Désabonner…</a>" in detail and ">Effacer toutes les données…</a>" in detail
    path = f"/admin/subscribers/{ada}"
    response = french_staff.post(
        f"{path}/rectify",
        data={"first_name": "Ada", "language": "en", "csrf_token": csrf_token(french_staff, path)},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<p>Modifications enregistrées.</p>" in html
    assert "<dt>Langue</dt><dd>Anglais</dd>" in html

    confirm = page(french_staff, f"{path}/unsubscribe")
    assert f"<h1>Désabonner ada@example.org{NBSP}?</h1>" in confirm
    assert ">Désabonner</button>" in confirm and ">Annuler</a>" in confirm


def test_french_prospects_list_and_detail(french_db, french_staff):
    when = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    identity = prospects.Identity(
        email="jane@example.org", first_name="Jane", last_name="Doe", company="Lycée du Lac"
    )
    meeting = prospects.Interaction(
        kind="meeting", topic="Exit plan", format="video", time_slots=("Mon am",)
    )
    prospect_id, _ = prospects.record_request(french_db, identity, meeting, when)
    listing = page(french_staff, "/admin/prospects")
    assert "<h1>Prospects</h1>" in listing
    assert "1 nouveau · 0 en cours · 0 répondu · 0 clos" in listing
    assert "Aucun prospect ne correspond." not in listing
    detail = page(french_staff, f"/admin/prospects/{prospect_id}")
    assert "Demande de rendez-vous — 5 janv. 2026, 10:00:00" in detail
    assert "<dt>Format</dt><dd>Visioconférence</dd>" in detail
    assert '<h2 id="notes-title">Notes internes</h2>' in detail
    path = f"/admin/prospects/{prospect_id}"
    response = french_staff.post(
        f"{path}/status",
        data={"status": "in_progress", "csrf_token": csrf_token(french_staff, path)},
        follow_redirects=True,
    )
    assert f"<p>Statut passé à «{NBSP}En cours{NBSP}».</p>" in response.get_data(as_text=True)


def test_french_rights_requests_and_audit_log(french_db, french_staff):
    now = utcnow()
    records.create(french_db, "late@example.org", "erase", now - timedelta(days=40), verified=True)
    html = page(french_staff, "/admin/requests")
    assert "<h1>Demandes d’exercice des droits</h1>" in html
    assert f"En retard{NBSP}:" in html
    assert "<td>Effacement</td>" in html and "<td>site web</td>" in html
    assert ">Vérifiée</span>" in html

    audit = page(french_staff, "/admin/audit")
    assert "<h1>Journal d’audit</h1>" in audit
    assert "<caption>Actions de l’équipe, les plus récentes en premier</caption>" in audit
    month = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
             "nov.", "déc."][now.month - 1]  # fmt: skip
    assert f"<td>{now.day} {month} {now.year}, " in audit  # the login, in French words
    assert "<td>connexion</td>" in audit


def test_french_error_messages_inside_the_staff_area(french_staff):
    missing = french_staff.get("/admin/subscribers/999999")
    html = missing.get_data(as_text=True)
    assert missing.status_code == 404
    assert '<html lang="fr">' in html and "Page introuvable" in html
    assert f"Aucun abonné ne porte ce numéro (effacé ou purgé{NBSP}?)." in html

    bad = french_staff.get("/admin/subscribers?status=bogus")
    assert bad.status_code == 400
    assert "Statut inconnu." in bad.get_data(as_text=True)

    # A form without its CSRF token: the reason goes to the log, the page says what to do.
    stale = french_staff.post("/admin/subscribers/1/rectify", data={"first_name": "X"})
    assert stale.status_code == 400
    html = stale.get_data(as_text=True)
    assert "Le formulaire avait expiré ou ne provenait pas de ce site (contrôle CSRF)." in html
    assert "The CSRF token is missing." not in html

    # A path under /admin that matches no route is still a staff page.
    nowhere = french_staff.get("/admin/no-such-page")
    assert nowhere.status_code == 404
    assert '<html lang="fr">' in nowhere.get_data(as_text=True)


def test_french_import_pages(french_db, french_staff):
    form = page(french_staff, "/admin/subscribers/import")
    assert "<h1>Importer des abonnés depuis un fichier CSV</h1>" in form
    assert f"D’où vient cette liste{NBSP}?" in form and ">Vérifier et importer</button>" in form
    rows = "".join(f"p{n}@example.org\n" for n in range(1001))
    response = french_staff.post(
        "/admin/subscribers/import",
        data={
            "file": (io.BytesIO(("email\n" + rows).encode()), "liste.csv"),
            "source": "Salon 2026",
            "legal_basis": "formulaires signés",
            "mode": "confirmed",
            "topic": "1",
            "csrf_token": csrf_token(french_staff, "/admin/subscribers/import"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert f"1{NNBSP}001 lignes{NBSP}: 1{NNBSP}001 ajoutées" in html
    listing = page(french_staff, "/admin/subscribers/imports")
    assert "<h1>Imports</h1>" in listing and "terminé" in listing and "confirmées" in listing
    assert f"1{NNBSP}001 adresses" in listing
