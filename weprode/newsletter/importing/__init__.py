"""Importing subscribers from a CSV file: check every row, then write all or nothing.

Staff import lists they hold consent for ("confirmed", proof: source and legal basis)
or lists whose people must confirm themselves ("double-opt-in", the public signup's
confirmation mail). Addresses that unsubscribed or were erased are always refused.
Work is set-based (chunked look-ups, `executemany`) so 100,000 rows take seconds.

`reading` parses and checks the file without touching the database; `batches` stages
it and commits it in short chunks that stay hidden until the import is done (so other
writers, one-click unsubscribes first, never wait long); `writing` sorts each chunk's
addresses against the database, writes them and mails the confirmations.
"""

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from flask import current_app

from ...db import Database, parse_timestamp
from ...forms import has_forbidden_character
from .. import topics
from . import batches, recovery
from .batches import ImportDetails, ImportStateError
from .reading import COLUMNS, ImportReport, Progress, normalise_email, read_entries
from .writing import send_confirmations

__all__ = [
    "COLUMNS",
    "MODES",
    "REFUSED_REASON",
    "ImportReport",
    "ImportStateError",
    "check_label",
    "import_subscribers",
    "normalise_email",
    "recover",
    "resume",
    "roll_back",
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
    topic_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a CSV (a text stream, its lines or its text); returns an `ImportReport`.

    The header names the columns (`email`, optional `first_name`, `language`). If any
    row is invalid nothing is written and `errors` lists (line, reason). Otherwise the
    rows are staged and committed in chunks of `IMPORT_CHUNK_ROWS`, hidden until the
    last short transaction publishes them all with one audit entry (`batches`); in
    double opt-in mode the confirmation mails go out after it, over one SMTP connection.
    `progress(done, total)` is called between chunks, outside any transaction.

    Everyone joins `topic_id` (the main topic when None; internal topics too: staff
    hold these consents), with the import's consent proof; people already active
    keep their other topics.
    """
    source, legal_basis = check_label("source", source), check_label("legal_basis", legal_basis)
    if mode not in MODES:
        raise ValueError(f"mode must be one of: {', '.join(MODES)}")
    if topic_id is None:
        topic_id = topics.main_topic_id(db)
    elif topics.get(db, topic_id) is None:
        raise ValueError(f"No topic {topic_id}.")
    report = ImportReport()
    steps = Progress(progress, passes=2 if mode == "confirmed" else 3)
    digest = hashlib.sha256()
    entries = read_entries(hashed(rows_or_stream, digest), report, steps)
    if report.errors:
        return report
    owner = batches.new_owner()
    details = ImportDetails(mode, source, legal_basis, actor, digest.hexdigest(), topic_id)
    chunk_rows = current_app.config["IMPORT_CHUNK_ROWS"]
    import_id = batches.stage(db, entries, report, details, now, owner, chunk_rows)
    report.import_id = import_id
    return run(db, batches.get(db, import_id), owner, report, steps)


def hashed(rows_or_stream: str | Iterable[str], digest: "hashlib._Hash") -> Iterator[str]:
    """The file's lines, fed to `digest` as they are read (the import records its checksum)."""
    if isinstance(rows_or_stream, str):  # the whole text: iterating it would give letters
        rows_or_stream = rows_or_stream.splitlines(keepends=True)
    for line in rows_or_stream:
        digest.update(line.encode("utf-8", "surrogatepass"))
        yield line


def run(
    db: Database, record: dict, owner: str, report: ImportReport, steps: Progress
) -> ImportReport:
    """Commit a staged import chunk by chunk, publish it, then mail its confirmations."""
    config = current_app.config
    pause = config["IMPORT_CHUNK_PAUSE_SECONDS"]

    def after_chunk(count: int) -> None:
        steps.advance(count)
        if pause:
            time.sleep(pause)  # lets other writers in more often (and tests kill between)

    batches.commit_chunks(db, record, owner, report, config["IMPORT_CHUNK_ROWS"], after_chunk)
    now = parse_timestamp(record["started_at"])
    pending = batches.finish(db, record, report, now)
    report.imported = True
    steps.end_pass(2)
    if pending:
        send_confirmations(db, pending, report, steps)
    batches.discard_staging(db, record["id"])
    steps.end_pass(steps.passes)
    return report


def resume(
    db: Database, import_id: int, now: datetime, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Finish an import whose process died (or stopped); refuses a running or ended one.

    Its records keep the time the import began. An import stopped while still being
    staged cannot be finished (the rest of the file is not in the database): roll it back.
    """
    owner = batches.new_owner()
    record = recovery.claim(db, import_id, owner, now)
    if record["status"] == "rolling_back":
        raise ImportStateError(f"Import {import_id} is being rolled back; finish that.")
    if record["staged_entries"] < record["entries"]:
        raise ImportStateError(
            f"Import {import_id} stopped before its file was staged; roll it back and "
            "import the file again."
        )
    report = recovery.report_of(db, record)
    report.import_id = import_id
    steps = Progress(progress, passes=2 if record["mode"] == "confirmed" else 3)
    steps.start(record["entries"])
    steps.advance(record["entries"] + record["committed_entries"])
    return run(db, record, owner, report, steps)


def roll_back(db: Database, import_id: int, actor: str, now: datetime) -> int:
    """Undo an unfinished import as a whole; returns how many hidden records were deleted."""
    owner = batches.new_owner()
    chunk = current_app.config["IMPORT_CHUNK_ROWS"]
    return recovery.rollback(db, import_id, owner, actor, now, chunk)


def recover(db: Database, now: datetime) -> list[tuple[int, str]]:
    """Finish or roll back every import whose process is gone; returns [(id, what)].

    The worker runs it on each pass. An import whose file was fully staged is
    finished (staff asked for it, and every row was checked); any other is rolled back.
    Staged rows an ended import left behind (its process died after the end) go too.
    """
    done = []
    for record in recovery.abandoned(db, now):
        try:
            if record["status"] != "rolling_back" and record["staged_entries"] == record["entries"]:
                resume(db, record["id"], now)
                done.append((record["id"], "finished"))
            else:
                roll_back(db, record["id"], "worker", now)
                done.append((record["id"], "rolled back"))
        except ImportStateError:  # another process claimed it first
            continue
    # Staged rows hold addresses: none may outlive its import.
    for import_id in recovery.leftover_staging(db):
        batches.discard_staging(db, import_id)
    return done
