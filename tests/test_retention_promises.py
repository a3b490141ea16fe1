"""Promises of the retention engine: a dry run deletes nothing anywhere, each period is
pinned at its exact boundary, and a purged subscriber leaves no row behind.

Written against mutation-testing survivors (issue 17). Boundaries are written out as
dates here, not computed from `retention.RULES`, so a changed period fails a test.
"""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from campaign_helpers import new_campaign

from weprode import tokens, usage_log
from weprode.db import connect, isoformat, write_transaction
from weprode.newsletter import optout, signup, subscribers
from weprode.privacy import bulk_delete, retention, subscriber_purge

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
LONG_AGO = "2015-01-01T00:00:00+00:00"
LONG_AGO_DATE = datetime(2015, 1, 1, tzinfo=UTC)

# The moment before which each category is due at NOW (FACTS.md and the /privacy table).
CUTOFFS = {
    "subscribers": datetime(2023, 11, 26, 12, 0, tzinfo=UTC),  # 3 years after churn
    "pending_signups": datetime(2026, 10, 27, 12, 0, tzinfo=UTC),  # 30 days
    "prospects": datetime(2023, 11, 26, 12, 0, tzinfo=UTC),  # 3 years after last contact
    "usage": datetime(2025, 11, 26, 12, 0, tzinfo=UTC),  # 1 year
    "mail_limits": datetime(2026, 11, 24, 12, 0, tzinfo=UTC),  # 2 days
    "rights_requests": datetime(2021, 11, 26, 12, 0, tzinfo=UTC),  # 5 years
    "bounce_reports": datetime(2026, 10, 27, 12, 0, tzinfo=UTC),  # 30 days
}


# The table the privacy page publishes (FACTS.md): what we keep, and for how long.
PUBLISHED_PERIODS = [
    ("Commercial and prospecting data (contact and meeting requests)", "3 years"),
    ("Data needed to manage a contract", "10 years, or until the end of any pending dispute"),
    ("Newsletter subscribers’ data, with the e-mails we sent them", "3 years"),
    ("Newsletter signups never confirmed", "30 days"),
    ("Delivery failure and spam complaint reports about e-mails we sent you", "30 days"),
    ("Website login and usage data (access logs, staff logins and actions)", "1 year"),
    ("Records that limit how often we mail one address", "2 days"),
    ("Backup copies of this website’s database", "30 days"),
    (
        "Keyed fingerprint of an address that unsubscribed, objected to marketing or was "
        "erased (the address cannot be read back from it)",
        "as long as we send e-mails, so that the address is never written to again",
    ),
    ("Records of requests to exercise your rights", "5 years, to prove we answered"),
]


# Rows of each category, inserted as the application stores them -------------------------


def add_churned(db, email, churned_at):
    db.execute(
        "INSERT INTO subscribers (email, language, status, source, created_at, confirmed_at, "
        "churned_at, churn_source) VALUES (?, 'en', 'churned', 'form', ?, ?, ?, 'page')",
        [email, LONG_AGO, LONG_AGO, isoformat(churned_at)],
    )


def add_bounced(db, email, bounced_at):
    """A subscriber a hard bounce ended: the retention clock starts at the bounce."""
    db.execute(
        "INSERT INTO subscribers (email, language, status, source, created_at, confirmed_at, "
        "bounced_at) VALUES (?, 'en', 'bounced', 'form', ?, ?, ?)",
        [email, LONG_AGO, LONG_AGO, isoformat(bounced_at)],
    )


def add_pending(db, email, requested_at, created_at=None):
    db.execute(
        "INSERT INTO subscribers (email, language, status, source, created_at, requested_at) "
        "VALUES (?, 'en', 'pending', 'form', ?, ?)",
        [
            email,
            isoformat(created_at or requested_at),
            isoformat(requested_at) if requested_at else None,
        ],
    )


def add_prospect(db, email, last_interaction_at):
    db.execute(
        "INSERT INTO prospects (email, last_name, first_name, company, status, created_at, "
        "last_interaction_at) VALUES (?, 'Doe', 'Jo', 'Org', 'new', ?, ?)",
        [email, LONG_AGO, isoformat(last_interaction_at)],
    )


def add_audit(db, email, at):
    db.execute(
        "INSERT INTO audit_log (at, actor, action) VALUES (?, ?, 'login')", [isoformat(at), email]
    )


