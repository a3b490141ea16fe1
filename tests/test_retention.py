"""The retention engine: boundaries per category, raw-file scan, anonymous statistics."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from campaign_helpers import add_subscribers, new_campaign, send

from weprode.db import isoformat
from weprode.newsletter import optout, subscribers
from weprode.privacy import retention

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def due(results, key):
    return {result.key: result.due for result in results}[key]


def churned(app, db, email, when):
    [subscriber_id] = add_subscribers(app, db, [(email, "Ada", "en")])
    with app.app_context():
        optout.unsubscribe(db, subscriber_id, "one-click", when)
    return subscriber_id


def test_churned_subscribers_are_due_three_years_after_churn(app, db):
    churned(app, db, "old@example.org", retention.years_before(NOW, 3) - DAY)
    churned(app, db, "recent@example.org", retention.years_before(NOW, 3) + DAY)
    with app.app_context():
        assert due(retention.purge(db, NOW, dry_run=True), "subscribers") == 1
        assert db["subscribers"].count == 2  # a dry run changes nothing
        assert due(retention.purge(db, NOW), "subscribers") == 1
        assert subscribers.find_by_email(db, "old@example.org") is None
        assert subscribers.find_by_email(db, "recent@example.org") is not None
        # The keyed fingerprint stays, so the address is never mailed again.
        assert subscribers.is_suppressed(db, "old@example.org")
        assert due(retention.purge(db, NOW), "subscribers") == 0  # idempotent


def test_active_subscribers_are_never_purged(app, db):
    add_subscribers(app, db, [("loyal@example.org", None, "en")])
    db.execute("UPDATE subscribers SET created_at = '2001-01-01T00:00:00+00:00'")
    with app.app_context():
        retention.purge(db, NOW)
    assert db["subscribers"].count == 1


@pytest.mark.parametrize("offset, expected", [(-DAY, 1), (DAY, 0)])
def test_unconfirmed_signups_are_due_after_30_days(db, offset, expected):
    requested = isoformat(NOW - timedelta(days=30) + offset)
    db.execute(
        "INSERT INTO subscribers (email, language, status, source, created_at, requested_at) "
        "VALUES ('p@example.org', 'en', 'pending', 'form', ?, ?)",
        [requested, requested],
    )
    assert due(retention.purge(db, NOW), "pending_signups") == expected
    assert db["subscribers"].count == 1 - expected


@pytest.mark.parametrize("offset, expected", [(-DAY, 1), (DAY, 0)])
def test_prospects_are_due_three_years_after_last_interaction(db, offset, expected):
    last = isoformat(retention.years_before(NOW, 3) + offset)
    db.execute(
        "INSERT INTO prospects (email, last_name, first_name, company, status, created_at, "
        "last_interaction_at) VALUES ('x@org.example', 'X', 'Y', 'Org', 'new', ?, ?)",
        [last, last],
    )
    assert due(retention.purge(db, NOW), "prospects") == expected
    assert db["prospects"].count == 1 - expected


@pytest.mark.parametrize("offset, expected", [(-DAY, 3), (DAY, 0)])
def test_staff_usage_records_are_due_after_one_year(db, offset, expected):
    at = isoformat(retention.years_before(NOW, 1) + offset)
    db.execute(
        "INSERT INTO audit_log (at, actor, action) VALUES (?, 'a@weprode.com', 'login')", [at]
    )
    db.execute("INSERT INTO login_failures (login, ip, at) VALUES ('a', '1.2.3.4', ?)", [at])
    db.execute(
        "INSERT INTO staff (email, password_hash, created_at) VALUES ('s@w.com', 'x', ?)", [at]
    )
    db.execute(
        "INSERT INTO staff_sessions (id, staff_id, created_at, last_seen_at) "
        "VALUES ('sid', 1, ?, ?)",
        [at, at],
    )
    assert due(retention.purge(db, NOW), "usage") == expected


@pytest.mark.parametrize("offset, expected", [(-DAY, 1), (DAY, 0)])
def test_rights_requests_are_kept_five_years(db, offset, expected):
    received = isoformat(retention.years_before(NOW, 5) + offset)
    db.execute(
        "INSERT INTO rights_requests (email, kind, received_at, due_at) "
        "VALUES ('r@example.org', 'access', ?, ?)",
        [received, received],
    )
    assert due(retention.purge(db, NOW), "rights_requests") == expected


def test_purged_address_is_gone_from_the_database_files(app, db, mailbox):
    secret = "very-unique-address-7781@example.org"
    subscriber_id = churned(app, db, secret, NOW)
    campaign_id = new_campaign(db)
    db.execute(
        "UPDATE subscribers SET status = 'active', churned_at = NULL WHERE id = ?", [subscriber_id]
    )
    send(app, db, campaign_id)
    with app.app_context():
        optout.unsubscribe(
            db, subscriber_id, "one-click", retention.years_before(NOW, 4), campaign_id
        )
    path = Path(app.config["DATABASE"])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secret.encode() in path.read_bytes()  # the scan can see it while it exists
    with app.app_context():
        retention.purge(db, NOW)
    for file in (path, Path(f"{path}-wal")):
        if file.exists():
            assert secret.encode() not in file.read_bytes(), file.name
    assert db["deliveries"].count == 0  # deliveries went with the person


def test_statistics_keep_counts_and_no_identifier(app, db, mailbox):
    ids = add_subscribers(app, db, [(f"s{i}@example.org", "Name", "en") for i in range(3)])
    campaign_id = new_campaign(db)
    send(app, db, campaign_id)
    with app.app_context():
        for subscriber_id in ids:
            optout.unsubscribe(
                db, subscriber_id, "one-click", retention.years_before(NOW, 4), campaign_id
            )
        retention.purge(db, NOW)
    stats = retention.statistics(db)
    values = {(row["metric"], row["dimension"]): row["value"] for row in stats}
    assert values[("churn", "one-click")] == 3
    assert values[("campaign_deliveries", f"{campaign_id}:sent")] == 3
    assert values[("campaign_unsubscribes", str(campaign_id))] == 3
    assert sum(v for (m, _), v in values.items() if m == "signups") == 3
    text = repr(stats)
    assert "@" not in text and "Name" not in text
    for row in stats:
        assert set(row) == {"month", "metric", "dimension", "value"}


def test_privacy_page_renders_the_retention_table_from_the_rules(client):
    html = client.get("/privacy").get_data(as_text=True)
    for rule in retention.RULES:  # the backup period is BACKUP_KEEP_DAYS (30)
        assert str(rule.period) % {"days": 30} in html
    assert "30 days" in html and "5 years" in html


def test_connections_overwrite_deleted_content(db):
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_purge_command_dry_run_then_real_run(app, db, runner):
    churned(app, db, "gone@example.org", datetime(2020, 1, 1, tzinfo=UTC))
    dry = runner.invoke(args=["retention", "purge", "--dry-run", "--now", "2026-11-26"])
    assert dry.exit_code == 0, dry.output
    subscribers_rule = str(retention.RULES_BY_KEY["subscribers"].data)
    assert f"{subscribers_rule}: 1 due" in dry.output
    assert db["subscribers"].count == 1
    real = runner.invoke(args=["retention", "purge", "--now", "2026-11-26"])
    assert f"{subscribers_rule}: 1 purged" in real.output
    assert db["subscribers"].count == 0
    again = runner.invoke(args=["retention", "purge", "--now", "2026-11-26"])
    assert f"{subscribers_rule}: 0 purged" in again.output
    bad = runner.invoke(args=["retention", "purge", "--now", "next tuesday"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output


def test_purge_removes_access_logs_older_than_a_year(app, db):
    from weprode import usage_log

    folder = Path(retention.log_folder(app))
    folder.mkdir(parents=True, exist_ok=True)
    old = usage_log.log_file(folder, (NOW - timedelta(days=366)).date())
    kept = usage_log.log_file(folder, (NOW - timedelta(days=364)).date())
    for path in (old, kept):
        Path(path).write_text("line\n")
    results = retention.purge(db, NOW, dry_run=True, log_folder=folder)
    assert {r.key: r.details for r in results}["usage"]["log_files"] == 1
    assert Path(old).exists()
    retention.purge(db, NOW, log_folder=folder)
    assert not Path(old).exists() and Path(kept).exists()


def schema(db):
    """Every table and index definition; a renamed table's name comes back quoted."""
    return sorted(
        (kind, name, re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", sql or ""))
        for kind, name, sql in db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        )
    )


