"""Importing subscribers from a CSV file: check every row, then write all or nothing.

Staff import lists they hold consent for ("confirmed", proof: source and legal basis)
or lists whose people must confirm themselves ("double-opt-in", the public signup's
confirmation mail). Addresses that unsubscribed or were erased are always refused.
Work is set-based (chunked look-ups, `executemany`) so 100,000 rows take seconds.
"""

import contextlib
import csv
import re
from dataclasses import dataclass, field

from flask import current_app

from . import audit, mailer, subscribers, tokens
from .db import isoformat, write_transaction
from .newsletter import signup

MODES = ("confirmed", "double-opt-in")
COLUMNS = ("email", "first_name", "language")
MAX_FIRST_NAME = 100
MAX_LABEL = 500
PROGRESS_EVERY = 1000
# Bound parameters per `IN (...)`: well under SQLite's lowest compiled-in limit (999).
CHUNK = 500
# After this many failures in a row the relay is taken to be down: stop trying.
MAX_MAIL_FAILURES_IN_A_ROW = 3
REFUSED_REASON = "unsubscribed or erased; only their own signup can bring them back"
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

    def __init__(self, callback, passes):
        self.callback, self.passes = callback, passes
        self.rows = self.done = self.total = 0

    def start(self, rows):
        """The file has `rows` rows: announce the total."""
        self.rows, self.total = rows, rows * self.passes
        self.report()

    def end_pass(self, number):
        """Pass `number` (from 1) is over: count the rows it had nothing to do for."""
        self.advance(self.rows * number - self.done)

    def advance(self, steps=1):
        """Count `steps` done; report on every thousand and at the end."""
        before, self.done = self.done, self.done + steps
        if before // PROGRESS_EVERY != self.done // PROGRESS_EVERY or self.done == self.total:
            self.report()

    def report(self):
        """Tell the callback, if there is one."""
        if self.callback is not None:
            self.callback(self.done, self.total)


def check_label(name, value):
    """`source` and `legal_basis`: required, one line, no more than `MAX_LABEL` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is required.")
    if any(c in value for c in "\r\n\0") or len(value) > MAX_LABEL:
        raise ValueError(f"{name} must be one line of at most {MAX_LABEL} characters.")
    return value.strip()


def import_subscribers(db, rows_or_stream, *, source, legal_basis, mode, actor, now, progress=None):
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
    # check and our writes, and another writer makes us wait instead of fail.
    with write_transaction(db):
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


def read_entries(rows_or_stream, report, steps):
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


def read_records(rows_or_stream, report):
    """({column: position}, [(line, cells)]) of the non-blank rows; (None, []) on errors.

    Lines are counted in the file, the header being line 1, and a row quoted over
    several lines is reported at its first one.
    """
    if isinstance(rows_or_stream, str):  # the whole text: iterating it would give letters
        rows_or_stream = rows_or_stream.splitlines(keepends=True)
    lines, reader = iter(rows_or_stream), None
    try:
        first = next(lines, "").lstrip("\ufeff")
        # The header holds only column names, so whichever separator it uses is the one.
        delimiter = ";" if first.count(";") > first.count(",") else ","
        reader = csv.reader(prepend(first, lines), delimiter=delimiter)
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
        report.errors.append((line, f"the file cannot be read from here on: {error}"))
        return None, []
    return positions, records


def prepend(first, lines):
    """The first line (BOM removed) followed by the rest."""
    yield first
    yield from lines


def read_header(header, report):
    """{column: position} from the header row, or None (with an error) if unusable."""
    if not header or not any(cell.strip() for cell in header):
        report.errors.append((1, "the first line must name the columns, e.g. email,first_name"))
        return None
    names = [cell.strip().lower() for cell in header]
    problems = [f"unknown column {name!r}" for name in names if name not in COLUMNS]
    problems += [f"column {name!r} appears twice" for name in set(names) if names.count(name) > 1]
    if "email" not in names:
        problems.append("no 'email' column")
    if problems:
        allowed = ", ".join(COLUMNS)
        report.errors.append((1, f"{'; '.join(problems)} (columns allowed: {allowed})"))
        return None
    return {name: names.index(name) for name in names}


def read_row(line, row, positions, domains, report):
    """The row's Entry, or None after adding its error to the report."""
    if len(row) > len(positions):
        reason = f"too many columns ({len(row)}; the header has {len(positions)})"
        report.errors.append((line, reason))
        return None
    row += [""] * (len(positions) - len(row))
    email_text = row[positions["email"]]
    try:
        email = normalise_email(email_text, domains)
    except subscribers.InvalidAddress as error:
        reason = str(error) if email_text.strip() else "the e-mail address is missing"
        report.errors.append((line, f"invalid e-mail address: {reason}"))
        return None
    first_name = row[positions["first_name"]] if "first_name" in positions else ""
    if len(first_name) > MAX_FIRST_NAME or any(c in first_name for c in "\r\n\0"):
        reason = f"first name must be one line of at most {MAX_FIRST_NAME} characters"
        report.errors.append((line, reason))
        return None
    language = row[positions["language"]].strip().lower() if "language" in positions else ""
    if language and language not in subscribers.LANGUAGES:
        allowed = ", ".join(subscribers.LANGUAGES)
        report.errors.append((line, f"language must be one of: {allowed} (got {language[:20]!r})"))
        return None
    return Entry(line, email, first_name.strip() or None, language or None)