def add_login_failure(db, email, at):
    db.execute(
        "INSERT INTO login_failures (login, ip, at) VALUES (?, '192.0.2.1', ?)",
        [email, isoformat(at)],
    )


def add_session(db, email, last_seen_at):
    """A staff session opened long ago and last used at `last_seen_at`."""
    staff_id = db.execute(
        "INSERT INTO staff (email, password_hash, created_at) VALUES (?, 'x', ?)",
        [email, LONG_AGO],
    ).lastrowid
    db.execute(
        "INSERT INTO staff_sessions (id, staff_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
        [f"session-{email}", staff_id, LONG_AGO, isoformat(last_seen_at)],
    )


def add_mail_send(db, email, sent_at):
    db.execute(
        "INSERT INTO newsletter_mail_sends (address_hash, kind, sent_at) VALUES (?, 'confirm', ?)",
        [email, isoformat(sent_at)],
    )


def add_rights_request(db, email, received_at):
    db.execute(
        "INSERT INTO rights_requests (email, kind, status, received_at, due_at) "
        "VALUES (?, 'access', 'completed', ?, ?)",
        [email, isoformat(received_at), isoformat(received_at)],
    )


def add_bounce_report(db, email, received_at):
    db.execute(
        "INSERT INTO bounce_reports (received_at, kind, outcome, message) "
        "VALUES (?, 'bounce', 'not attributed', ?)",
        [isoformat(received_at), f"To: {email}\r\n\r\nbounce".encode()],
    )


# (category, table, column holding the clock, how to add one row)
ROWS = [
    ("subscribers", "subscribers", "churned_at", add_churned),
    ("pending_signups", "subscribers", "requested_at", add_pending),
    ("prospects", "prospects", "last_interaction_at", add_prospect),
    ("usage", "audit_log", "at", add_audit),
    ("usage", "login_failures", "at", add_login_failure),
    ("usage", "staff_sessions", "last_seen_at", add_session),
    ("mail_limits", "newsletter_mail_sends", "sent_at", add_mail_send),
    ("rights_requests", "rights_requests", "received_at", add_rights_request),
    ("bounce_reports", "bounce_reports", "received_at", add_bounce_report),
]


def due(results):
    return {result.key: result.due for result in results}


def counts(db):
    """Rows per table, for every table in the database."""
    names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def log_file(folder, days_ago):
    path = usage_log.log_file(folder, NOW.date() - timedelta(days=days_ago))
    path.write_text("127.0.0.1 GET / 200\n")
    return path


def one_of_everything_due(app, db):
    """One due and one kept record in every category, a churned subscriber with his
    history, consent and delivery, and access logs; returns the log folder."""
    old, recent = datetime(2019, 1, 1, tzinfo=UTC), NOW - timedelta(days=1)
    for category, _table, _column, add in ROWS:
        add(db, f"due-{category}-{add.__name__}@example.org", old)
        add(db, f"kept-{category}-{add.__name__}@example.org", recent)
    gone = subscribers.find_by_email(db, "due-subscribers-add_churned@example.org")["id"]
    subscribers.record_event(db, gone, "churned", old, "page")
    subscribers.record_consent(db, gone, "double-opt-in", old, old, [1])
    campaign_id = new_campaign(db)
    db.execute(
        "INSERT INTO deliveries (campaign_id, subscriber_id, status) VALUES (?, ?, 'sent')",
        [campaign_id, gone],
    )
    for provider, until in (("orange", old), ("free", recent)):
        db.execute(
            "INSERT INTO provider_throttles (provider, strikes, throttled_until, updated_at) "
            "VALUES (?, 1, ?, ?)",
            [provider, isoformat(until), isoformat(until)],
        )
    folder = Path(retention.log_folder(app))
    folder.mkdir(parents=True, exist_ok=True)
    log_file(folder, 400)
    log_file(folder, 10)
    return folder


EVERYTHING_DUE = {
    "subscribers": 1,
    "pending_signups": 1,
    "prospects": 1,
    "usage": 4,  # audit entry, login failure, staff session, log file
    "mail_limits": 1,
    "rights_requests": 1,
    "bounce_reports": 1,
    "provider_throttles": 1,  # not personal data: housekeeping, not on the privacy page
}


# Dry runs ---------------------------------------------------------------------------