def test_mass_purge_by_copying_survivors_keeps_schema_ids_and_leaves_no_trace(
    app, db, mailbox, monkeypatch
):
    import sqlite3

    from weprode.privacy import bulk_delete

    monkeypatch.setattr(bulk_delete, "MIN_ROWS", 1)  # take the copy path on a small table
    secret = "mass-purge-secret-5521@example.org"
    keeper_ids = add_subscribers(
        app, db, [("keep1@example.org", "Kay", "fr"), ("keep2@example.org", None, "en")]
    )
    doomed_ids = [
        churned(app, db, email, retention.years_before(NOW, 4))
        for email in (secret, "gone2@example.org", "gone3@example.org")
    ]
    campaign_id = new_campaign(db)
    send(app, db, campaign_id)  # deliveries for the keepers
    before_schema = schema(db)
    highest = max(doomed_ids)
    keeper_rows = [dict(subscribers.get(db, i)) for i in keeper_ids]
    with app.app_context():
        results = retention.purge(db, NOW)
    assert due(results, "subscribers") == 3
    assert schema(db) == before_schema  # same tables, same indexes, same definitions
    assert [dict(subscribers.get(db, i)) for i in keeper_ids] == keeper_rows
    assert all(subscribers.get(db, i) is None for i in doomed_ids)
    assert db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM consents").fetchone()[0] == 2
    # Foreign keys are enforced again, and ids of purged rows are never handed out again.
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO consents (subscriber_id, method, submitted_at, confirmed_at) "
            "VALUES (?, 'x', 'a', 'b')",
            [highest],
        )
    [new_id] = add_subscribers(app, db, [("new@example.org", None, "en")])
    assert new_id > highest
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    path = Path(app.config["DATABASE"])
    for file in (path, Path(f"{path}-wal")):
        if file.exists():
            assert secret.encode() not in file.read_bytes(), file.name
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1  # restored


