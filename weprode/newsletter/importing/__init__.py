"""Importing subscribers from a CSV file: check every row, then write all or nothing.

Staff import lists they hold consent for ("confirmed", proof: source and legal basis)
or lists whose people must confirm themselves ("double-opt-in", the public signup's
confirmation mail). Addresses that unsubscribed or were erased are always refused.
Work is set-based (chunked look-ups, `executemany`) so 100,000 rows take seconds.

`reading` parses and checks the file without touching the database; `writing` sorts
its addresses against the database, writes them and mails the confirmations.
"""

from collections.abc import Callable, Iterable
from datetime import datetime

from ... import audit
from ...db import Database, durable_transaction
from ...forms import has_forbidden_character
from .reading import COLUMNS, ImportReport, Progress, normalise_email, read_entries
from .writing import send_confirmations, sort_entries, write_confirmed, write_pending

# What callers use: the entry point, its argument check, its report, and the
# e-mail normalisation the tests compare with `subscribers.normalise_email`.
__all__ = [
    "COLUMNS",
    "MODES",
    "REFUSED_REASON",
    "ImportReport",
    "check_label",
    "import_subscribers",
    "normalise_email",
]

MODES = ("confirmed", "double-opt-in")
MAX_LABEL = 500
# How each label is named to whoever typed it (the option on the command line).
LABEL_NAMES = {"source": "--source", "legal_basis": "--legal-basis"}
REFUSED_REASON = "unsubscribed or erased; only their own signup can bring them back"


def check_label(name: str, value: object) -> str:
    """`source` and `legal_basis`: required, one line, no more than `MAX_LABEL` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{LABEL_NAMES.get(name, name)} is required.")
    if has_forbidden_character(value) or len(value) > MAX_LABEL:
        raise ValueError(
            f"{LABEL_NAMES.get(name, name)} must be one line of at most {MAX_LABEL} characters."
        )
    return value.strip()


def import_subscribers(
    db: Database,
    rows_or_stream: str | Iterable[str],
    *,
    source: str,
    legal_basis: str,
    mode: str,
    actor: str,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a CSV (a text stream, its lines or its text); returns an `ImportReport`.

    The header names the columns (`email`, optional `first_name`, `language`). If any
    row is invalid nothing is written and `errors` lists (line, reason). Otherwise one
    transaction writes everything, with one audit entry; in double opt-in mode the
    confirmation mails go out after it committed, over one SMTP connection.
    """
    source, legal_basis = check_label("source", source), check_label("legal_basis", legal_basis)
    if mode not in MODES:
        raise ValueError(f"mode must be one of: {', '.join(MODES)}")
    report = ImportReport()
    steps = Progress(progress, passes=2 if mode == "confirmed" else 3)
    entries = read_entries(rows_or_stream, report, steps)
    if report.errors:
        return report
    # The write lock comes first, so nobody can unsubscribe between our suppression
    # check and our writes, and another writer makes us wait instead of fail. Durable:
    # a confirmed import records consent (one flush for the whole file).
    with durable_transaction(db):
        new, revived = sort_entries(db, entries, report)
        if mode == "confirmed":
            write_confirmed(db, new, revived, source, legal_basis, now, steps)
            report.added = len(new) + len(revived)
            pending = []
        else:
            pending = write_pending(db, new, revived, source, now, report, steps)
        audit.record(
            db,
            actor,
            "import",
            now,
            target=None,
            added=report.added,
            merged=report.merged_duplicates,
            refused=len(report.refused_suppressed),
            already_subscribed=report.already_subscribed,
            mode=mode,
            source=source,
            legal_basis=legal_basis,
        )
    report.imported = True
    steps.end_pass(2)
    if pending:
        send_confirmations(db, pending, report, steps)
    steps.end_pass(steps.passes)
    return report