def test_the_privacy_page_publishes_every_retention_period_even_for_data_kept_elsewhere(client):
    html = client.get("/privacy").get_data(as_text=True)
    rows = re.findall(r'<th scope="row">([^<]*)</th>\s*<td[^>]*>([^<]*)</td>', html)
    assert [(unescape(data), unescape(period)) for data, period in rows] == PUBLISHED_PERIODS


def test_dry_run_deletes_nothing_in_any_category(app, db):
    folder = one_of_everything_due(app, db)
    before, files = counts(db), sorted(folder.iterdir())
    with app.app_context():
        results = retention.purge(db, NOW, dry_run=True, log_folder=folder)
    assert due(results) == EVERYTHING_DUE  # it says what it would delete...
    details = {result.key: result.details for result in results}
    assert details["subscribers"] == {"deliveries": 1}
    assert details["usage"] == {
        "audit_log": 1,
        "login_failures": 1,
        "staff_sessions": 1,
        "log_files": 1,
    }
    assert counts(db) == before  # ...and deletes nothing, nor adds statistics
    assert sorted(folder.iterdir()) == files
    # The same records really were due: the real run removes exactly them.
    with app.app_context():
        assert due(retention.purge(db, NOW, log_folder=folder)) == EVERYTHING_DUE
    after = counts(db)
    assert before["subscribers"] - after["subscribers"] == 2  # churned and pending
    for table in ("subscriber_events", "consents", "deliveries", "prospects", "audit_log"):
        assert before[table] - after[table] == 1, table
    for table in (
        "login_failures",
        "staff_sessions",
        "newsletter_mail_sends",
        "rights_requests",
        "bounce_reports",
    ):
        assert before[table] - after[table] == 1, table
    assert len(list(folder.iterdir())) == 1


def test_dry_run_command_deletes_nothing_in_any_category(app, db, runner):
    folder = one_of_everything_due(app, db)
    before, files = counts(db), sorted(folder.iterdir())
    result = runner.invoke(args=["retention", "purge", "--dry-run", "--now", "2026-11-26T12:00"])
    assert result.exit_code == 0, result.output
    # Each rule by its name on the privacy page (the housekeeping one has its own).
    usage = "1 audit log entry, 1 failed login, 1 staff session, 1 log file"
    assert result.output.splitlines() == [
        "Newsletter subscribers’ data, with the e-mails we sent them: 1 due "
        "(1 record of a mail sent)",
        "Commercial and prospecting data (contact and meeting requests): 1 due",
        "Newsletter signups never confirmed: 1 due",
        "Delivery failure and spam complaint reports about e-mails we sent you: 1 due",
        f"Website login and usage data (access logs, staff logins and actions): 4 due ({usage})",
        "Records that limit how often we mail one address: 1 due",
        "Records of requests to exercise your rights: 1 due",
        "How often each mailbox provider told our sender to slow down: 1 due",
    ]
    assert counts(db) == before
    assert sorted(folder.iterdir()) == files
    real = runner.invoke(args=["retention", "purge", "--now", "2026-11-26T12:00"])
    assert f"actions): 4 purged ({usage})" in real.output
    assert counts(db) != before


# Each period at its boundary ----------------------------------------------------------


# A hard bounce starts the subscriber's clock too (its own column).
BOUNDARY_ROWS = [*ROWS, ("subscribers", "subscribers", "bounced_at", add_bounced)]


@pytest.mark.parametrize(
    "category, table, column, add",
    BOUNDARY_ROWS,
    ids=[f"{row[0]}-{row[2]}" for row in BOUNDARY_ROWS],
)
def test_each_period_ends_exactly_at_its_boundary(app, db, category, table, column, add):
    """Due one second past the period; kept at exactly the period and one second short."""
    cutoff = CUTOFFS[category]
    for name, moment in (("over", cutoff - SECOND), ("exact", cutoff), ("short", cutoff + SECOND)):
        add(db, f"{name}@example.org", moment)
    with app.app_context():
        results = retention.purge(db, NOW)
    assert due(results)[category] == 1
    assert sum(due(results).values()) == 1  # no other category touched these rows
    kept = sorted(row[0] for row in db.execute(f"SELECT {column} FROM {table}"))
    assert kept == [isoformat(cutoff), isoformat(cutoff + SECOND)]


