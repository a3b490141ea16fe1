"""Commands staff run (subscribers, imports, campaigns) speak STAFF_LANGUAGE: with the
shipped default, French from the catalogue, figures with a narrow no-break space."""

import re

import pytest

from weprode.config import DEFAULTS
from weprode.db import connect, utcnow
from weprode.newsletter import subscribers

NBSP = "\u00a0"
NNBSP = "\u202f"
SOURCE = ["--source", "Salon 2026", "--legal-basis", "formulaires signés"]


@pytest.fixture
def french_app(make_app):
    return make_app(STAFF_LANGUAGE=DEFAULTS["STAFF_LANGUAGE"])


@pytest.fixture
def french_db(french_app):
    connection = connect(french_app.config["DATABASE"])
    yield connection
    connection.close()


def run(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def test_subscriber_commands_in_french(french_app, french_db, tmp_path):
    added = run(french_app, "subscribers", "add", "ada@example.org", "--source", "salon")
    assert added.exit_code == 0 and added.output == "ada@example.org ajouté\n"
    again = run(french_app, "subscribers", "add", "ada@example.org", "--source", "salon")
    assert again.output == "ada@example.org est déjà abonné\n"
    with french_app.app_context():
        subscribers.suppress(french_db, "gone@example.org", "unsubscribe", utcnow())
    rows = "".join(f"p{n}@example.org\n" for n in range(1200))
    path = tmp_path / "liste.csv"
    path.write_text("email\n" + rows + "p1@example.org\ngone@example.org\n", encoding="utf-8")
    imported = run(french_app, "subscribers", "import", str(path), *SOURCE, "--confirmed")
    assert imported.exit_code == 0, imported.output
    assert f"lignes lues{NBSP}: 1{NNBSP}202 (1 doublon fusionné)" in imported.output
    assert f"ajoutés comme abonnés actifs{NBSP}: 1{NNBSP}200" in imported.output
    assert f"seul leur propre abonnement peut les faire revenir{NBSP}: 1" in imported.output
    assert f"ligne 1203{NBSP}: g***@example.org" in imported.output
    listed = run(french_app, "import", "list")
    assert f"1{NNBSP}201/1{NNBSP}201 adresses  1{NNBSP}200 ajoutées  par cli:" in listed.output
    # Started when, as staff read dates (Europe/Paris), not a UTC ISO string.
    assert re.match(
        rf"1  terminé  \d{{1,2}} \w+\.? 20\d\d, \d\d:\d\d:\d\d  1{NNBSP}201/", listed.output
    ), listed.output

    bad = tmp_path / "bad.csv"
    bad.write_text("email\n" + "".join(f"bad{n}\n" for n in range(60)), encoding="utf-8")
    refused = run(french_app, "subscribers", "import", str(bad), *SOURCE, "--confirmed")
    assert refused.exit_code == 1
    assert f"Rien n’a été importé{NBSP}: 60 lignes invalides." in refused.output
    assert f"ligne 2{NBSP}: " in refused.output and "… et 10 de plus" in refused.output
    mode = run(french_app, "subscribers", "import", str(bad), *SOURCE)
    assert mode.exit_code == 2 and "Indiquez le mode" in mode.output


def test_campaign_commands_in_french(french_app, french_db, tmp_path, mailbox):
    with french_app.app_context():
        subscribers.add_confirmed(french_db, "zoe@example.org", "t", utcnow(), language="fr")
        subscribers.add_confirmed(french_db, "sam@example.org", "t", utcnow(), language="en")
    body = tmp_path / "corps.md"
    body.write_text("Bonjour à vous.", encoding="utf-8")
    created = run(
        french_app, "campaigns", "create", "--fr-subject", "Nouvelles", "--fr-body-file",
        str(body), "--audience", "all",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    campaign_id = created.stdout.strip()
    assert "le thème principal" in created.stderr
    sent = run(french_app, "campaigns", "send", campaign_id)
    assert sent.exit_code == 0, sent.output
    assert (
        f"destinataires all{NBSP}: 2 reçoivent la version française (1 dans leur langue, "
        "1 faute de version dans la leur)"
    ) in sent.output
    assert f"sent{NBSP}: 2 envoyés, 0 en échec, 0 ignorés, 0 restants" in sent.output
    assert len(mailbox.wait_for(2)) == 2
    listed = run(french_app, "campaigns", "list")
    assert "2 destinataires, 2 envoyés, 0 en échec, 0 désabonnés\tNouvelles" in listed.output


def test_topic_commands_in_french(french_app):
    created = run(
        french_app, "topics", "create", "--slug", "veille", "--name-en", "Regulatory watch",
        "--name-fr", "Veille réglementaire", "--internal",
    )  # fmt: skip
    assert created.output == "thème 2 créé (veille)\n"
    assert run(french_app, "topics", "list").output == (
        "1  newsletter  public  0 lecteur  Lettre d’information  principal\n"
        "2  veille  interne  0 lecteur  Veille réglementaire\n"
    )
    updated = run(french_app, "topics", "update", "veille", "--public")
    assert updated.output == "thème 2 modifié (veille)\n"
    missing = run(french_app, "topics", "update", "rien")
    assert missing.exit_code == 1
    assert missing.output == f"Erreur{NBSP}: aucun thème appelé 'rien'\n"
    unknown = run(french_app, "campaigns", "create", "--audience", "all", "--topic", "rien")
    assert unknown.exit_code == 1
    assert unknown.output == (
        f"Erreur{NBSP}: Aucun thème 'rien'{NBSP}; thèmes{NBSP}: newsletter, veille.\n"
    )


def test_staff_command_groups_help_in_french(french_app):
    """--help of subscribers, import, campaigns and topics: headings, summaries, options
    and click's notes ([obligatoire], [par défaut : ...]) in the staff language."""
    assert run(french_app, "topics", "--help").output == (
        f"Utilisation{NBSP}: weprode topics [OPTIONS] COMMAND [ARGS]...\n\n"
        "  Gérer les thèmes auxquels on s’abonne.\n\n"
        f"Options{NBSP}:\n"
        "  --help  Afficher ce message et quitter.\n\n"
        f"Commandes{NBSP}:\n"
        "  create  Ajouter un thème en fin de liste.\n"
        # (click shortens a command's line for the list by splitting it at every space)
        "  list    Tous les thèmes dans l’ordre : numéro, nom court, visibilité,...\n"
        "  update  Modifier le thème appelé aujourd’hui SLUG_NOW ; ce que les...\n"
    )
    assert run(french_app, "subscribers", "import", "--help").output == (
        f"Utilisation{NBSP}: weprode subscribers import [OPTIONS] FILE\n\n"
        "  Importer des abonnés depuis un fichier CSV aux colonnes email, first_name,\n"
        "  language.\n\n"
        f"  Chaque ligne est d’abord vérifiée{NBSP}: si l’une est invalide, rien n’est importé\n"
        "  (code de sortie 1). Les adresses désabonnées ou effacées sont refusées et\n"
        f"  listées. Chacun rejoint --topic (sinon le thème principal){NBSP}; les personnes\n"
        "  déjà abonnées gardent leurs autres thèmes.\n\n"
        f"Options{NBSP}:\n"
        "  --source TEXT       D’où vient la liste.  [obligatoire]\n"
        "  --legal-basis TEXT  Pourquoi nous pouvons écrire à ces personnes, par ex.\n"
        f"                      «{NBSP}consentement recueilli au salon 2026{NBSP}».  "
        "[obligatoire]\n"
        "  --confirmed         Les ajouter comme abonnés actifs sous notre\n"
        "                      responsabilité.\n"
        "  --double-opt-in     Les enregistrer en attente et envoyer à chacun un e-mail\n"
        "                      de confirmation.\n"
        "  --topic SLUG        Le thème qu’ils rejoignent, public ou interne (par défaut\n"
        "                      le thème principal, indiqué dans la sortie).\n"
        "  --help              Afficher ce message et quitter.\n"
    )
    campaigns = run(french_app, "campaigns", "create", "--help").output
    assert "  --fr-subject TEXT        Objet de la version française.\n" in campaigns
    assert (
        f"  --audience [all|fr|en]   Destinataires{NBSP}: all = Tous les abonnés actifs, fr =\n"
        "                           Abonnés francophones, en = Abonnés anglophones.\n"
        "                           [obligatoire]\n"
    ) in campaigns
    worker = run(french_app, "campaigns", "worker", "--help").output
    assert (
        "  --poll-seconds FLOAT  Secondes entre deux recherches de travail quand il n’y\n"
        f"                        en a pas.  [par défaut{NBSP}: 5.0]\n"
    ) in worker
    imports = run(french_app, "import", "--help").output
    assert "  list      Les derniers imports : numéro, état, avancement, chiffres, thème.\n" in (
        imports
    )


def test_commands_stay_english_when_the_staff_language_is_english(make_app, tmp_path):
    app = make_app(STAFF_LANGUAGE="en")
    assert run(app, "subscribers", "add", "ada@example.org", "--source", "x").output == (
        "added ada@example.org\n"
    )
    assert run(app, "topics", "list").output == (
        "1  newsletter  public  1 reader  Newsletter  main\n"
    )
    imported = run(app, "subscribers", "import", "--help").output
    assert "  --source TEXT       Where the list came from.  [required]\n" in imported
    worker = run(app, "campaigns", "worker", "--help").output
    assert "when there is none.\n                        [default: 5.0]\n" in worker
