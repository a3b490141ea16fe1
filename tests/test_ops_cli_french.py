"""Operators' commands speak STAFF_LANGUAGE (French by default): staff accounts, backups,
the doctor, the retention purge and rights requests, the outbox, bounces, preflight and
migrate. What they print, their errors, their prompts and their --help; figures with a
narrow no-break space, a no-break space before the colon. Exit codes stay."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_mail import Message

from weprode.config import DEFAULTS
from weprode.db import connect, isoformat, utcnow
from weprode.mail import outbox

NBSP = "\u00a0"
NNBSP = "\u202f"
PASSWORD = "correct horse battery staple 42"
FIT = {
    "PUBLIC_URL": "https://www.weprode.com",
    "COMPANY_PHONE": "+33 4 79 00 00 00",
    "COMPANY_VAT_NUMBER": "FR00908323652",
    "HEALTH_REQUIRE_WORKER": False,
}


@pytest.fixture
def french_app(make_app):
    """The shipped STAFF_LANGUAGE (the tests' base config says en)."""
    return make_app(STAFF_LANGUAGE=DEFAULTS["STAFF_LANGUAGE"])


def run(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def test_staff_commands_in_french(french_app):
    created = run(french_app, "staff", "create", "ops@weprode.com", input=f"{PASSWORD}\n" * 2)
    assert created.exit_code == 0, created.output
    assert created.output == (
        f"Mot de passe{NBSP}: \nRetapez-le pour confirmer{NBSP}: \nops@weprode.com créé\n"
    )
    mismatch = run(
        french_app, "staff", "create", "b@weprode.com",
        input=f"{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert mismatch.exit_code == 0, mismatch.output
    assert f"Les deux saisies diffèrent{NBSP}; tapez à nouveau le mot de passe." in (
        mismatch.output
    )
    assert run(french_app, "staff", "list").output == (
        "b@weprode.com\tactif\tsans-totp\tfr\tEurope/Paris\tdernière connexion\u00a0: jamais\n"
        "ops@weprode.com\tactif\tsans-totp\tfr\tEurope/Paris\tdernière connexion\u00a0: jamais\n"
    )
    changed = run(french_app, "staff", "set", "ops@weprode.com", "--language", "en")
    assert changed.output == f"ops@weprode.com{NBSP}: réglé sur en, Europe/Paris\n"
    usage = run(french_app, "staff", "set", "ops@weprode.com")
    assert usage.exit_code == 2
    assert usage.output == f"Erreur{NBSP}: Indiquez --language, --time-zone ou les deux.\n"
    unknown = run(french_app, "staff", "disable", "nobody@weprode.com")
    assert unknown.exit_code == 1
    assert unknown.output == f"Erreur{NBSP}: Aucun compte d’équipe pour nobody@weprode.com.\n"
    twice = run(french_app, "staff", "create", "ops@weprode.com", "--password-stdin", input="x\n")
    assert twice.output == f"Erreur{NBSP}: ops@weprode.com a déjà un compte.\n"
    assert run(french_app, "staff", "disable", "ops@weprode.com").output == (
        "ops@weprode.com désactivé\n"
    )
    assert run(french_app, "staff", "enable", "ops@weprode.com").output == (
        "ops@weprode.com réactivé\n"
    )
    assert run(french_app, "staff", "enable", "ops@weprode.com").output == (
        f"ops@weprode.com est déjà actif{NBSP}; rien n’a changé\n"
    )
    assert run(french_app, "staff", "reset-totp", "ops@weprode.com").output == (
        f"ops@weprode.com n’a pas de second facteur{NBSP}; rien n’a changé\n"
    )
    reset = run(
        french_app, "staff", "reset-password", "ops@weprode.com", "--password-stdin",
        input=PASSWORD + "!\n",
    )  # fmt: skip
    assert reset.output == "mot de passe changé pour ops@weprode.com\n"


def test_help_follows_the_staff_language(french_app, make_app):
    group = run(french_app, "staff", "--help")
    # (click shortens a command's line for the list by splitting it at every space)
    assert group.exit_code == 0
    assert group.output.startswith(
        f"Utilisation{NBSP}: weprode staff [OPTIONS] COMMAND [ARGS]...\n\n"
        "  Gérer les comptes de l’équipe.\n\n"
        f"Options{NBSP}:\n"
        "  --help  Afficher ce message et quitter.\n\n"
        f"Commandes{NBSP}:\n"
        "  create          Créer un compte d’équipe (mot de passe : 12 caractères ou...\n"
        "  disable         Désactiver un compte et fermer ses sessions.\n"
    )
    command = run(french_app, "retention", "purge", "--help").output
    assert "  --dry-run       Seulement compter ce qui est à supprimer.\n" in command
    assert "  --now ISO-DATE  Faire comme si l’on était à cette date (UTC), par ex.\n" in command
    listing = run(french_app, "--help").output
    assert "  backup          Sauvegarder la base de données (à chaud), lister les..." in listing
    english = run(make_app(STAFF_LANGUAGE="en"), "staff", "--help").output
    assert english.startswith("Usage: weprode staff [OPTIONS] COMMAND [ARGS]...\n\n")
    assert "  Manage staff accounts.\n\nOptions:\n  --help  Show this message" in english


def test_backup_commands_in_french(french_app, tmp_path):
    created = run(french_app, "backup", "create", "--output", str(tmp_path / "sauvegardes"))
    assert created.exit_code == 0, created.output
    made, keys = created.output.splitlines()
    path = re.fullmatch(rf"(\S+\.sqlite3) \(\d+,\d{NBSP}ko, intégrité vérifiée\)", made)[1]
    assert keys == (
        f"{path.removesuffix('.sqlite3')}.keys.json (les clés avec lesquelles elle a été "
        f"signée{NBSP}; mode 0600)"
    )
    listed = run(french_app, "backup", "list", "--folder", str(tmp_path / "sauvegardes"))
    assert re.fullmatch(rf"\S+ \S+ UTC +\d+,\d{NBSP}ko  {re.escape(path)}\n", listed.output)
    assert run(french_app, "backup", "list", "--folder", str(tmp_path)).output == (
        "aucune sauvegarde\n"
    )
    refused = run(french_app, "backup", "restore", path, input="n\n")
    assert refused.exit_code == 1
    assert refused.output.endswith(
        f"(le fichier actuel est gardé à côté) [o/N]{NBSP}: n\nErreur{NBSP}: Rien n’a changé.\n"
    )
    restored = run(french_app, "backup", "restore", path, input="oui\n")
    assert restored.exit_code == 0, restored.output
    lines = restored.output.splitlines()
    assert lines[1].startswith(f"{path.rsplit('/', 1)[1]} restaurée{NBSP}; la base remplacée")
    assert lines[2] == (
        f"0 exclusion enregistrée depuis la sauvegarde reportée{NBSP}: 0 de nouveau "
        "désabonnés, 0 de nouveau effacés"
    )
    not_one = run(french_app, "backup", "restore", str(tmp_path / "notes.sqlite3"), "--yes")
    assert not_one.exit_code == 1
    assert not_one.output == (
        f"Erreur{NBSP}: {tmp_path / 'notes.sqlite3'} n’est pas une sauvegarde "
        "(weprode-<heure>.sqlite3).\n"
    )


def test_doctor_in_french(make_app, mailbox):
    app = make_app(
        STAFF_LANGUAGE="fr", **{**FIT, "COMPANY_PHONE": "", "HEALTH_REQUIRE_WORKER": True}
    )
    app.extensions["weprode.doctor_txt_lookup"] = lambda name: None
    result = run(app, "doctor")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Vérification de la configuration au regard de ce qu’exige la production{NBSP}:",
        f"OK     clé secrète{NBSP}: solide (0 clé de secours)",
        f"OK     PUBLIC_URL{NBSP}: https://www.weprode.com",
        f"OK     relais de courrier{NBSP}: 127.0.0.1:{mailbox.port} répond (SMTP en clair)",
        f"ALERTE DKIM{NBSP}: non configuré{NBSP}: les campagnes partent sans signature, ce "
        "qui inspire moins confiance aux messageries. Voir DKIM_PRIVATE_KEY_FILE, "
        "DKIM_SELECTOR, DKIM_DOMAIN dans le README.",
        f"ÉCHEC  informations sur la société{NBSP}: les mentions légales doivent donner le "
        "numéro de téléphone de l’éditeur (LCEN art. 6 III). Demandez-les à la société, "
        f'puis renseignez-les dans instance/config.py{NBSP}: COMPANY_PHONE = "+33 4 .. .. .. .."',
        f"ALERTE santé{NBSP}: /healthz échoue{NBSP}: aucun worker de campagnes n’a jamais tourné",
        "1 problème à corriger.",
    ]
    # /healthz itself answers in English whatever ?lang= says: monitors match its words.
    answer = app.test_client().get("/healthz?lang=fr").get_json()
    assert answer["reasons"] == ["no campaign worker has ever run"]


def test_retention_purge_names_each_rule_in_french(french_app):
    db = connect(french_app.config["DATABASE"])
    old = isoformat(utcnow() - timedelta(days=400))
    db["login_failures"].insert_all(
        {"login": f"x{n}@example.org", "ip": "192.0.2.1", "at": old} for n in range(1500)
    )
    db.conn.commit()
    result = run(french_app, "retention", "purge", "--dry-run")
    assert result.exit_code == 0, result.output
    usage = (
        "Données de connexion et d’utilisation du site (journaux d’accès, connexions et "
        f"actions du personnel){NBSP}: 1{NNBSP}500 éléments à supprimer "
        f"(1{NNBSP}500 échecs de connexion)"
    )
    assert usage in result.output.splitlines()
    assert f"Abonnements à la lettre d’information jamais confirmés{NBSP}: 0 élément à " in (
        result.output
    )
    purged = run(french_app, "retention", "purge")
    assert usage.replace("éléments à supprimer", "éléments supprimés") in purged.output
    assert db["login_failures"].count == 0
    db.close()
    bad = run(french_app, "retention", "purge", "--now", "mardi prochain")
    assert bad.exit_code == 2
    assert bad.output == f"Erreur{NBSP}: --now{NBSP}: pas une date ISO{NBSP}: mardi prochain\n"


def test_rights_commands_in_french(french_app):
    db = connect(french_app.config["DATABASE"])
    db["subscribers"].insert(
        {"email": "jane@example.org", "status": "active", "source": "t", "created_at": "2026"}
    )
    db.conn.commit()
    db.close()
    first = run(french_app, "privacy", "export", "jane@example.org")
    assert first.exit_code == 0 and first.stdout.startswith("{")
    second = run(french_app, "privacy", "export", "jane@example.org")
    assert second.stderr == (
        f"remarque{NBSP}: copie n° 2 pour cette adresse{NBSP}; à partir de la deuxième "
        "copie, des frais peuvent s’appliquer\n"
    )
    unconfirmed = run(french_app, "privacy", "erase", "jane@example.org")
    assert unconfirmed.exit_code == 2
    assert unconfirmed.output == (
        f"Erreur{NBSP}: L’effacement est irréversible{NBSP}; ajoutez --yes pour confirmer.\n"
    )
    erased = run(french_app, "privacy", "erase", "jane@example.org", "--yes")
    assert re.fullmatch(
        f"jane@example.org effacé \\(demande \\d+{NBSP}; supprimé{NBSP}: 1 fiche d’abonné"
        f"(, .*)?\\)\n",
        erased.output,
    ), erased.output
    assert run(french_app, "privacy", "erase", "pas-une-adresse", "--yes").output == (
        f"Erreur{NBSP}: pas-une-adresse n’est pas une adresse e-mail valide.\n"
    )


def test_outbox_bounces_preflight_and_migrate_in_french(french_app):
    assert run(french_app, "outbox", "list").output == (
        f"La file d’envoi est vide{NBSP}: aucun message n’est en attente ni mis de côté.\n"
    )
    assert run(french_app, "outbox", "retry").output == (
        f"envoyés{NBSP}: 0, encore en attente{NBSP}: 0\n"
    )
    fetched = run(french_app, "bounces", "fetch")
    assert fetched.exit_code == 75
    assert fetched.output == f"boîte des retours{NBSP}: BOUNCE_IMAP_HOST n’est pas renseigné\n"
    # No DNS here: only the check that asks none is looked at.
    french_app.config["DNS_NAMESERVERS"] = ["127.0.0.1:9"]
    checked = run(french_app, "deliverability", "preflight")
    assert checked.exit_code == 1
    assert f"ÉCHEC     BOUNCE_ADDRESS{NBSP}: BOUNCE_ADDRESS n’est pas renseignée{NBSP}: " in (
        checked.output
    )
    assert run(french_app, "migrate").output == "la base de données est à jour\n"


def test_outbox_and_staff_lists_in_words_and_paris_time(french_app, make_app):
    """Kinds of mail in words, dates in the staff language's medium format in
    Europe/Paris (UTC+1 in January, UTC+2 in July), not codes and UTC ISO strings."""
    db = connect(french_app.config["DATABASE"])
    winter = datetime(2026, 1, 5, 15, 3, tzinfo=UTC)
    summer = datetime(2026, 7, 14, 8, 30, tzinfo=UTC)
    with french_app.app_context():
        mail = {"sender": "site@weprode.com", "recipients": ["team@weprode.com"], "body": "x"}
        waiting = outbox.enqueue(db, "contact_notification", Message("Contact", **mail), winter)
        parked = outbox.enqueue(db, "confirm", Message("Confirmez", **mail), winter)
        outbox.park(db, {"id": parked, "kind": "confirm"}, "550 no such user", summer)
    db.conn.commit()
    assert run(french_app, "outbox", "list").output == (
        f"{waiting}\tdemande de contact (à l’équipe)\tcréé le 5 janv. 2026, 16:03:00\t"
        "essais 0\tprochain essai le 5 janv. 2026, 16:03:00\t\n"
        f"{parked}\tconfirmation d’abonnement\tcréé le 5 janv. 2026, 16:03:00\t"
        "essais 1\tÉCHEC le 14 juil. 2026, 10:30:00\t550 no such user\n"
    )
    created = run(
        french_app, "staff", "create", "ops@weprode.com", "--password-stdin", input=PASSWORD
    )
    assert created.exit_code == 0, created.output
    db.execute("UPDATE staff SET last_login_at = ?", [isoformat(summer)])
    db.conn.commit()
    db.close()
    assert run(french_app, "staff", "list").output == (
        "ops@weprode.com\tactif\tsans-totp\tfr\tEurope/Paris\t"
        f"dernière connexion{NBSP}: 14 juil. 2026, 10:30:00\n"
    )
    english = make_app(STAFF_LANGUAGE="en", DATABASE=french_app.config["DATABASE"])
    assert run(english, "staff", "list").output == (
        "ops@weprode.com\tactive\tno-totp\tfr\tEurope/Paris\t"
        f"last login: Jul 14, 2026, 10:30:00{NNBSP}AM\n"
    )
    assert f"{waiting}\tcontact request (to the team)\tcreated Jan 5, 2026, 4:03:00{NNBSP}PM\t" in (
        run(english, "outbox", "list").output
    )


# The commands operators (STAFF_COMMANDS[:9]) and staff (the rest) run from a shell.
STAFF_COMMANDS = (
    "staff", "backup", "doctor", "privacy", "retention", "outbox", "bounces",
    "deliverability", "migrate", "subscribers", "import", "campaigns", "topics",
)  # fmt: skip


def test_every_staff_command_and_option_has_french_help(french_app):
    """A help text added in English only would show through: each one must differ."""
    from flask_babel import force_locale

    from weprode.cli import StaffCommand, StaffOption

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    untranslated, seen = [], 0
    with french_app.app_context():
        for top in STAFF_COMMANDS:
            for path, command in walk(french_app.cli.commands[top], top):
                assert isinstance(command, StaffCommand), path
                texts = [(path, command.lazy_help)] + [
                    (f"{path} {param.name}", param.lazy_help)
                    for param in command.params
                    if isinstance(param, StaffOption)
                ]
                for where, lazy in texts:
                    seen += 1
                    with force_locale("en"):
                        english = str(lazy)
                    with force_locale("fr"):
                        french = str(lazy)
                    if not english or french == english:
                        untranslated.append(where)
    assert seen > 90 and not untranslated, untranslated