def test_pending_signup_is_kept_29_days_and_deleted_after_30(app, db):
    ages = {
        "d29": timedelta(days=29),
        "d29-and-a-bit": timedelta(days=29, hours=23, minutes=59),
        "d30-exactly": timedelta(days=30),
        "d30-and-a-bit": timedelta(days=30, minutes=1),
        "d31": timedelta(days=31),
    }
    for name, age in ages.items():
        add_pending(db, f"{name}@example.org", NOW - age)
    with app.app_context():
        assert due(retention.purge(db, NOW))["pending_signups"] == 2
    left = sorted(row["email"] for row in db.query("SELECT email FROM subscribers"))
    assert left == ["d29-and-a-bit@example.org", "d29@example.org", "d30-exactly@example.org"]


def test_a_renewed_signup_request_restarts_the_pending_clock(app, db):
    add_pending(
        db, "renewed@example.org", NOW - timedelta(days=1), created_at=NOW - timedelta(days=90)
    )
    add_pending(db, "never-requested@example.org", None, created_at=NOW - timedelta(days=31))
    add_pending(db, "fresh@example.org", None, created_at=NOW - timedelta(days=1))
    with app.app_context():
        assert due(retention.purge(db, NOW))["pending_signups"] == 1
    left = sorted(row["email"] for row in db.query("SELECT email FROM subscribers"))
    assert left == ["fresh@example.org", "renewed@example.org"]


def test_the_pending_rule_never_deletes_active_or_churned_subscribers(app, db):
    for status in ("active", "churned"):
        db.execute(
            "INSERT INTO subscribers (email, language, status, source, created_at, "
            "requested_at, confirmed_at, churned_at) VALUES (?, 'en', ?, 'form', ?, ?, ?, ?)",
            [
                f"{status}@example.org",
                status,
                LONG_AGO,
                LONG_AGO,
                LONG_AGO,
                isoformat(NOW) if status == "churned" else None,
            ],
        )
    with app.app_context():
        assert due(retention.purge(db, NOW)) == dict.fromkeys(EVERYTHING_DUE, 0)
    assert db["subscribers"].count == 2


def test_unconfirmed_signups_leave_only_a_monthly_count(app, db):
    for index in range(2):
        add_pending(db, f"p{index}@example.org", datetime(2026, 9, 3 + index, tzinfo=UTC))
    with app.app_context():
        retention.purge(db, NOW, dry_run=True)
        assert retention.statistics(db) == []
        retention.purge(db, NOW)
    assert retention.statistics(db) == [
        {"month": "2026-09", "metric": "unconfirmed_signups", "dimension": "", "value": 2}
    ]


def test_the_monthly_count_of_unconfirmed_signups_counts_exactly_the_rows_deleted(app, db):
    """What is kept of deleted signups is one count per month of the rows deleted: not
    the signup at the boundary (kept), not the other subscribers."""
    add_pending(db, "august@example.org", datetime(2026, 8, 10, tzinfo=UTC))
    add_pending(db, "sept1@example.org", datetime(2026, 9, 3, tzinfo=UTC))
    add_pending(db, "sept2@example.org", datetime(2026, 9, 4, tzinfo=UTC))
    add_pending(db, "edge@example.org", CUTOFFS["pending_signups"])
    db.execute(
        "INSERT INTO subscribers (email, language, status, source, created_at, confirmed_at) "
        "VALUES ('active@example.org', 'en', 'active', 'form', ?, ?)",
        [LONG_AGO, LONG_AGO],
    )
    with app.app_context():
        retention.purge(db, NOW)
    counted = [row for row in retention.statistics(db) if row["metric"] == "unconfirmed_signups"]
    assert [(row["month"], row["value"]) for row in counted] == [("2026-08", 1), ("2026-09", 2)]
    assert subscribers.find_by_email(db, "edge@example.org")["status"] == "pending"


