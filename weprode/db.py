"""The SQLite connection: one per app context, tuned once when opened."""

import sqlite3
from datetime import UTC, datetime

import sqlite_utils
from flask import current_app, g

BUSY_TIMEOUT_MS = 5000


def utcnow():
    """The current time in UTC; services take it as `now` so tests can move it."""
    return datetime.now(UTC)


def isoformat(moment):
    """A UTC timestamp as stored in the database: ISO-8601, seconds precision."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_timestamp(text):
    """The inverse of `isoformat`."""
    return datetime.fromisoformat(text) if text else None


def connect(path):
    """Open the database with the pragmas every connection needs."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    # Plugins are looked up through entry points on every Database(); we use none.
    return sqlite_utils.Database(conn, execute_plugins=False)


def get_db():
    """The request's database, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exc=None):
    """Close the app context's connection, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app):
    """Close the connection at the end of every app context."""
    app.teardown_appcontext(close_db)
