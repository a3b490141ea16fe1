"""Subscriber export: CSV that spreadsheets open safely, or JSON, for staff and the CLI."""

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from ..db import Database

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
]
# Spreadsheet programs run cells starting with these as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def export_rows(db: Database) -> Iterator[dict]:
    """Every subscriber with status, language, dates and churn source, by id."""
    columns = ", ".join(EXPORT_COLUMNS)
    return db.query(f"SELECT {columns} FROM subscribers ORDER BY id")


def spreadsheet_safe(value: object) -> object:
    """Neutralise cells a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


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
    """Formula-safe CSV with a header, one line at a time (for files and streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in ([columns], ([row[c] for c in columns] for row in rows)):
        for record in values:
            writer.writerow([spreadsheet_safe(value) for value in record])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