def test_access_log_files_are_kept_365_days_and_deleted_after(app, db, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    paths = {days: log_file(folder, days) for days in (364, 365, 366, 400)}
    (folder / "notes.txt").write_text("not a log file\n")
    with app.app_context():
        results = retention.purge(db, NOW, log_folder=folder)
    assert {r.key: r.details for r in results}["usage"]["log_files"] == 2
    assert [days for days, path in paths.items() if path.exists()] == [364, 365]
    assert (folder / "notes.txt").exists()


def test_mail_limit_records_are_deleted_exactly_when_due(app, db):
    with app.app_context():
        for age in (timedelta(days=3), timedelta(days=2, seconds=1), timedelta(days=2)):
            signup.record_send(db, "ada@example.org", "confirm", NOW - age)
        signup.record_send(db, "ada@example.org", "confirm", NOW - timedelta(minutes=5))
        results = retention.purge(db, NOW)
        assert due(results)["mail_limits"] == 2
        left = [row[0] for row in db.execute("SELECT sent_at FROM newsletter_mail_sends")]
        assert sorted(left) == [
            isoformat(NOW - timedelta(days=2)),
            isoformat(NOW - timedelta(minutes=5)),
        ]
        # What is kept still counts: the ten-minute limit holds after the purge.
        assert not signup.may_send(db, "ada@example.org", NOW)
        assert due(retention.purge(db, NOW))["mail_limits"] == 0


def test_a_year_before_29_february_is_28_february(app):
    leap_day = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert retention.years_before(leap_day, 1) == datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
    assert retention.years_before(leap_day, 4) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    assert retention.RULES_BY_KEY["subscribers"].cutoff(leap_day) == datetime(
        2025, 2, 28, 12, 0, tzinfo=UTC
    )


# Purging subscribers leaves no row behind ---------------------------------------------


def history_of(db, subscriber_id):
    """Every row hanging off a subscriber, by table."""
    return {
        table: list(db.query(f"SELECT * FROM {table} WHERE {column} = ?", [subscriber_id]))
        for table, column in subscriber_purge.subscriber_children(db)
    }


def test_the_purge_finds_every_table_that_points_at_subscribers(db):
    children = dict(subscriber_purge.subscriber_children(db))
    for table in ("subscriber_events", "consents", "deliveries", "bounce_events", "bounce_reports"):
        assert children[table] == "subscriber_id"
    assert "subscribers" not in children
    assert "campaigns" not in children


def subscriber_with_history(app, db, email, campaign_id, churned_at=None, added_at=LONG_AGO_DATE):
    """A subscriber added by staff (consent, event), mailed once, maybe churned since."""
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(db, email, "test", added_at)
        if churned_at:
            optout.unsubscribe(db, subscriber_id, "one-click", churned_at, campaign_id)
    db.execute(
        "INSERT INTO deliveries (campaign_id, subscriber_id, status) VALUES (?, ?, 'sent')",
        [campaign_id, subscriber_id],
    )
    # A soft bounce of that delivery, with its report (recent: the 30-day rule for raw
    # reports must not be what removes it): personal data too.
    report_id = db.execute(
        "INSERT INTO bounce_reports (received_at, kind, subscriber_id, outcome, message) "
        "VALUES (?, 'dsn', ?, 'stored', ?)",
        [(NOW - timedelta(days=1)).isoformat(), subscriber_id, f"To: {email}".encode()],
    ).lastrowid
    db.execute(
        "INSERT INTO bounce_events (subscriber_id, at, severity, status_code, mail_kind, "
        "campaign_id, source, report_id) VALUES (?, ?, 'soft', '4.2.2', 'campaign', ?, "
        "'report', ?)",
        [subscriber_id, added_at.isoformat(), campaign_id, report_id],
    )
    db.conn.commit()
    return subscriber_id


def test_purged_subscribers_leave_exact_monthly_counts_that_add_up_across_purges(app, db):
    """Per month of the event: signups by kind, churns by source, unsubscribes by
    campaign; deliveries by the campaign's month. A second purge adds to the first."""
    campaign_id = new_campaign(db)
    campaign_month = db["campaigns"].get(campaign_id)["created_at"][:7]
    # One purge over two months of each event: each month is counted on its own.
    march, april = datetime(2020, 3, 10, tzinfo=UTC), datetime(2020, 4, 2, tzinfo=UTC)
    added = datetime(2016, 5, 1, tzinfo=UTC)
    subscriber_with_history(app, db, "march@example.org", campaign_id, march)
    subscriber_with_history(app, db, "april@example.org", campaign_id, april, added_at=added)
    with app.app_context():
        retention.purge(db, NOW)
    # A later purge adds to those counts.
    later = datetime(2020, 3, 20, tzinfo=UTC)
    subscriber_with_history(app, db, "march20@example.org", campaign_id, later)
    with app.app_context():
        retention.purge(db, NOW)
    rows = [tuple(row.values()) for row in retention.statistics(db)]
    assert rows == [
        ("2015-01", "signups", "added_by_staff", 2),
        ("2016-05", "signups", "added_by_staff", 1),
        ("2020-03", "campaign_unsubscribes", str(campaign_id), 2),
        ("2020-03", "churn", "one-click", 2),
        ("2020-04", "campaign_unsubscribes", str(campaign_id), 1),
        ("2020-04", "churn", "one-click", 1),
        (campaign_month, "campaign_deliveries", f"{campaign_id}:sent", 3),
    ]


@pytest.mark.parametrize("path", ["delete", "copy-survivors"])
def test_purged_subscribers_take_their_events_consents_and_deliveries_along(
    app, db, monkeypatch, path
):
    rebuilt = []
    if path == "copy-survivors":
        monkeypatch.setattr(bulk_delete, "MIN_ROWS", 1)
        original = bulk_delete.rebuild_keeping
        monkeypatch.setattr(
            bulk_delete,
            "rebuild_keeping",
            lambda db, table, *args: rebuilt.append(table) or original(db, table, *args),
        )
    campaign_id = new_campaign(db)
    four_years_ago = NOW - timedelta(days=4 * 365)
    doomed = [
        subscriber_with_history(app, db, f"gone{i}@example.org", campaign_id, four_years_ago)
        for i in range(3)
    ]
    keepers = [
        subscriber_with_history(app, db, "active@example.org", campaign_id),
        subscriber_with_history(app, db, "left@example.org", campaign_id, NOW - timedelta(30)),
    ]
    kept_before = {i: (subscribers.get(db, i), history_of(db, i)) for i in keepers}
    assert all(all(history_of(db, i).values()) for i in doomed + keepers)  # rows to remove
    with app.app_context():
        [result] = [r for r in retention.purge(db, NOW) if r.key == "subscribers"]
    assert (result.due, result.details) == (3, {"deliveries": 3})
    for subscriber_id in doomed:
        assert subscribers.get(db, subscriber_id) is None
        assert history_of(db, subscriber_id) == dict.fromkeys(history_of(db, subscriber_id), [])
    assert {i: (subscribers.get(db, i), history_of(db, i)) for i in keepers} == kept_before
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []  # no orphan anywhere
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with app.app_context():  # the fingerprint stays: never mailed again
        assert all(subscribers.is_suppressed(db, f"gone{i}@example.org") for i in range(3))
    children = [table for table, _column in subscriber_purge.subscriber_children(db)]
    assert rebuilt == (children + ["subscribers"] if path == "copy-survivors" else [])


def test_dry_run_of_the_subscriber_purge_keeps_every_row_even_on_the_copy_path(
    app, db, monkeypatch
):
    monkeypatch.setattr(bulk_delete, "MIN_ROWS", 1)
    campaign_id = new_campaign(db)
    gone = subscriber_with_history(app, db, "gone@example.org", campaign_id, LONG_AGO_DATE)
    before = counts(db)
    requests_before = CUTOFFS["pending_signups"]
    due = subscriber_purge.purge_subscribers(
        db, CUTOFFS["subscribers"], True, requests_before=requests_before
    )
    assert due == (1, 1)
    assert counts(db) == before
    assert all(history_of(db, gone).values())
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "nothing due"])
def test_a_subscriber_purge_that_removes_nothing_leaves_the_file_untouched(app, db, dry_run):
    """No rewrite (VACUUM) of a database that lost no row: another connection sees no
    change at all (its data_version moves on any write to the file)."""
    campaign_id = new_campaign(db)
    churned_at = LONG_AGO_DATE if dry_run else NOW - timedelta(days=1)
    subscriber_with_history(app, db, "left@example.org", campaign_id, churned_at)
    watcher = connect(app.config["DATABASE"])
    version = watcher.execute("PRAGMA data_version").fetchone()[0]
    due = subscriber_purge.purge_subscribers(
        db, CUTOFFS["subscribers"], dry_run, requests_before=CUTOFFS["pending_signups"]
    )
    assert due == ((1, 1) if dry_run else (0, 0))
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
    watcher.close()


