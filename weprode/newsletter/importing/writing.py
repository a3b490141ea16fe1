"""Writing an import: sort the addresses against the database, write, then mail.

Everything but the mails runs inside the caller's write transaction (one chunk of
the file, see `batches`), in bulk: chunked `IN (...)` look-ups and `executemany`,
never one query per row.
"""

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from flask import current_app

from ... import tokens
from ...db import Database, isoformat, write_transaction
from ...mail import messages
from .. import signup, subscribers
from .reading import Entry, ImportReport, Progress

# Bound parameters per `IN (...)`: well under SQLite's lowest compiled-in limit (999).
CHUNK = 500
# After this many failures in a row the relay is taken to be down: stop trying.
MAX_MAIL_FAILURES_IN_A_ROW = 3


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    """`items` (a list) in slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def select_in(run: Callable[[str, list], Iterable[Any]], sql: str, values: list) -> Iterator[Any]:
    """What `run(sql, chunk)` yields for `values` in chunks; `{}` in `sql` is the list."""
    for chunk in chunks(values):
        yield from run(sql.format(", ".join("?" * len(chunk))), chunk)


class Sorted(NamedTuple):
    """A chunk's addresses against the database (see `sort_entries`)."""

    new: list[Entry]
    revived: list[tuple[int, Entry]]  # (id, entry): existing records that are not active
    joining: list[tuple[int, Entry]]  # (id, entry): active people new to the topic


def sort_entries(
    db: Database, entries: dict[str, Entry], report: ImportReport, topic_id: int
) -> Sorted:
    """Sort the file's addresses against the database and the import's topic; count
    the refused and those already receiving the topic.

    Revived are existing records that are not active: pending, or churned without
    being suppressed (which does not happen: churning suppresses). Joining are active
    people who do not receive the topic yet: they join it and keep their others. An
    active person who left this topic is refused like a suppressed address: only their
    own signup brings them back to it.
    """
    sql = "SELECT email, id, status FROM subscribers WHERE email IN ({})"
    existing = {
        email: (sid, status) for email, sid, status in select_in(db.execute, sql, [*entries])
    }
    active = [sid for sid, status in existing.values() if status == "active"]
    sql = (
        "SELECT subscriber_id, status FROM subscriptions "
        "WHERE topic_id = ? AND subscriber_id IN ({})"
    )
    in_topic = dict(select_in(lambda query, ids: db.execute(query, [topic_id, *ids]), sql, active))
    candidates, joining = [], []
    for email, entry in entries.items():
        sid, status = existing.get(email, (None, None))
        if status != "active":
            candidates.append((entry, tokens.address_hashes(email)))
        elif in_topic.get(sid) == "active":
            report.already_subscribed += 1
        elif in_topic.get(sid) == "churned":
            report.refused_suppressed.append((entry.line, subscribers.mask_email(entry.email)))
        else:
            joining.append((sid, entry))
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
    return Sorted(new, revived, joining)


