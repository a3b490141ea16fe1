"""French as a native reader checks it: typography, one verb family, one gender
convention, questions that end with a question mark. The compiled catalogue is scanned
(what French visitors get), French pages are rendered and French mails are read off
the SMTP sink, so French text outside the catalogue (the campaign footer) is covered.
"""

import html as html_module
import io
import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from mail_helpers import send_every_kind, strict
from newsletter_helpers import VALID_SIGNUP, html_part, link_path, text_part, unsubscribe_path
from staff_helpers import speak

from weprode.db import utcnow
from weprode.languages import after_colon
from weprode.newsletter import importing

FRENCH_MO = (
    Path(__file__).resolve().parent.parent / "weprode/translations/fr/LC_MESSAGES/messages.mo"
)
NO_BREAK = "\u00a0\u202f"
# What is not prose: markup, placeholders, Jinja syntax shown to staff, links, DNS
# records and shell commands quoted for operators.
NOT_PROSE = re.compile(
    r"<[^>]+>|%\([a-z_]+\)[sd]|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|https?://\S+|mailto:\S+|=\?"
    r"|v=(?:spf1|DKIM1|DMARC1)[^»]*|openssl .*"
)
# The other verb family and the e-mailing anglicism.
WRONG_WORDS = re.compile(r"(?i)inscri|e-mailing")
# Gender: nothing addressed to the reader agrees with them, no "(e)" or "·e".
GENDERED = re.compile(
    r"\(e\)|\(es\)|·e|(?i:vous êtes (?:déjà |de nouveau )?(?:abonné|désabonné|inscrit|désinscrit))"
)
# Digits grouped by thousands with an ordinary or a wide no-break space.
WIDE_THOUSANDS = re.compile(r"\d[ \u00a0]\d{3}(?!\d)")


def french_strings():
    with FRENCH_MO.open("rb") as mo_file:
        catalogue = read_mo(mo_file)
    for message in catalogue:
        if message.id:
            strings = message.string
            yield from strings if isinstance(strings, tuple | list) else [strings]


def prose(text):
    return NOT_PROSE.sub("", text)


def punctuation_without_no_break_space(text):
    """Each `: ; ? !` ending a phrase must follow a (narrow) no-break space."""
    found = []
    for match in re.finditer(r"[:;?!]", text):
        at, following = match.start(), text[match.start() + 1 : match.start() + 2]
        if following and not following.isspace() and following not in ")».":
            continue  # not punctuation of the sentence (10:30, a:b)
        if at == 0 or text[at - 1] not in NO_BREAK:
            found.append(text[max(0, at - 20) : at + 1])
    return found


def french_typography_problems(text):
    """Every way `text` (French prose) breaks the house style."""
    text = prose(text)
    problems = [f"straight apostrophe: {text[:60]}"] if "'" in text else []
    problems += [f"word: {m.group(0)}" for m in WRONG_WORDS.finditer(text)]
    problems += [f"gender: {m.group(0)}" for m in GENDERED.finditer(text)]
    problems += [f"thousands: {m.group(0)}" for m in WIDE_THOUSANDS.finditer(text)]
    problems += [f"no-break space: {p}" for p in punctuation_without_no_break_space(text)]
    return problems


def test_the_checks_catch_each_mistake():
    assert french_typography_problems("Français\u00a0: l’adresse est abonnée\u00a0?") == []
    for wrong in (
        "L'adresse",
        "Se désinscrire",
        "campagnes d’e-mailing",
        "vous êtes abonné(e)",
        "Vous êtes déjà inscrit",
        "au capital de 50 000 EUR",
        "Erreur : rien",
        "Pourquoi ?",
    ):
        assert french_typography_problems(wrong), wrong


def test_the_compiled_french_catalogue_follows_the_house_style():
    problems = [p for text in french_strings() for p in french_typography_problems(text)]
    assert problems == []


def test_one_verb_family_s_abonner_se_desabonner():
    strings = list(french_strings())
    assert any("S’abonner" in s for s in strings) and any("Se désabonner" in s for s in strings)
    assert any("désabonnement" in s for s in strings)


def french_page(client, path):
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}lang=fr")
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def visible_text(html):
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    # Only ASCII white space collapses: \s would take the no-break spaces too.
    text = html_module.unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"[ \t\r\n]+", " ", text)


FRENCH_PAGES = [
    "/",
    "/about",
    "/services",
    "/legal",
    "/privacy",
    "/newsletter",
    "/contact",
    "/contact/thanks",
    "/contact/thanks?kind=meeting",
    "/privacy/request",
    "/privacy/request?kind=erase",
]


@pytest.mark.parametrize("path", FRENCH_PAGES)
def test_french_pages_follow_the_house_style(client, path):
    html = french_page(client, path)
    assert french_typography_problems(visible_text(html)) == []


