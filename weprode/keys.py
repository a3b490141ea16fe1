"""The keys a deployment must keep straight: which secret key signs, and the suppression key.

Every process (web workers, the campaign worker, timers, any `flask` command) must sign
with the same secret key, or it sends links nobody else can check and hashes
suppressions nobody else can find. The database remembers a fingerprint of the key it
was first used with; a process whose key is neither that one nor, during a rotation,
its successor (the recorded key listed in `SECRET_KEY_FALLBACKS`) is refused.

Suppressions are hashed with a key of their own, made once from the first secret key
and never changed: rotating the secret key, then dropping the old one, must not forget
who unsubscribed or was erased. That key lives in the database wrapped (XOR) with a
value derived from the current secret key, and is re-wrapped on rotation.
"""

import hashlib
import hmac
from datetime import datetime

from flask import Flask, current_app

from .config import ConfigError
from .db import (
    Database,
    database_holds_data,
    first_row,
    get_db,
    isoformat,
    utcnow,
    write_transaction,
)

FINGERPRINT_CONTEXT = b"weprode.key-fingerprint.v1"
WRAP_CONTEXT = b"weprode.suppression-key-wrap.v1"
# Also the derivation suppressions used before they had a key of their own: the
# suppression key made from a secret key equals that key's old hash key, so hashes
# stored before the upgrade still match.
SUPPRESSION_HASH_CONTEXT = b"weprode.suppression.v1"
EXTENSION = "weprode.suppression_key"


class KeyMismatch(ConfigError):
    """This process's secret key is not the one the database is signed with."""


def as_bytes(key: str | bytes) -> bytes:
    """Keys may be configured as text or bytes; HMAC needs bytes."""
    return key.encode() if isinstance(key, str) else key


def keyed(key: str | bytes, context: bytes) -> bytes:
    """A 32-byte value derived from `key` for one purpose."""
    return hmac.new(as_bytes(key), context, hashlib.sha256).digest()


def fingerprint(key: str | bytes) -> str:
    """Names a key without revealing it."""
    return keyed(key, FINGERPRINT_CONTEXT).hex()


def hash_key(key: str | bytes) -> bytes:
    """The address-hash key a secret key gives (see SUPPRESSION_HASH_CONTEXT)."""
    return keyed(key, SUPPRESSION_HASH_CONTEXT)


def wrap(suppression_key: bytes, key: str | bytes) -> str:
    """The suppression key as stored: XOR-ed with a pad only `key` can make."""
    pad = keyed(key, WRAP_CONTEXT)
    return bytes(a ^ b for a, b in zip(suppression_key, pad, strict=True)).hex()


def unwrap(wrapped: str, key: str | bytes) -> bytes:
    """The inverse of `wrap`."""
    pad = keyed(key, WRAP_CONTEXT)
    return bytes(a ^ b for a, b in zip(bytes.fromhex(wrapped), pad, strict=True))


def mismatch_message(database: str) -> str:
    """What to tell an operator whose process came with the wrong key."""
    return (
        f"This process's SECRET_KEY is not the key the database {database} is signed "
        "with (nor its successor during a rotation). Links it signs would be refused "
        "and suppressions it records lost. Give every process the same configuration: "
        "set SECRET_KEY in instance/config.py (or restore instance/secret_key from the "
        "backup). To rotate, keep the old key in SECRET_KEY_FALLBACKS."
    )


def settle(db: Database, config: dict, now: datetime) -> bytes:
    """Check this process's key against the database's; return the suppression key.

    The first process records its key and makes the suppression key. A process whose
    newest key follows the recorded one (the recorded key is a fallback) takes over:
    the fingerprint and the wrapping move to the new key in one transaction.
    """
    current = config["SECRET_KEY"]
    with write_transaction(db):
        row = first_row(db, "SELECT * FROM instance_keys WHERE id = 1")
        if row is None:
            suppression_key = hash_key(current)
        else:
            suppression_key = recorded_suppression_key(row, config, db)
            if row["key_fingerprint"] == fingerprint(current):
                return suppression_key
        db.execute(
            "INSERT OR REPLACE INTO instance_keys "
            "(id, key_fingerprint, wrapped_suppression_key, recorded_at) VALUES (1, ?, ?, ?)",
            [fingerprint(current), wrap(suppression_key, current), isoformat(now)],
        )
    return suppression_key


def recorded_suppression_key(row: dict, config: dict, db: Database) -> bytes:
    """Unwrap the stored suppression key with whichever configured key was recorded."""
    for key in [config["SECRET_KEY"], *config.get("SECRET_KEY_FALLBACKS", [])]:
        if fingerprint(key) == row["key_fingerprint"]:
            return unwrap(row["wrapped_suppression_key"], key)
    raise KeyMismatch(mismatch_message(db_path(db)))


def db_path(db: Database) -> str:
    """The main database file's path, for messages."""
    return next((row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"), "")


def has_table(db: Database, name: str) -> bool:
    """True once the migration that creates `name` has run."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute(sql, [name]).fetchone() is not None


def settle_app(app: Flask, db: Database, now: datetime) -> None:
    """`settle` for this app, keeping the suppression key for its lifetime."""
    app.extensions[EXTENSION] = settle(db, app.config, now)


def suppression_key() -> bytes:
    """The suppression key of the current app.

    Settled at start once the database is migrated; a process started before that
    reads it on first use (never writing: the caller may hold a transaction on another
    connection). Until a key is recorded, it is the one the first record will hold.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if EXTENSION not in app.extensions:
        recorded = read_suppression_key(get_db(), app.config)
        if recorded is None:
            return hash_key(app.config["SECRET_KEY"])
        app.extensions[EXTENSION] = recorded
    return app.extensions[EXTENSION]


def read_suppression_key(db: Database, config: dict) -> bytes | None:
    """The recorded suppression key, or None while nothing is recorded."""
    if not has_table(db, "instance_keys"):
        return None
    row = first_row(db, "SELECT * FROM instance_keys WHERE id = 1")
    return None if row is None else recorded_suppression_key(row, config, db)


def init_app(app: Flask) -> None:
    """Refuse to start with the wrong key when the database is already migrated.

    A database not migrated yet is settled by `flask migrate` or on first use.
    """
    if not database_holds_data(app.config["DATABASE"]):
        return
    with app.app_context():
        db = get_db()
        if has_table(db, "instance_keys"):
            settle_app(app, db, utcnow())
