"""WSGI entry point: `flask --app app ...` and `gunicorn app:app`."""

from weprode import create_app
from weprode.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # The operator needs the reason and the fix, not a traceback through Flask's loader.
    raise SystemExit(f"weprode: {error}") from None
