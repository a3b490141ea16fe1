"""Helpers for tests that run `flask --app app ...` in a real child process."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def flask_env(app, **extra):
    """The environment of a child `flask` process configured like the test app."""
    env = dict(os.environ)
    env.update(
        FLASK_SECRET_KEY=app.config["SECRET_KEY"],
        FLASK_DATABASE=app.config["DATABASE"],
        FLASK_MAIL_PORT=str(app.config["MAIL_PORT"]),
        FLASK_PUBLIC_URL=app.config["PUBLIC_URL"],
        FLASK_STAFF_LANGUAGE=app.config["STAFF_LANGUAGE"],
        # Like the test app: the production checks would refuse http://localhost.
        FLASK_TESTING="true",
        **extra,
    )
    return env
