"""Commands staff run (subscribers, imports, campaigns) speak STAFF_LANGUAGE: with the
shipped default, French from the catalogue, figures with a narrow no-break space."""

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
    assert f"lignes lues{NBSP}: 1{NNBSP}202 (1 doublon fusionnés)" in imported.output
    assert f"ajoutés comme abonnés actifs{NBSP}: 1{NNBSP}200" in imported.output
    assert f"seul leur propre abonnement peut les faire revenir{NBSP}: 1" in imported.output
    assert f"ligne 1203{NBSP}: g***@example.org" in imported.output
    listed = run(french_app, "import", "list")
    assert f"1{NNBSP}201/1{NNBSP}201 adresses  1{NNBSP}200 ajoutées  par cli:" in listed.output

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


def test_commands_stay_english_when_the_staff_language_is_english(make_app, tmp_path):
    app = make_app(STAFF_LANGUAGE="en")
    assert run(app, "subscribers", "add", "ada@example.org", "--source", "x").output == (
        "added ada@example.org\n"
    )
