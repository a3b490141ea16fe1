"""Subscriber export: CSV that spreadsheets open safely, or JSON, for staff and the CLI."""

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from ..db import Database
from .subscribers import VISIBLE

EXPORT_COLUMNS = [
    "email",
    "first_name",
    "language",
    "status",
    "source",
    "created_at",
    "requested_at",
    "confirmed_at",
    "churned_at",
    "churn_source",
    "bounced_at",
    "topics",
]
# The topics a person receives now, by slug: one cell, so the file keeps a row per person.
COLUMN_SQL = {
    "topics": "(SELECT group_concat(t.slug, ' ') FROM subscriptions x JOIN topics t "
    "ON t.id = x.topic_id WHERE x.subscriber_id = subscribers.id AND x.status = 'active') "
    "AS topics",
}
SELECT_COLUMNS = ", ".join(COLUMN_SQL.get(column, column) for column in EXPORT_COLUMNS)
# Spreadsheet programs run cells starting with these as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@")
# Where a spreadsheet may start a new cell: Excel splits on ";" where the decimal mark
# is a comma (French settings), LibreOffice lets the person pick the separators, and a
# tool that ignores quotes splits inside them. A line break may start a new row.
CELL_BREAKS = frozenset(",;\t\r\n")


def export_rows(db: Database) -> Iterator[dict]:
    """Every subscriber with status, language, dates, churn source and topics, by id."""
    return db.query(f"SELECT {SELECT_COLUMNS} FROM subscribers WHERE {VISIBLE} ORDER BY id")


def spreadsheet_safe(value: object) -> object:
    """Neutralise every part of a cell that a spreadsheet could run as a formula.

    Each stretch that could become a cell of its own (the start, and whatever follows
    a separator or a line break) gets a "'" before it when, spaces aside, it starts
    with a formula prefix. Characters are compared in NFKC form, since spreadsheets
    read a full-width "＝" as "=". The text is otherwise kept as it is.
    """
    if not isinstance(value, str):
        return value
    parts, cell_starts = [], True
    for char in value:
        shown = unicodedata.normalize("NFKC", char)
        if cell_starts and shown.startswith(FORMULA_PREFIXES):
            parts.append("'")
        parts.append(char)
        if shown in CELL_BREAKS:
            cell_starts = True
        elif not shown.isspace():
            cell_starts = False
    if value.startswith(tuple(CELL_BREAKS)):
        parts.insert(0, "'")  # a cell that opens on a tab or line break (OWASP)
    return "".join(parts)


def write_export(db: Database, output: TextIO, export_format: str) -> None:
    """Write the export as CSV (formula-safe) or JSON to a text stream."""
    rows = export_rows(db)
    if export_format == "json":
        output.write("[")
        for index, row in enumerate(rows):
            output.write(("," if index else "") + "\n  " + json.dumps(row, ensure_ascii=False))
        output.write("\n]\n")
        return
    output.writelines(csv_lines(rows))


def csv_lines(rows: Iterable[dict], columns: Sequence[str] = EXPORT_COLUMNS) -> Iterator[str]:
    """Formula-safe CSV with a header, one line at a time (for files and streaming).

    Every field is quoted, so a separator inside a value never splits it, whichever
    separator the spreadsheet expects.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    for values in ([columns], ([row[c] for c in columns] for row in rows)):
        for record in values:
            writer.writerow([spreadsheet_safe(value) for value in record])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
