"""Reading an import file: the header, every row checked, duplicates merged.

Nothing here touches the database. The report and the progress counter it starts
are filled in further by `writing` once the file is known to be valid.
"""

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _

from ...forms import EMAIL_MAX_LENGTH, has_forbidden_character
from ...languages import either
from .. import subscribers

COLUMNS = ("email", "first_name", "language")
# The separators a spreadsheet may save with: French Excel writes `;`, some tools tabs.
SEPARATORS = (",", ";", "\t")
# What a file should look like, as said in errors and offered as the example file.
EXAMPLE_HEADER = ",".join(COLUMNS)
EXAMPLE_ROW = "marie@example.org,Marie,fr"
# Three columns are allowed; a header far longer is refused before its names are read,
# and up to this size the error can list each unknown or repeated name.
MAX_HEADER_CELLS = 20
MAX_FIRST_NAME = 100
PROGRESS_EVERY = 1000
# Plain ASCII dot-atom local parts: email_validator accepts these exactly as written.
SIMPLE_LOCAL_PART = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")


@dataclass
class ImportReport:
    """What an import found and did. Nothing was written unless `imported` is True.

    `added` counts addresses made active ("confirmed") or left pending with a
    confirmation mail on its way ("double-opt-in"); `mails_limited` counts pending
    addresses not mailed because they were mailed very recently.
    """

    total_rows: int = 0
    added: int = 0
    merged_duplicates: int = 0
    already_subscribed: int = 0
    refused_suppressed: list = field(default_factory=list)  # (line, masked e-mail)
    errors: list = field(default_factory=list)  # (line, reason)
    imported: bool = False
    mails_sent: int = 0
    mails_failed: int = 0
    mails_limited: int = 0
    import_id: int | None = None  # once staged


@dataclass
class Entry:
    """One address of the file, duplicates merged; `language` None when never given."""

    line: int
    email: str
    first_name: str | None
    language: str | None


class Progress:
    """Feeds `progress(done, total)` every `PROGRESS_EVERY` steps.

    Every row is a step of each pass (check, write, and mail in double opt-in mode),
    so the total is known once the file is read; rows a pass skips count at its end.
    """

    def __init__(self, callback: Callable[[int, int], None] | None, passes: int) -> None:
        self.callback, self.passes = callback, passes
        self.rows = self.done = self.total = 0

    def start(self, rows: int) -> None:
        """The file has `rows` rows: announce the total."""
        self.rows, self.total = rows, rows * self.passes
        self.report()

    def end_pass(self, number: int) -> None:
        """Pass `number` (from 1) is over: count the rows it had nothing to do for."""
        self.advance(self.rows * number - self.done)

    def advance(self, steps: int = 1) -> None:
        """Count `steps` done; report on every thousand and at the end."""
        before, self.done = self.done, self.done + steps
        if before // PROGRESS_EVERY != self.done // PROGRESS_EVERY or self.done == self.total:
            self.report()

    def report(self) -> None:
        """Tell the callback, if there is one."""
        if self.callback is not None:
            self.callback(self.done, self.total)


def read_entries(
    rows_or_stream: str | Iterable[str], report: ImportReport, steps: Progress
) -> dict[str, Entry]:
    """Parse and check the file; returns {email: Entry} with duplicates merged."""
    positions, records = read_records(rows_or_stream, report)
    if positions is None:
        return {}
    report.total_rows = len(records)
    steps.start(len(records))
    entries, domains = {}, {}
    for line, row in records:
        entry = read_row(line, row, positions, domains, report)
        steps.advance()
        if entry is None:
            continue
        merged = entries.get(entry.email)
        if merged is None:
            entries[entry.email] = entry
            continue
        report.merged_duplicates += 1
        merged.first_name = entry.first_name or merged.first_name
        merged.language = entry.language or merged.language
    return entries


def read_records(
    rows_or_stream: str | Iterable[str], report: ImportReport
) -> tuple[dict[str, int] | None, list[tuple[int, list[str]]]]:
    """({column: position}, [(line, cells)]) of the non-blank rows; (None, []) on errors.

    Lines are counted in the file, the header being line 1, and a row quoted over
    several lines is reported at its first one.
    """
    if isinstance(rows_or_stream, str):  # the whole text: iterating it would give letters
        rows_or_stream = rows_or_stream.splitlines(keepends=True)
    lines, reader = iter(rows_or_stream), None
    try:
        first = next(lines, "").lstrip("\ufeff")
        reader = csv.reader(prepend(first, lines), delimiter=separator(first))
        positions = read_header(next(reader, None), report)
        if positions is None:
            return None, []
        records, last_line = [], reader.line_num
        for row in reader:
            if any(cell.strip() for cell in row):
                records.append((last_line + 1, row))
            last_line = reader.line_num
    except (csv.Error, UnicodeDecodeError) as error:
        line = reader.line_num + 1 if reader is not None else 1
        report.errors.append(
            (line, _("The file cannot be read from here on: %(error)s.", error=error))
        )
        return None, []
    return positions, records


