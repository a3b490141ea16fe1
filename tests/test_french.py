"""The site in French: pages, links that keep the language, mails, form errors, the catalogue."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import url_for
from flask_babel import force_locale
from newsletter_helpers import VALID_SIGNUP, html_part, link_path, text_part

from weprode.site.views import PUBLIC_PAGES
from weprode.urls import absolute_url

TRANSLATIONS = Path(__file__).resolve().parent.parent / "weprode" / "translations"
FRENCH_PO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
FRENCH_MO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.mo"
PAGES = ["/", "/services", "/about", "/legal", "/privacy", "/newsletter", "/contact"]


def french(client, path, **kwargs):
    """GET `path` in French."""
    separator = "&" if "?" in path else "?"
    return client.get(f"{path}{separator}lang=fr", **kwargs)


def local_links(html):
    """Every href on the page that points to this site (not mailto:, tel: or fragments)."""
    return [h for h in re.findall(r'href="([^"]*)"', html) if h.startswith("/")]


def test_legal_page_is_in_french(client):
    html = french(client, "/legal").get_data(as_text=True)

    assert '<html lang="fr">' in html
    assert "<h1>Mentions légales</h1>" in html
    assert "immatriculée au Registre du commerce et des sociétés (RCS) de Chambéry" in html
    assert "908\u202f323\u202f652" in html
    assert "Legal notice" not in html


def test_privacy_retention_table_is_in_french(client):
    html = french(client, "/privacy").get_data(as_text=True)
    table = html[html.index("<table") : html.index("</table>")]

    assert "Durées de conservation par catégorie de données" in table
    for header in ("Données", "Durée de conservation", "À compter de", "Ensuite"):
        assert f'<th scope="col">{header}</th>' in table
    assert "Données nécessaires à la gestion d’un contrat" in table
    assert "10 ans, ou jusqu’à l’issue d’un éventuel contentieux en cours" in table
    assert "la date de votre désabonnement" in table
    assert "Kept for" not in table


def test_english_stays_the_default(client):
    html = client.get("/legal").get_data(as_text=True)
    assert '<html lang="en">' in html and "<h1>Legal notice</h1>" in html
    switch = '<a href="/legal?lang=fr" lang="fr"'
    assert [h for h in local_links(html) if "lang=" in h] == ["/legal?lang=fr"]
    assert switch in html
    assert french(client, "/legal").get_data(as_text=True) != html  # cached per language


@pytest.mark.parametrize("path", PAGES)
def test_links_on_a_french_page_keep_the_language(client, path):
    html = french(client, path).get_data(as_text=True)
    links = [h for h in local_links(html) if not h.startswith(("/static/", "/favicon.ico"))]
    english_switch = re.search(r'<a href="([^"]*)" lang="en"', html).group(1)

    assert links
    stray = [h for h in links if "lang=fr" not in h and h != english_switch]
    assert not stray, f"links that drop the language on {path}: {stray}"
    assert re.search(r'<form[^>]+action="[^"]*lang=fr', html) or "<form" not in html


def test_static_files_and_staff_urls_never_carry_the_language(app):
    with app.test_request_context("/?lang=fr"):
        assert url_for("site.about") == "/about?lang=fr"
        css = url_for("static", filename="css/site.css")
        assert css.startswith("/static/css/site.css?v=") and "lang" not in css
        assert "lang" not in url_for("admin.login")
        assert url_for("site.about", lang=None) == "/about"


def test_mail_links_follow_the_mail_language_outside_requests(app):
    with app.app_context():
        assert absolute_url("site.privacy") == "http://localhost/privacy"
        with force_locale("fr"):
            assert absolute_url("site.privacy") == "http://localhost/privacy?lang=fr"


def test_language_switch_links_to_the_same_page_in_each_language(client):
    html = french(client, "/privacy").get_data(as_text=True)

    assert '<a href="/privacy" lang="en" hreflang="en">English</a>' in html
    assert (
        '<a href="/privacy?lang=fr" lang="fr" hreflang="fr" aria-current="true">Français</a>'
        in (html)
    )
    english = client.get("/privacy").get_data(as_text=True)
    assert '<a href="/privacy" lang="en" hreflang="en" aria-current="true">English</a>' in english
    assert '<a href="/privacy?lang=fr" lang="fr" hreflang="fr">Français</a>' in english


def test_language_switch_keeps_the_query_arguments_the_page_reads(client):
    html = client.get("/contact/thanks?kind=meeting").get_data(as_text=True)
    assert 'href="/contact/thanks?kind=meeting&amp;lang=fr" lang="fr"' in html


def test_french_page_declares_its_canonical_url_and_alternates(client):
    html = french(client, "/about").get_data(as_text=True)

    assert '<link rel="canonical" href="http://localhost/about?lang=fr">' in html
    assert '<meta property="og:url" content="http://localhost/about?lang=fr">' in html
    assert '<meta property="og:locale" content="fr_FR">' in html
    assert '<link rel="alternate" hreflang="en" href="http://localhost/about">' in html
    assert '<link rel="alternate" hreflang="fr" href="http://localhost/about?lang=fr">' in html
    assert '<link rel="alternate" hreflang="x-default" href="http://localhost/about">' in html


def test_unknown_language_falls_back_to_english(client):
    html = client.get("/about?lang=de").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert '<link rel="canonical" href="http://localhost/about">' in html


def test_sitemap_lists_every_page_in_both_languages(client):
    xml = client.get("/sitemap.xml?lang=fr").get_data(as_text=True)
    for path in PAGES:
        assert f"<loc>http://localhost{path}</loc>" in xml
        assert f"<loc>http://localhost{path}?lang=fr</loc>" in xml
    assert xml.count("<url>") == 2 * len(PUBLIC_PAGES)
    assert 'hreflang="x-default" href="http://localhost/"' in xml


@pytest.mark.parametrize("path", [*PAGES, "/privacy/request", "/no-such-page"])
def test_french_pages_set_no_cookie(client, path):
    response = french(client, path)
    assert response.status_code in (200, 404)
    assert "Set-Cookie" not in response.headers
    assert '<html lang="fr">' in response.get_data(as_text=True)


def test_french_error_page(client):
    response = french(client, "/no-such-page")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_newsletter_form_defaults_to_the_page_language(client):
    html = french(client, "/newsletter").get_data(as_text=True)
    assert re.search(r'<input type="radio" name="language" value="fr" checked>', html)
    assert "Langue de la lettre d’information" in html


def test_french_subscriber_gets_a_french_confirmation_mail(client, mailbox):
    data = {**VALID_SIGNUP, "language": "fr", "first_name": "Jeanne"}
    response = client.post("/newsletter?lang=fr", data=data)
    assert response.status_code in (200, 302, 303)
    assert "Set-Cookie" not in response.headers

    [message] = mailbox.wait_for(1)
    assert message["Subject"] == "Confirmez votre abonnement à la lettre d’information de Weprode"
    text, html = text_part(message), html_part(message)
    # Greeted without the name typed into the form: the address is not proven yet.
    assert text.startswith("Bonjour,") and "Bonjour," in html and "Jeanne" not in text
    assert "sans doute vous, a demandé à recevoir la lettre d’information" in text
    assert "Confirmer mon abonnement" in html
    confirm = link_path(message, "/newsletter/confirm/")
    assert confirm.endswith("?lang=fr")
    page = client.get(confirm).get_data(as_text=True)
    assert '<html lang="fr">' in page and "Confirmez votre abonnement" in page


def test_english_subscriber_on_a_french_page_gets_an_english_mail(client, mailbox):
    client.post("/newsletter?lang=fr", data={**VALID_SIGNUP, "language": "en"})
    [message] = mailbox.wait_for(1)
    assert message["Subject"] == "Please confirm your subscription to the Weprode newsletter"
    assert "lang=fr" not in link_path(message, "/newsletter/confirm/")


def test_newsletter_validation_errors_are_in_french(client, mailbox):
    response = client.post(
        "/newsletter?lang=fr", data={"email": "x" * 250 + "@example.org", "language": "de"}
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 400
    assert '<html lang="fr">' in html
    assert "Veuillez corriger les champs signalés ci-dessous." in html
    # WTForms' own messages, translated by Flask-WTF (WTF_I18N_ENABLED).
    assert "Le champ ne peut pas contenir plus de 254 caractères." in html
    assert "N&#39;est pas un choix valide." in html or "N'est pas un choix valide." in html
    assert "Veuillez cocher au moins un thème." in html
    assert "Please" not in html
    assert mailbox.messages == []


def test_contact_validation_errors_are_in_french(client, mailbox):
    response = client.post("/contact?lang=fr", data={"contact-email": "not an address"})
    html = response.get_data(as_text=True)

    assert response.status_code == 400
    for message in (
        "Veuillez saisir votre nom.",
        "Veuillez saisir votre prénom.",
        "Veuillez saisir votre organisme.",
        "Veuillez saisir une adresse e-mail valide.",
        "Veuillez saisir votre message.",
    ):
        assert message in html
    assert mailbox.messages == []


def test_rights_request_validation_errors_are_in_french(client):
    response = client.post("/privacy/request?lang=fr", data={"email": ""})
    html = response.get_data(as_text=True)
    assert "Veuillez saisir votre adresse e-mail." in html
    assert "Veuillez choisir ce que vous souhaitez que nous fassions." in html


def test_french_catalogue_is_complete_and_compiled():
    with FRENCH_PO.open("rb") as po_file:
        catalog = read_po(po_file)
    messages = [m for m in catalog if m.id]
    assert len(messages) > 400

    fuzzy = [m.id for m in messages if m.fuzzy]
    untranslated = [
        m.id for m in messages if not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not untranslated, f"untranslated entries: {untranslated}"
    with FRENCH_MO.open("rb") as mo_file:
        compiled = read_mo(mo_file)

    def strings(message):
        value = message.string
        return tuple(value) if isinstance(value, list | tuple) else (value,)

    def compiled_strings(message):
        # msgctxt entries (pgettext) are keyed by their context as well as their id.
        found = compiled.get(message.id, context=message.context)
        return strings(found) if found else None

    stale = [m.id for m in messages if compiled_strings(m) != strings(m)]
    assert not stale, "the .mo is older than the .po: run `make translations`"


def test_french_catalogue_covers_every_string_in_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    root = TRANSLATIONS.parent.parent
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as pot_file:
        extracted = {m.id for m in read_po(pot_file) if m.id}
    with FRENCH_PO.open("rb") as po_file:
        translated = {m.id for m in read_po(po_file) if m.id}
    missing = extracted - translated
    assert not missing, f"strings without a French translation (`make translations`): {missing}"
