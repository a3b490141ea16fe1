"""The one way tests build a migrated app: the function fixtures, the browser's live
server and the Nu checker's module-wide app all start from `base_config`."""

from pathlib import Path

from weprode import create_app
from weprode.db import connect
from weprode.migrations import apply_pending

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def base_config(database: Path, smtp_port: int, **overrides) -> dict:
    """Testing mode, mail to the sink on `smtp_port`, no rate limits, `database` as the file."""
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE": str(database),
        "PUBLIC_URL": "http://localhost",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "RATELIMIT_ENABLED": False,
        # Most tests check English staff wording; the French default (login page and
        # accounts) is tested in test_staff_language.py and test_staff_accounts_french.py.
        "STAFF_LANGUAGE": "en",
        **overrides,
    }


def migrated_app(config: dict, instance_path: Path):
    """`create_app` on `instance_path`, with every migration applied to its database."""
    application = create_app(config, instance_path=instance_path)
    db = connect(application.config["DATABASE"])
    try:
        apply_pending(db)
    finally:
        db.close()
    return application