def test_every_enforced_rule_has_a_purge_function_and_only_those():
    enforced = [rule.key for rule in retention.RULES if rule.enforced_here]
    assert len(enforced) >= 6
    for rule in retention.RULES:
        assert (rule.purge is not None) == rule.enforced_here, rule.key


def test_purge_reports_every_enforced_rule_subscribers_first(db):
    results = retention.purge(db, datetime(2030, 1, 1, tzinfo=UTC), dry_run=True)
    keys = [result.key for result in results]
    assert keys[0] == "subscribers"
    rules = (*retention.RULES, *retention.HOUSEKEEPING)
    assert sorted(keys) == sorted(rule.key for rule in rules if rule.enforced_here)


@pytest.mark.parametrize(
    ("last_throttle_days_ago", "expected"), [(31, 0), (29, 1), (None, 0), (-1, 1)]
)
def test_providers_not_throttled_for_30_days_are_forgotten(db, last_throttle_days_ago, expected):
    """A throttle that ended 29 days ago is kept, 31 days ago forgotten; a backoff still
    running (-1: ends tomorrow) is kept; a row without a throttle time goes."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    until = (
        None
        if last_throttle_days_ago is None
        else isoformat(now - timedelta(days=last_throttle_days_ago))
    )
    db.execute(
        "INSERT INTO provider_throttles (provider, strikes, throttled_until, updated_at) "
        "VALUES ('orange', 0, ?, ?)",
        [until, isoformat(now - timedelta(days=40))],
    )
    [result] = [r for r in retention.purge(db, now) if r.key == "provider_throttles"]
    assert result.due == 1 - expected
    assert db.execute("SELECT count(*) FROM provider_throttles").fetchone()[0] == expected


def test_provider_throttles_are_not_personal_data_on_the_privacy_page(client):
    html = client.get("/privacy").get_data(as_text=True)
    assert "provider_throttles" not in [rule.key for rule in retention.RULES]
    assert str(retention.HOUSEKEEPING[0].data) not in html
