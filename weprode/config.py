"""Configuration defaults and the secret-key policy.

Nothing here reads files or the environment at import time: `create_app` layers
`DEFAULTS` -> `instance/config.py` -> `FLASK_*` environment variables -> test config,
then calls `finalise` once everything is known.
"""

import os
import secrets
from pathlib import Path
from typing import Any

from .db import database_holds_data

DEFAULTS = {
    # Filled in by `finalise` when left empty: generated once into the instance folder.
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": [],
    # Empty means `<instance>/weprode.sqlite3`.
    "DATABASE": "",
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # CSV uploads in the staff area (100,000 rows is about 4 MB).
    "IMPORT_MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    # Addresses an import writes per transaction; other writers get the lock in between.
    "IMPORT_CHUNK_ROWS": 500,
    "IMPORT_CHUNK_PAUSE_SECONDS": 0,
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust.
    "TRUSTED_PROXIES": 0,
    "BABEL_DEFAULT_LOCALE": "en",
    "SITE_LANGUAGES": ["en", "fr"],
    # The staff area's language before login (login page, second factor), whatever
    # `?lang=` says: one of SITE_LANGUAGES. Signed in, each account's own language.
    "STAFF_LANGUAGE": "fr",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_PORT": 8025,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "Weprode <newsletter@weprode.com>",
    "MAIL_TIMEOUT": 10,
    # TLS to the relay (MAIL_USE_TLS / MAIL_USE_SSL) verifies its certificate and name
    # against the system's CAs, or this PEM file's.
    "MAIL_TLS_VERIFY": True,
    "MAIL_TLS_CA_FILE": "",
    # Accept addresses with a non-ASCII local part (zoë@...) only when this is on and the
    # relay advertises SMTPUTF8; otherwise forms refuse them, since they cannot be sent.
    "MAIL_SMTPUTF8": False,
    # Flask-Mail suppresses sending when TESTING; our tests talk to a real SMTP sink.
    "MAIL_SUPPRESS_SEND": False,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_PUBLIC_FORMS": "10 per minute;60 per hour",
    # `flask backup create` writes here; empty means `<instance>/backups`.
    "BACKUP_FOLDER": "",
    # Backups older than this are deleted (the privacy page says so: they hold people
    # deleted or erased since they were taken).
    "BACKUP_KEEP_DAYS": 30,
    # Daily usage and security logs; empty means `<instance>/logs`.
    "LOG_FOLDER": "",
    "NEWSLETTER_CONFIRM_MAX_AGE_DAYS": 7,
    "NEWSLETTER_UNDO_MAX_AGE_HOURS": 24,
    # Shown on the legal notice when set (the law asks for a phone number, and an
    # intra-EU VAT number once the company has one); `flask doctor` reports them empty.
    "COMPANY_PHONE": "",
    "COMPANY_VAT_NUMBER": "",
    # Where contact and meeting requests are notified (Reply-To: the person).
    "CONTACT_NOTIFY_ADDRESS": "contact@weprode.com",
    # From of the acknowledgements of those requests: an answer to a request should not
    # come from the newsletter's address.
    "CONTACT_SENDER": "Weprode <contact@weprode.com>",
    "SESSION_COOKIE_PATH": "/admin",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # None: Secure whenever PUBLIC_URL is https (set False only for local http).
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_NAME": "weprode_staff",
    # CSRF is checked by the staff area's guard only; public forms carry no token.
    "WTF_CSRF_CHECK_DEFAULT": False,
    "STAFF_REQUIRE_TOTP": False,
    # Campaigns: sender (empty: MAIL_DEFAULT_SENDER), replies, sending speed and safety.
    "CAMPAIGN_SENDER": "",
    "CAMPAIGN_REPLY_TO": "contact@weprode.com",
    "CAMPAIGN_SMTP_CONNECTIONS": 4,
    # Processes sending one campaign, each with CAMPAIGN_SMTP_CONNECTIONS sessions: one
    # process is CPU-bound (messages are built in Python), so a host with spare cores
    # sends faster with one per core (weprode/campaigns/processes.py).
    "CAMPAIGN_SENDER_PROCESSES": 1,
    "CAMPAIGN_BATCH_SIZE": 50,
    "CAMPAIGN_MESSAGES_PER_SECOND": 0,
    "CAMPAIGN_RECONNECT_EVERY": 1000,
    # At most this many messages accepted by the relay are not yet recorded as sent, all
    # connections together: what a kill -9 of the sender can send twice.
    "CAMPAIGN_MAX_UNRECORDED": 20,
    "CAMPAIGN_MAX_ATTEMPTS": 8,
    "CAMPAIGN_PAUSE_AFTER_FAILURES": 20,
    "CAMPAIGN_AUTO_RESUME": True,
    # Longest the Send button spends freezing the audience; the campaign worker does the
    # rest (a million subscribers take seconds, longer under load).
    "CAMPAIGN_START_SECONDS": 2.0,
    # Campaigns go through these relays (see weprode/mail/relays.py for an entry's keys);
    # empty: through the MAIL_* relay alone. Transactional mail always uses MAIL_*.
    "MAIL_RELAYS": [],
    # A relay failing this many times in a row is set aside this long (doubled each time
    # it fails again on return); its rows go to the others meanwhile.
    "RELAY_FAILURES_TO_SET_ASIDE": 3,
    "RELAY_SET_ASIDE_SECONDS": 60,
    # Per mailbox provider (weprode/deliverability/providers.py): at most `connections`
    # of the send's sessions at once and `per_second` messages (0: no limit); "*" is
    # every provider not named. French ISPs throttle early, the big webmails late.
    "PROVIDER_LIMITS": {
        "*": {"connections": 0, "per_second": 0},
        "orange": {"connections": 2, "per_second": 20},
        "free": {"connections": 2, "per_second": 20},
        "sfr": {"connections": 2, "per_second": 20},
        "laposte": {"connections": 1, "per_second": 10},
        "bouygues": {"connections": 2, "per_second": 20},
    },
    # A provider answering 421 or 4.7.x is left alone this long, doubled at each
    # throttle in a row, up to the maximum; the other providers carry on.
    "PROVIDER_BACKOFF_SECONDS": 60,
    "PROVIDER_BACKOFF_MAX_SECONDS": 3600,
    "DKIM_SELECTOR": "",
    "DKIM_DOMAIN": "",
    "DKIM_PRIVATE_KEY_FILE": "",
    # /healthz: whether a campaign worker must be running, how old its last beat may
    # be, how many outbox mails may wait, and the free disk the database needs.
    "HEALTH_REQUIRE_WORKER": True,
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS": 300,
    "OUTBOX_BACKLOG_LIMIT": 100,
    "HEALTH_MIN_FREE_DISK_MB": 100,
    # Bounces (weprode/deliverability): with an address such as "bounces@weprode.com",
    # every mail to a subscriber goes out with the envelope sender bounces+<tag>@...
    # (VERP), and `flask bounces ingest` reads what comes back. Empty: off.
    "BOUNCE_ADDRESS": "",
    # Worker processes that parse reports for `bounces ingest --mbox/--maildir` and
    # `bounces fetch` (0: one per CPU; 1: none, all in the command's own process).
    "BOUNCE_INGEST_WORKERS": 0,
    # The DNS servers the deliverability pre-flight check asks ("host" or "host:port");
    # empty: the system's resolvers.
    "DNS_NAMESERVERS": [],
    # `flask bounces fetch` (and the worker, every BOUNCE_FETCH_EVERY_SECONDS) reads the
    # bounce mailbox over IMAP when BOUNCE_IMAP_HOST is set. SECURITY: "tls" (IMAPS,
    # port 993), "starttls" (port 143) or "none" (only to a server on this machine).
    # PORT 0: the security mode's usual port. CA_FILE: trust a private CA.
    "BOUNCE_IMAP_HOST": "",
    "BOUNCE_IMAP_PORT": 0,
    "BOUNCE_IMAP_USER": "",
    "BOUNCE_IMAP_PASSWORD": "",
    "BOUNCE_IMAP_FOLDER": "INBOX",
    "BOUNCE_IMAP_PROCESSED_FOLDER": "Processed",
    "BOUNCE_IMAP_SECURITY": "tls",
    "BOUNCE_IMAP_CA_FILE": "",
    "BOUNCE_IMAP_TIMEOUT": 30,
    "BOUNCE_FETCH_EVERY_SECONDS": 300,
}

