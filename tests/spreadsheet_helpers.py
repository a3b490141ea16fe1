"""How a spreadsheet could cut a CSV export into cells, to look for formulas in them."""

import csv
import io
import unicodedata

FORMULA_STARTS = ("=", "+", "-", "@")


def possible_cells(text):
    """Every cell Excel or LibreOffice could make of `text`.

    With "," or ";" as the separator, honouring the quotes or (as a careless import
    does) splitting every line on the separator whatever the quotes say.
    """
    for separator in ",;":
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            yield from row
        for line in text.splitlines():
            yield from (cell.strip().strip('"') for cell in line.split(separator))


def formula_cells(text):
    """The cells a spreadsheet would run as formulas (compared as it reads them, NFKC)."""
    return [
        cell
        for cell in possible_cells(text)
        if unicodedata.normalize("NFKC", cell).lstrip(" \t\r\n").startswith(FORMULA_STARTS)
    ]