def test_french_pages_behind_links_follow_the_house_style(app, client, db, mailbox):
    """Confirmation, its answer, the unsubscribe page, its answer, a repeat and undo."""
    client.post("/newsletter?lang=fr", data={**VALID_SIGNUP, "language": "fr"})
    confirm = link_path(mailbox.wait_for(1)[-1], "/newsletter/confirm/")
    pages = {"confirm": client.get(confirm), "confirmed": client.post(confirm)}
    [subscriber_id] = [row["id"] for row in db.query("SELECT id FROM subscribers")]
    unsubscribe = unsubscribe_path(app, subscriber_id) + "?lang=fr"
    pages["unsubscribe"] = client.get(unsubscribe)
    pages["unsubscribed"] = client.post(unsubscribe)
    pages["again"] = client.get(unsubscribe)
    pages["missing"] = client.get("/nowhere?lang=fr")
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        assert '<html lang="fr">' in html, name
        assert french_typography_problems(visible_text(html)) == [], name
    assert re.search(r"L’adresse \S+ est déjà désabonnée\.", pages["again"].get_data(as_text=True))


@pytest.mark.parametrize("path", ["/legal", "/about", "/privacy"])
def test_french_pages_group_thousands_with_a_narrow_no_break_space(client, path):
    html = french_page(client, path).replace("&#8239;", "\u202f")
    assert "50\u202f000 EUR" in html and "908\u202f323\u202f652" in html
    assert "50 000" not in html and "908 323 652" not in html


@pytest.mark.parametrize("language", ["en", "fr"])
def test_about_page_title_and_heading_agree(client, language):
    html = client.get(f"/about?lang={language}").get_data(as_text=True)
    title = re.search(r"<title>(.*?) – Weprode</title>", html).group(1)
    heading = re.search(r"<h1>(.*?)</h1>", html).group(1)
    assert title == heading
    if language == "fr":
        assert heading == "Qui sommes-nous\u00a0?"


def test_about_page_applies_minimisation_to_ourselves_in_french(client):
    html = french_page(client, "/about")
    assert "Nous appliquons aussi à nous-mêmes le principe de minimisation\u00a0:" in html


def test_home_page_questions_end_with_a_question_mark(client):
    html = french_page(client, "/")
    cards = re.findall(r'<article class="card">\s*<h3>(.*?)</h3>\s*<p>(.*?)</p>', html, re.S)
    assert len(cards) == 3
    for heading, paragraph in cards:
        assert heading.endswith("\u00a0?"), heading
        question = re.split(r"(?<=[.?]) ", re.sub(r"[ \t\r\n]+", " ", paragraph.strip()))[0]
        if question.startswith(("Quel", "Qui", "Où", "Comment")):
            assert question.endswith("\u00a0?"), question
    # Two of the card texts are questions, and say so.
    assert html.count("lois\u00a0?") == 1 and html.count("le faisait\u00a0?") == 1


def test_after_erreur_comes_a_small_letter_while_the_page_shows_the_sentence(client):
    response = client.post("/newsletter?lang=fr", data={"email": "nope", "language": "fr"})
    html = response.get_data(as_text=True)
    spoken = re.findall(r'<span class="visually-hidden">Erreur\u00a0: (.*?)</span>', html)
    shown = re.findall(r'<span aria-hidden="true">(.*?)</span>', html)
    assert spoken and len(spoken) == len(shown)
    for said, seen in zip(spoken, shown, strict=True):
        assert said[0].islower() and seen[0].isupper() and said[1:] == seen[1:]


def test_after_colon_keeps_acronyms_and_names():
    assert after_colon("Veuillez saisir") == "veuillez saisir"
    assert after_colon("URL invalide") == "URL invalide"
    assert after_colon("WEPRODE") == "WEPRODE" and after_colon("") == ""


def test_rights_copy_for_an_unknown_address_never_says_we_hold_before_nothing(client, mailbox):
    response = client.post(
        "/privacy/request?lang=fr", data={"email": "personne@example.org", "kind": "access"}
    )
    assert response.status_code == 200
    path = link_path(mailbox.wait_for(1)[-1], "/privacy/request/")
    html = client.get(path).get_data(as_text=True)
    assert "<h1>Copie de vos données</h1>" in html
    assert "Nous ne détenons aucune donnée personnelle" in html
    assert "Nous détenons\u00a0:" not in html


def test_french_mails_follow_the_house_style(app, client, db, mailbox):
    mails = send_every_kind(app, client, db, mailbox, "fr")
    for kind, raw in mails.items():
        if kind.endswith("_notification"):  # staff notifications are in English
            continue
        message = strict(raw)
        text = text_part(message)
        problems = french_typography_problems(text)
        problems += french_typography_problems(visible_text(html_part(message)))
        assert problems == [], kind
    footer = re.split(r"\n-- \r?\n", text_part(strict(mails["campaign"])))[1]
    assert "cette adresse est abonnée à «\u00a0Lettre d’information\u00a0» de Weprode" in footer
    assert "Données personnelles\u00a0: http://localhost/privacy?lang=fr\r\n" in footer


def test_staff_figures_in_french_use_a_narrow_no_break_space(app, db, staff_client):
    rows = "".join(f"p{n}@example.org\n" for n in range(1234))
    with app.app_context():
        report = importing.import_subscribers(
            db,
            io.StringIO("email\n" + rows),
            source="test",
            legal_basis="test",
            mode="confirmed",
            actor="t",
            now=utcnow(),
        )
    assert report.imported
    assert "1,234 active" in staff_client.get("/admin/subscribers").get_data(as_text=True)
    speak(app, "fr")
    french = staff_client.get("/admin/subscribers").get_data(as_text=True)
    assert "1\u202f234 actifs" in french