def test_a_subscriber_purge_gives_the_connection_back_with_its_own_cache_size(app, db):
    db.execute("PRAGMA cache_size=-4000")
    campaign_id = new_campaign(db)
    subscriber_with_history(app, db, "gone@example.org", campaign_id, LONG_AGO_DATE)
    subscriber_purge.purge_subscribers(
        db, CUTOFFS["subscribers"], False, requests_before=CUTOFFS["pending_signups"]
    )
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -4000


@pytest.mark.parametrize(
    "table_rows, doomed, worth",
    [(8, 3, False), (8, 4, True), (10, 4, False), (10, 5, True), (10, 10, True)],
)
def test_copying_survivors_only_when_enough_rows_and_at_least_half_go(
    db, monkeypatch, table_rows, doomed, worth
):
    monkeypatch.setattr(bulk_delete, "MIN_ROWS", 4)
    db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
    for _ in range(table_rows):
        db.execute("INSERT INTO scratch DEFAULT VALUES")
    assert bulk_delete.worth_rebuilding(db, "scratch", doomed) is worth


def test_the_copy_path_needs_fifty_thousand_rows_by_default(db):
    db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
    assert bulk_delete.worth_rebuilding(db, "scratch", 49_999) is False
    assert bulk_delete.MIN_ROWS == 50_000 and bulk_delete.MIN_SHARE == 0.5