def insert_subscribers(
    db: Database,
    entries: list[Entry],
    status: str,
    record: dict,
    now: datetime,
) -> dict[str, int]:
    """Insert new subscribers of the import `record` (pending ones with a request time
    and its topic as their request); returns {email: id}.

    They carry the import's id and stay invisible until that import is done.
    """
    stamp = isoformat(now)
    requested_at, confirmed_at = (stamp, None) if status == "pending" else (None, stamp)
    # A pending record asks for the import's topic, which its confirmation will join.
    request_topics = str(record["topic_id"]) if status == "pending" else None
    sql = (
        "INSERT INTO subscribers (email, first_name, language, status, source, created_at, "
        "requested_at, confirmed_at, import_id, request_topics) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    source = f"import: {record['source']}"
    fixed = (status, source, stamp, requested_at, confirmed_at, record["id"], request_topics)
    values = [(e.email, e.first_name, e.language or "en", *fixed) for e in entries]
    # We hold the write lock, so every id above the current highest is one of ours.
    (highest,) = db.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()
    db.conn.executemany(sql, values)
    return dict(db.execute("SELECT email, id FROM subscribers WHERE id > ?", [highest]))


def write_confirmed(db: Database, record: dict, found: Sorted, now: datetime) -> None:
    """Make the addresses readers of the import's topic on staff authority, with its
    consent proof and history; people joining keep their other topics and their details."""
    stamp = isoformat(now)
    source, topic_id = record["source"], record["topic_id"]
    ids = insert_subscribers(db, found.new, "active", record, now)
    # A pending record keeps what it knew unless the file says otherwise, and its
    # `source` (how the record began): the consent proof below says what happened.
    db.conn.executemany(
        "UPDATE subscribers SET status = 'active', confirmed_at = ?, churned_at = NULL, "
        "churn_source = NULL, churn_campaign_id = NULL, first_name = coalesce(?, first_name), "
        "language = coalesce(?, language) WHERE id = ?",
        [(stamp, e.first_name, e.language, sid) for sid, e in found.revived],
    )
    joined = [(ids[e.email], e) for e in found.new] + found.revived + found.joining
    subscriber_ids = [sid for sid, _ in joined]
    # Imports join the topic staff chose: the list they collected these consents for.
    db.conn.executemany(
        "INSERT INTO subscriptions (subscriber_id, topic_id, status, subscribed_at) "
        "VALUES (?, ?, 'active', ?) ON CONFLICT (subscriber_id, topic_id) DO UPDATE SET "
        "status = 'active', subscribed_at = excluded.subscribed_at, churned_at = NULL, "
        "churn_source = NULL, churn_campaign_id = NULL",
        [(sid, topic_id, stamp) for sid in subscriber_ids],
    )
    db.conn.executemany(
        "INSERT INTO consents (subscriber_id, topic_id, method, submitted_at, confirmed_at, "
        "source, legal_basis, language) VALUES (?, ?, 'import', ?, ?, ?, ?, "
        "(SELECT language FROM subscribers WHERE id = ?))",
        [
            (sid, topic_id, stamp, stamp, source, record["legal_basis"], sid)
            for sid in subscriber_ids
        ],
    )
    db.conn.executemany(
        "INSERT INTO subscriber_events (subscriber_id, kind, at, source) "
        "VALUES (?, 'imported', ?, ?)",
        [(sid, stamp, source) for sid in subscriber_ids],
    )


def write_pending(
    db: Database, record: dict, found: Sorted, now: datetime, report: ImportReport
) -> list[tuple[Entry, int, int]]:
    """Store signup requests for the import's topic like the public form does; returns
    [(entry, subscriber id, send id)].

    An address over the signup mail limits is left as it is, as `signup.prepare`
    leaves it, so a link mailed moments ago stays valid. An active person asked to
    join the topic keeps everything until they confirm: the file's name and language
    wait in the request, as a form's do.
    """
    asked = len(found.new) + len(found.revived) + len(found.joining)
    new = [e for e in found.new if signup.may_send(db, e.email, now)]
    revived = [(sid, e) for sid, e in found.revived if signup.may_send(db, e.email, now)]
    joining = [(sid, e) for sid, e in found.joining if signup.may_send(db, e.email, now)]
    report.mails_limited += asked - len(new) - len(revived) - len(joining)
    ids = insert_subscribers(db, new, "pending", record, now)
    topic, stamp = str(record["topic_id"]), isoformat(now)
    # A re-signup: a fresh request (the old link stops working), names kept if not given.
    db.conn.executemany(
        "UPDATE subscribers SET requested_at = ?, request_text_version = NULL, "
        "request_page = NULL, request_first_name = NULL, request_language = NULL, "
        "request_topics = ?, first_name = coalesce(?, first_name), "
        "language = coalesce(?, language) WHERE id = ?",
        [(stamp, topic, e.first_name, e.language, sid) for sid, e in revived],
    )
    db.conn.executemany(
        "UPDATE subscribers SET requested_at = ?, request_text_version = NULL, "
        "request_page = NULL, request_first_name = ?, request_language = ?, "
        "request_topics = ? WHERE id = ?",
        [(stamp, e.first_name, e.language, topic, sid) for sid, e in joining],
    )
    pending = []
    for subscriber_id, entry in [(ids[e.email], e) for e in new] + revived + joining:
        subscribers.record_event(db, subscriber_id, "signup_requested", now, "import")
        send_id = signup.record_send(db, entry.email, "confirm", now)
        pending.append((entry, subscriber_id, send_id))
    report.added += len(pending)
    return pending


def send_confirmations(
    db: Database, pending: list[tuple[int, int]], report: ImportReport, steps: Progress
) -> None:
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
                    connection = stack.enter_context(messages.open_connection())
                names = signup.requested_topic_names(db, subscriber)
                messages.send(signup.confirmation_message(subscriber, names), connection)
            # Opening the connection raises what smtplib raises: OSError subclasses.
            except (messages.MailDeliveryError, OSError) as error:
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