DEVELOPMENT_PUBLIC_URL = DEFAULTS["PUBLIC_URL"]
DEVELOPMENT_RELAY = (DEFAULTS["MAIL_SERVER"], DEFAULTS["MAIL_PORT"])
SECRET_KEY_FILE = "secret_key"
# Keys that tutorials and templates ship with; never acceptable outside development.
KNOWN_WEAK_KEYS = {"dev", "secret", "changeme", "change-me", "development", "test", "key"}
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration would make the site unsafe or unusable."""


def finalise(
    config: dict[str, Any], instance_path: str | os.PathLike[str], production: bool
) -> None:
    """Fill derived settings and refuse configurations that would be unsafe.

    `production` is true unless the app runs in debug or testing mode; there a weak
    key or a development address stops the start-up rather than signing links anyone
    could forge or sending mails whose links point at a developer's machine.
    """
    if not config.get("DATABASE"):
        config["DATABASE"] = str(Path(instance_path) / "weprode.sqlite3")
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = str(config["PUBLIC_URL"]).startswith("https://")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = load_or_create_secret_key(instance_path, config["DATABASE"])
    check_fallbacks(config.get("SECRET_KEY_FALLBACKS"))
    check_staff_language(config.get("STAFF_LANGUAGE"), config["SITE_LANGUAGES"])
    check_sending(config)
    check_sender_processes(config.get("CAMPAIGN_SENDER_PROCESSES", 1))
    if production:
        problems = production_problems(config)
        if problems:
            raise ConfigError(
                "Refusing to start with a development configuration:\n- "
                + "\n- ".join(problems)
                + "\nEvery process (web, worker, timers, flask commands) reads "
                f"{Path(instance_path) / 'config.py'}: put the settings there (see "
                "deploy/config.example.py). For development, run with --debug."
            )


def production_problems(config: dict[str, Any]) -> list[str]:
    """What makes this configuration unfit outside development, in plain words."""
    problems = []
    for name, key in [("SECRET_KEY", config["SECRET_KEY"])] + [
        ("SECRET_KEY_FALLBACKS", fallback) for fallback in config["SECRET_KEY_FALLBACKS"]
    ]:
        if is_weak_secret_key(key):
            problems.append(
                f"{name}: a key is weak or a known default. Use random keys of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters (python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'), or remove SECRET_KEY to have one "
                "generated."
            )
    public_url = str(config["PUBLIC_URL"])
    if public_url.rstrip("/") == DEVELOPMENT_PUBLIC_URL:
        problems.append(
            f"PUBLIC_URL is the development default ({DEVELOPMENT_PUBLIC_URL}): links in "
            "mails would point there. Set the site's https address."
        )
    elif not public_url.startswith("https://"):
        problems.append(f"PUBLIC_URL must be an https address, not {public_url}.")
    if (config["MAIL_SERVER"], int(config["MAIL_PORT"])) == DEVELOPMENT_RELAY:
        problems.append(
            "MAIL_SERVER/MAIL_PORT are the development mail sink (127.0.0.1:8025). "
            "Set the SMTP relay."
        )
    from .mail import relays  # here: the mail package imports Flask-Mail and templates

    return problems + relays.production_problems(config, DEVELOPMENT_RELAY)


def check_sending(config: dict[str, Any]) -> None:
    """MAIL_RELAYS and PROVIDER_LIMITS must be well formed: say which entry is not."""
    from .campaigns.pacing import check_provider_limits
    from .mail import relays

    try:
        relays.configured_relays(config)
        check_provider_limits(config.get("PROVIDER_LIMITS"))
    except ValueError as error:
        raise ConfigError(
            f"{error} In instance/config.py, for example: MAIL_RELAYS = "
            '[{"host": "relay1.example.net", "port": 587, "tls": "starttls", "weight": 2, '
            '"max_connections": 4}] (see deploy/config.example.py).'
        ) from error


def check_sender_processes(processes: object) -> None:
    """CAMPAIGN_SENDER_PROCESSES must be a whole number from 1 to 64."""
    if isinstance(processes, bool) or not isinstance(processes, int) or not 1 <= processes <= 64:
        raise ConfigError(
            f"CAMPAIGN_SENDER_PROCESSES must be a whole number from 1 to 64, not {processes!r}."
        )


def check_fallbacks(fallbacks: object) -> None:
    """SECRET_KEY_FALLBACKS must be a list of keys, never a string.

    A string would be used one character per key: `["old"]` read from a shell-sourced
    file arrives as the text `[old]`, and a token signed with the key `[` would pass.
    """
    if isinstance(fallbacks, list | tuple) and all(
        isinstance(key, str | bytes) and key for key in fallbacks
    ):
        return
    raise ConfigError(
        f"SECRET_KEY_FALLBACKS must be a list of keys, not {fallbacks!r}. In "
        'instance/config.py write SECRET_KEY_FALLBACKS = ["old-key"]; in the environment '
        "FLASK_SECRET_KEY_FALLBACKS='[\"old-key\"]' (JSON, quotes kept)."
    )


def check_staff_language(language: object, site_languages: list[str]) -> None:
    """STAFF_LANGUAGE must be one of the site's languages, which have a catalogue.

    Anything else (`"FR"`, `"fr_FR"`) would silently show the staff area in English.
    """
    if language in site_languages:
        return
    raise ConfigError(
        f"STAFF_LANGUAGE must be one of {', '.join(map(repr, site_languages))} (the "
        f"SITE_LANGUAGES), not {language!r}. In instance/config.py write "
        'STAFF_LANGUAGE = "fr"; in the environment FLASK_STAFF_LANGUAGE=fr.'
    )


def is_weak_secret_key(key: str | bytes) -> bool:
    """True for keys too short or taken from a list of well-known defaults."""
    text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
    return len(text) < MIN_SECRET_KEY_LENGTH or text.strip().lower() in KNOWN_WEAK_KEYS


def load_or_create_secret_key(instance_path: str | os.PathLike[str], database: str) -> str:
    """Read the generated key from the instance folder, creating it (mode 0600) once.

    Never for a database that already holds data: a new key would break every link
    already sent and lose the suppressions, so the missing key must be found instead.
    """
    path = Path(instance_path) / SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    if database_holds_data(database):
        raise ConfigError(
            f"No SECRET_KEY is configured and {path} is missing, but the database "
            f"{database} already holds data signed with a key. Restore {path} from the "
            "backup, or set SECRET_KEY in instance/config.py to the key the other "
            "processes use. A new key would break every link already sent."
        )
    key = secrets.token_urlsafe(48)
    # O_EXCL: two workers starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