def test_rebuilding_a_table_keeps_exactly_the_rows_its_parameterised_condition_names(db):
    db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER)")
    db.execute("CREATE INDEX scratch_n ON scratch (n)")
    for n in range(1, 7):
        db.execute("INSERT INTO scratch (n) VALUES (?)", [n])
    with write_transaction(db):
        bulk_delete.rebuild_keeping(db, "scratch", "n > ? AND n != ?", [2, 5])
    assert [row[0] for row in db.execute("SELECT n FROM scratch ORDER BY n")] == [3, 4, 6]
    indexes = db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'scratch'")
    assert sorted(row[0] for row in indexes) == ["scratch", "scratch_n"]


# A bug found while writing these --------------------------------------------------------


def test_a_fresh_signup_request_from_someone_who_left_long_ago_survives_the_purge(app, db):
    add_churned(db, "back@example.org", datetime(2020, 1, 1, tzinfo=UTC))
    request = signup.SignupRequest("back@example.org", None, "en", "2026-11-v1", "/newsletter")
    with app.app_context():
        _kind, subscriber, _ = signup.prepare(db, request, NOW - timedelta(days=1))
        token = tokens.make_confirm_token(subscriber["id"], NOW - timedelta(days=1))
        retention.purge(db, NOW)
        assert signup.confirm(db, token, NOW)[0] == "confirmed"


def test_a_stale_signup_request_does_not_keep_someone_who_left_long_ago(app, db):
    add_churned(db, "back@example.org", datetime(2020, 1, 1, tzinfo=UTC))
    request = signup.SignupRequest("back@example.org", None, "en", "2026-11-v1", "/newsletter")
    requested = CUTOFFS["pending_signups"]
    with app.app_context():
        signup.prepare(db, request, requested - timedelta(seconds=1))
        retention.purge(db, NOW)
    assert subscribers.find_by_email(db, "back@example.org") is None


def test_a_signup_request_at_the_pending_boundary_still_keeps_the_row(app, db):
    add_churned(db, "back@example.org", datetime(2020, 1, 1, tzinfo=UTC))
    request = signup.SignupRequest("back@example.org", None, "en", "2026-11-v1", "/newsletter")
    with app.app_context():
        signup.prepare(db, request, CUTOFFS["pending_signups"])
        retention.purge(db, NOW)
    assert subscribers.find_by_email(db, "back@example.org")["status"] == "churned"


@pytest.mark.parametrize("survivor", [False, True], ids=["table emptied", "one kept"])
def test_subscriber_ids_are_never_reused_after_a_purge_by_copy(app, db, monkeypatch, survivor):
    """Unsubscribe links name the subscriber id and never expire: a new person must never
    get the id of someone purged, even when the copy path rebuilds the table."""
    monkeypatch.setattr(bulk_delete, "MIN_ROWS", 1)
    if survivor:  # the oldest id stays, so the copy's own high-water mark is too low
        with app.app_context():
            subscribers.add_confirmed(db, "kept@example.org", "t", NOW - timedelta(days=1))
    for n in range(3):
        add_churned(db, f"gone{n}@example.org", LONG_AGO_DATE)
    highest = db.execute("SELECT max(id) FROM subscribers").fetchone()[0]
    retention.purge(db, NOW)
    assert db["subscribers"].count == (1 if survivor else 0)
    with app.app_context():
        new_id, _ = subscribers.add_confirmed(db, "new@example.org", "t", NOW)
    assert new_id > highest