def separator(header: str) -> str:
    """The separator the header line uses: the candidate it holds most of (a comma when
    it holds none, as a one-column file does).

    The header holds only column names, none of which contains a separator, so
    counting there is exact where csv.Sniffer guesses from a sample of the rows, and
    can take a `.` or `@` of the addresses for one.
    """
    counts = {candidate: header.count(candidate) for candidate in SEPARATORS}
    best = max(SEPARATORS, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def example_text() -> str:
    """The two lines errors quote: the header and one person."""
    return _(
        "%(header)s, then one person per line, such as %(row)s",
        header=EXAMPLE_HEADER,
        row=EXAMPLE_ROW,
    )


def prepend(first: str, lines: Iterable[str]) -> Iterator[str]:
    """The first line (BOM removed) followed by the rest."""
    yield first
    yield from lines


def read_header(header: list[str] | None, report: ImportReport) -> dict[str, int] | None:
    """{column: position} from the header row, or None (with an error) if unusable.

    Linear in the number of cells (one count per name), and a header longer than
    MAX_HEADER_CELLS is refused before any per-name work: a file of 32,000 columns
    took seconds with a count per name, and its error would have listed them all.
    """
    allowed = _("The columns allowed are %(columns)s.", columns=", ".join(COLUMNS))
    if header and len(header) > MAX_HEADER_CELLS:
        reason = _(
            "The first line has %(count)s columns, at most %(max)s are allowed.",
            count=len(header),
            max=MAX_HEADER_CELLS,
        )
        report.errors.append((1, f"{reason} {allowed}"))
        return None
    if not header or not any(cell.strip() for cell in header):
        reason = _("The first line must name the columns: %(example)s.", example=example_text())
        report.errors.append((1, reason))
        return None
    if any("@" in cell for cell in header):  # a person, not column names
        reason = _(
            "The first line holds an e-mail address, not the names of the columns. "
            "Add a first line naming them: %(example)s.",
            example=example_text(),
        )
        report.errors.append((1, reason))
        return None
    names = [cell.strip().lower() for cell in header]
    counts = Counter(names)
    problems = [
        _("Unknown column “%(name)s”.", name=name) for name in counts if name not in COLUMNS
    ]
    problems += [
        _("The column “%(name)s” appears twice.", name=name)
        for name, count in counts.items()
        if count > 1
    ]
    if "email" not in counts:
        problems.append(_("There is no “email” column."))
    if problems:
        report.errors.append((1, " ".join([*problems, allowed])))
        return None
    return {name: position for position, name in enumerate(names)}


def read_row(
    line: int,
    row: list[str],
    positions: dict[str, int],
    domains: dict[str, str | None],
    report: ImportReport,
) -> Entry | None:
    """The row's Entry, or None after adding its error to the report."""
    if len(row) > len(positions):
        reason = _(
            "Too many columns: %(count)s, where the first line names %(named)s.",
            count=len(row),
            named=len(positions),
        )
        report.errors.append((line, reason))
        return None
    row += [""] * (len(positions) - len(row))
    email_text = row[positions["email"]]
    try:
        email = normalise_email(email_text, domains)
    except subscribers.InvalidAddress:
        shown = email_text.strip()
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        if shown:
            reason = _("“%(address)s” is not a valid e-mail address.", address=shown)
        else:
            reason = _("The e-mail address is missing.")
        report.errors.append((line, reason))
        return None
    first_name = row[positions["first_name"]] if "first_name" in positions else ""
    if len(first_name) > MAX_FIRST_NAME or has_forbidden_character(first_name):
        reason = _(
            "The first name must be one line of at most %(count)s characters.",
            count=MAX_FIRST_NAME,
        )
        report.errors.append((line, reason))
        return None
    language = row[positions["language"]].strip().lower() if "language" in positions else ""
    if language and language not in subscribers.LANGUAGES:
        reason = _(
            "The language must be %(allowed)s, not “%(given)s”.",
            allowed=either(subscribers.LANGUAGES),
            given=language[:20],
        )
        report.errors.append((line, reason))
        return None
    return Entry(line, email, first_name.strip() or None, language or None)


def normalise_email(text: str | None, domains: dict[str, str | None]) -> str:
    """`subscribers.normalise_email`, with each domain's verdict cached in `domains`.

    Checking the domain is two thirds of email_validator's cost, and a list holds few
    distinct domains. Only plain ASCII addresses take this shortcut, with the same
    length limits; everything else gets the full check, the only one that rejects.
    """
    text = (text or "").strip()
    local, _, domain = text.rpartition("@")
    if len(text) <= EMAIL_MAX_LENGTH and len(local) <= 64 and domain.isascii():
        if SIMPLE_LOCAL_PART.fullmatch(local):
            if domain not in domains:
                try:
                    domains[domain] = subscribers.normalise_email("a@" + domain)[2:]
                except subscribers.InvalidAddress:
                    domains[domain] = None
            if domains[domain] is not None:
                return f"{local.lower()}@{domains[domain]}"
    return subscribers.normalise_email(text)
