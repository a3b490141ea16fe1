"""Removing most of a table fast, and leaving no trace of it in the database file.

Deleting a million rows costs one b-tree update per row and per index; when most of
a table goes, copying the survivors into a fresh table and dropping the old one is
several times cheaper. The dropped pages are not zeroed (that would write them all
again), so the caller finishes with `vacuum`, which rewrites the file from the live
content only: nothing of the removed rows remains in the file or its WAL.
"""

import re
from collections.abc import Sequence

from ..db import Database, checkpoint

CREATE_TABLE = re.compile(r'^CREATE TABLE\s+"?(\w+)"?', re.IGNORECASE)
# Below this many rows a plain DELETE (zeroing content in place) is cheap enough.
MIN_ROWS = 50_000
# ... and it must remove at least this share of the table.
MIN_SHARE = 0.5


def worth_rebuilding(db: Database, table: str, doomed: int) -> bool:
    """True when removing `doomed` rows is cheaper by copying the survivors."""
    if doomed < MIN_ROWS:
        return False
    total = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return doomed >= MIN_SHARE * total


def rebuild_keeping(db: Database, table: str, keep_condition: str, params: Sequence = ()) -> None:
    """Replace `table` by a copy of the rows matching `keep_condition`.

    Runs inside the caller's transaction, with foreign-key enforcement off for the
    connection (set before the transaction). Keeps the exact table definition, its
    indexes, and its AUTOINCREMENT counter, so ids of removed rows are never reused.
    """
    ddl = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()[0]
    indexes = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            [table],
        )
    ]
    sequence = sequence_value(db, table)
    copy = f"{table}__kept"
    db.execute(CREATE_TABLE.sub(f"CREATE TABLE {copy}", ddl, count=1))
    db.execute(f"INSERT INTO {copy} SELECT * FROM {table} WHERE {keep_condition}", params)
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {copy} RENAME TO {table}")
    for sql in indexes:
        db.execute(sql)
    if sequence is not None:
        restore_sequence(db, table, sequence)


def sequence_value(db: Database, table: str) -> int | None:
    """The AUTOINCREMENT high-water mark of `table`, or None."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        return None
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
    return row[0] if row else None


def restore_sequence(db: Database, table: str, value: int) -> None:
    """Put the high-water mark back (the copy only knows its own largest id)."""
    cursor = db.execute(
        "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [value, table]
    )
    if cursor.rowcount == 0:
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, value])


def vacuum(db: Database) -> None:
    """Rewrite the file from live content and empty the WAL (outside a transaction)."""
    db.execute("VACUUM")
    checkpoint(db)