def normalise_email(text, domains):
    """`subscribers.normalise_email`, with each domain's verdict cached in `domains`.

    Checking the domain is two thirds of email_validator's cost, and a list holds few
    distinct domains. Only plain ASCII addresses take this shortcut, with the same
    length limits; everything else gets the full check, the only one that rejects.
    """
    text = (text or "").strip()
    local, _, domain = text.rpartition("@")
    if len(text) <= 254 and len(local) <= 64 and domain.isascii():
        if SIMPLE_LOCAL_PART.fullmatch(local):
            if domain not in domains:
                try:
                    domains[domain] = subscribers.normalise_email("a@" + domain)[2:]
                except subscribers.InvalidAddress:
                    domains[domain] = None
            if domains[domain] is not None:
                return f"{local.lower()}@{domains[domain]}"
    return subscribers.normalise_email(text)


def chunks(items, size=CHUNK):
    """`items` (a list) in slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def select_in(run, sql, values):
    """What `run(sql, chunk)` yields for `values` in chunks; `{}` in `sql` is the list."""
    for chunk in chunks(values):
        yield from run(sql.format(", ".join("?" * len(chunk))), chunk)


def sort_entries(db, entries, report):
    """Split the file's addresses into (new, revived); count the refused and the active.

    Revived are existing records that are not active: pending, or churned without
    being suppressed (which does not happen: churning suppresses), as (id, Entry).
    """
    sql = "SELECT email, id, status FROM subscribers WHERE email IN ({})"
    existing = {
        email: (sid, status) for email, sid, status in select_in(db.execute, sql, [*entries])
    }
    candidates = []
    for email, entry in entries.items():
        if email in existing and existing[email][1] == "active":
            report.already_subscribed += 1
        else:
            candidates.append((entry, tokens.address_hashes(email)))
    hashes = [address for _, keyed in candidates for address in keyed]
    sql = "SELECT address_hash FROM suppressions WHERE address_hash IN ({})"
    suppressed = {address for (address,) in select_in(db.execute, sql, hashes)}
    new, revived = [], []
    for entry, keyed in candidates:
        if suppressed.intersection(keyed):
            report.refused_suppressed.append((entry.line, subscribers.mask_email(entry.email)))
        elif entry.email in existing:
            revived.append((existing[entry.email][0], entry))
        else:
            new.append(entry)
    return new, revived


def insert_subscribers(db, entries, status, source, now, steps):
    """Insert new subscribers (pending ones with a request time); returns {email: id}."""
    stamp = isoformat(now)
    requested_at, confirmed_at = (stamp, None) if status == "pending" else (None, stamp)
    sql = (
        "INSERT INTO subscribers (email, first_name, language, status, source, created_at, "
        "requested_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    fixed = (status, source, stamp, requested_at, confirmed_at)
    values = [(e.email, e.first_name, e.language or "en", *fixed) for e in entries]
    # We hold the write lock, so every id above the current highest is one of ours.
    (highest,) = db.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()
    for chunk in chunks(values, PROGRESS_EVERY):
        db.conn.executemany(sql, chunk)
        steps.advance(len(chunk))
    return dict(db.execute("SELECT email, id FROM subscribers WHERE id > ?", [highest]))


def write_confirmed(db, new, revived, source, legal_basis, now, steps):
    """Make the addresses active on staff authority, with consent proof and history."""
    stamp = isoformat(now)
    ids = insert_subscribers(db, new, "active", f"import: {source}", now, steps)
    # A pending record keeps what it knew unless the file says otherwise, and its
    # `source` (how the record began): the consent proof below says what happened.
    db.conn.executemany(
        "UPDATE subscribers SET status = 'active', confirmed_at = ?, churned_at = NULL, "
        "churn_source = NULL, churn_campaign_id = NULL, first_name = coalesce(?, first_name), "
        "language = coalesce(?, language) WHERE id = ?",
        [(stamp, e.first_name, e.language, sid) for sid, e in revived],
    )
    steps.advance(len(revived))
    subscriber_ids = [ids[e.email] for e in new] + [sid for sid, _ in revived]
    db.conn.executemany(
        "INSERT INTO consents (subscriber_id, method, submitted_at, confirmed_at, source, "
        "legal_basis) VALUES (?, 'import', ?, ?, ?, ?)",
        [(sid, stamp, stamp, source, legal_basis) for sid in subscriber_ids],
    )
    db.conn.executemany(
        "INSERT INTO subscriber_events (subscriber_id, kind, at, source) "
        "VALUES (?, 'imported', ?, ?)",
        [(sid, stamp, source) for sid in subscriber_ids],
    )


def write_pending(db, new, revived, source, now, report, steps):
    """Store signup requests like the public form does; returns [(subscriber id, send id)].

    An address over the signup mail limits is left as it is, as `signup.prepare`
    leaves it, so a link mailed moments ago stays valid.
    """
    asked = len(new) + len(revived)
    new = [e for e in new if signup.may_send(db, e.email, now)]
    revived = [(sid, e) for sid, e in revived if signup.may_send(db, e.email, now)]
    report.mails_limited = asked - len(new) - len(revived)
    steps.advance(report.mails_limited)
    ids = insert_subscribers(db, new, "pending", f"import: {source}", now, steps)
    # A re-signup: a fresh request (the old link stops working), names kept if not given.
    db.conn.executemany(
        "UPDATE subscribers SET requested_at = ?, request_text_version = NULL, "
        "request_page = NULL, first_name = coalesce(?, first_name), "
        "language = coalesce(?, language) WHERE id = ?",
        [(isoformat(now), e.first_name, e.language, sid) for sid, e in revived],
    )
    steps.advance(len(revived))
    pending = []
    for subscriber_id, entry in [(ids[e.email], e) for e in new] + revived:
        subscribers.record_event(db, subscriber_id, "signup_requested", now, "import")
        pending.append((subscriber_id, signup.record_send(db, entry.email, "confirm", now)))
    report.added = len(pending)
    return pending


def send_confirmations(db, pending, report, steps):
    """Mail each pending address its confirmation link over one reused SMTP connection.

    As in `signup.subscribe`, a failed mail is not counted against the address's
    limits, so importing the file again mails it. After a few failures in a row the
    relay is taken to be down and the rest are counted as failed without trying.
    """
    send_ids = dict(pending)
    sql = "SELECT * FROM subscribers WHERE id IN ({}) ORDER BY id"
    failed, in_a_row, connection = [], 0, None
    with contextlib.ExitStack() as stack:
        for subscriber in list(select_in(db.query, sql, [*send_ids])):
            steps.advance()
            if in_a_row >= MAX_MAIL_FAILURES_IN_A_ROW:
                failed.append(send_ids[subscriber["id"]])
                continue
            try:
                if connection is None:
                    connection = stack.enter_context(mailer.open_connection())
                mailer.send(signup.confirmation_message(subscriber), connection)
            # Opening the connection raises what smtplib raises: OSError subclasses.
            except (mailer.MailDeliveryError, OSError) as error:
                current_app.logger.warning("import: confirmation mail failed: %s", error)
                failed.append(send_ids[subscriber["id"]])
                in_a_row += 1
                # Start afresh with the next mail; a broken relay may fail the goodbye too.
                with contextlib.suppress(OSError):
                    stack.close()
                connection = None
            else:
                report.mails_sent, in_a_row = report.mails_sent + 1, 0
    report.mails_failed = len(failed)
    with write_transaction(db):
        db.conn.executemany(
            "DELETE FROM newsletter_mail_sends WHERE id = ?", [(i,) for i in failed]
        )
