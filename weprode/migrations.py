"""Schema changes, applied in order by `flask --app app migrate`.

Each migration is named and runs once inside a transaction (sqlite-utils records it in
`_sqlite_migrations`), so running `migrate` again is a no-op. A migration is frozen
history: it holds its own SQL and never imports application code, whose later edits
would otherwise change what an old migration does (tests/test_factory.py checks).
"""

from collections.abc import Iterable

import sqlite_utils

migrations = sqlite_utils.Migrations("weprode")


def run_statements(db: sqlite_utils.Database, statements: Iterable[str]) -> None:
    """Execute DDL one statement at a time (executescript would commit mid-migration)."""
    for statement in statements:
        db.execute(statement)


@migrations(name="0001_subscribers")
def create_subscribers(db: sqlite_utils.Database) -> None:
    """Subscribers, consent proofs, history, the suppression list and mail sends.

    AUTOINCREMENT keeps ids from ever being reused after a purge, because signed
    unsubscribe links name the subscriber by id and never expire.
    """
    run_statements(
        db,
        [
            """CREATE TABLE subscribers (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL UNIQUE,
                first_name TEXT,
                language TEXT NOT NULL DEFAULT 'en',
                status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'churned')),
                source TEXT NOT NULL,
                created_at TEXT NOT NULL,
                requested_at TEXT,
                request_text_version TEXT,
                request_page TEXT,
                confirmed_at TEXT,
                churned_at TEXT,
                churn_source TEXT,
                churn_campaign_id INTEGER
            )""",
            "CREATE INDEX subscribers_status_created ON subscribers (status, created_at)",
            "CREATE INDEX subscribers_churned_at ON subscribers (churned_at)",
            """CREATE TABLE subscriber_events (
                id INTEGER PRIMARY KEY,
                subscriber_id INTEGER NOT NULL
                    REFERENCES subscribers (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                at TEXT NOT NULL,
                source TEXT,
                campaign_id INTEGER
            )""",
            "CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, at)",
            """CREATE TABLE consents (
                id INTEGER PRIMARY KEY,
                subscriber_id INTEGER NOT NULL
                    REFERENCES subscribers (id) ON DELETE CASCADE,
                method TEXT NOT NULL,
                submitted_at TEXT NOT NULL,
                confirmed_at TEXT NOT NULL,
                text_version TEXT,
                page TEXT,
                source TEXT
            )""",
            "CREATE INDEX consents_subscriber ON consents (subscriber_id)",
            """CREATE TABLE suppressions (
                address_hash TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                source TEXT NOT NULL
            )""",
            """CREATE TABLE newsletter_mail_sends (
                id INTEGER PRIMARY KEY,
                address_hash TEXT NOT NULL,
                kind TEXT NOT NULL,
                sent_at TEXT NOT NULL
            )""",
            "CREATE INDEX newsletter_mail_sends_address ON newsletter_mail_sends "
            "(address_hash, sent_at)",
        ],
    )


@migrations(name="0002_staff")
def create_staff(db: sqlite_utils.Database) -> None:
    """Staff accounts, their server-side sessions, failed logins and the audit log."""
    run_statements(
        db,
        [
            """CREATE TABLE staff (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                totp_secret TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                password_changed_at TEXT,
                last_login_at TEXT
            )""",
            """CREATE TABLE staff_sessions (
                id TEXT PRIMARY KEY,
                staff_id INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
                created_at TEXT NOT NULL,
                last_seen_at TEXT NOT NULL,
                ended_at TEXT
            )""",
            """CREATE TABLE login_failures (
                id INTEGER PRIMARY KEY,
                login TEXT NOT NULL,
                ip TEXT,
                at TEXT NOT NULL
            )""",
            "CREATE INDEX login_failures_login ON login_failures (login, at)",
            "CREATE INDEX login_failures_ip ON login_failures (ip, at)",
            """CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT,
                detail TEXT
            )""",
            "CREATE INDEX audit_log_at ON audit_log (at)",
        ],
    )


@migrations(name="0003_subscriber_event_index")
def index_events_by_time(db: sqlite_utils.Database) -> None:
    """The dashboard counts events by kind over time."""
    db.execute("CREATE INDEX subscriber_events_kind_at ON subscriber_events (kind, at)")


@migrations(name="0004_subscriber_list_indexes")
def index_subscriber_list(db: sqlite_utils.Database) -> None:
    """The staff list sorts by date and searches by first-name prefix at 1M rows."""
    db.execute("CREATE INDEX subscribers_created ON subscribers (created_at, id)")
    db.execute("CREATE INDEX subscribers_first_name ON subscribers (lower(first_name))")
    db.execute(
        "CREATE INDEX subscribers_language_created ON subscribers (language, created_at, id)"
    )


@migrations(name="0005_prospects")
def create_prospects(db: sqlite_utils.Database) -> None:
    """Prospects from the contact forms, their requests, staff notes and the mail outbox.

    Prospects are kept 3 years from their last interaction, so that date is indexed
    for the retention purge; interactions, notes and unsent mails about a prospect go
    with them.
    """
    run_statements(
        db,
        [
            """CREATE TABLE prospects (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL UNIQUE,
                last_name TEXT NOT NULL,
                first_name TEXT NOT NULL,
                job_title TEXT,
                company TEXT NOT NULL,
                phone TEXT,
                language TEXT NOT NULL DEFAULT 'en',
                status TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'in_progress', 'answered', 'closed')),
                created_at TEXT NOT NULL,
                last_interaction_at TEXT NOT NULL
            )""",
            "CREATE INDEX prospects_last_interaction ON prospects (last_interaction_at, id)",
            "CREATE INDEX prospects_status_last_interaction ON prospects "
            "(status, last_interaction_at, id)",
            """CREATE TABLE interactions (
                id INTEGER PRIMARY KEY,
                prospect_id INTEGER NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('contact', 'meeting')),
                at TEXT NOT NULL,
                subject TEXT,
                message TEXT,
                topic TEXT,
                format TEXT CHECK (format IS NULL OR format IN ('video', 'on_site')),
                time_slots TEXT,
                language TEXT
            )""",
            "CREATE INDEX interactions_prospect ON interactions (prospect_id, at)",
            """CREATE TABLE prospect_notes (
                id INTEGER PRIMARY KEY,
                prospect_id INTEGER NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
                author TEXT NOT NULL,
                at TEXT NOT NULL,
                body TEXT NOT NULL
            )""",
            "CREATE INDEX prospect_notes_prospect ON prospect_notes (prospect_id, at)",
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                prospect_id INTEGER REFERENCES prospects (id) ON DELETE CASCADE,
                created_at TEXT NOT NULL,
                recipient TEXT NOT NULL,
                subject TEXT NOT NULL,
                body_text TEXT NOT NULL,
                body_html TEXT,
                reply_to TEXT,
                headers TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_error TEXT
            )""",
            "CREATE INDEX outbox_due ON outbox (next_attempt_at)",
            "CREATE INDEX outbox_prospect ON outbox (prospect_id)",
        ],
    )


@migrations(name="0006_campaigns")
def create_campaigns(db: sqlite_utils.Database) -> None:
    """Campaigns and their delivery ledger."""
    run_statements(
        db,
        [
            """CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subject TEXT NOT NULL,
        preheader TEXT NOT NULL DEFAULT '',
        body_markdown TEXT NOT NULL,
        language TEXT NOT NULL CHECK (language IN ('en', 'fr', 'all')),
        status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN
            ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
        scheduled_at TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        paused_reason TEXT,
        paused_at TEXT,
        sender_id TEXT,
        heartbeat_at TEXT
    )""",
            "CREATE INDEX campaigns_status ON campaigns (status, scheduled_at)",
            """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
            ('queued', 'sending', 'sent', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        claimed_by TEXT,
        claimed_at TEXT,
        sent_at TEXT,
        smtp_reply TEXT,
        UNIQUE (campaign_id, subscriber_id)
    )""",
            "CREATE INDEX deliveries_queue ON deliveries (campaign_id, status, id)",
            "CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id)",
        ],
    )


@migrations(name="0007_consent_legal_basis")
def add_consent_legal_basis(db: sqlite_utils.Database) -> None:
    """Imports state the legal basis of the consent they bring; keep it with the proof."""
    db.execute("ALTER TABLE consents ADD COLUMN legal_basis TEXT")


@migrations(name="0008_privacy")
def create_privacy_tables(db: sqlite_utils.Database) -> None:
    """Rights requests (kept for accountability) and anonymous monthly statistics.

    Statistics are what remains of purged people: counts per month, metric and
    dimension (a churn source, a campaign id), never an address, hash or IP.
    """
    run_statements(
        db,
        [
            """CREATE TABLE rights_requests (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('access', 'rectify', 'erase', 'object')),
                channel TEXT NOT NULL DEFAULT 'web',
                status TEXT NOT NULL DEFAULT 'awaiting_verification' CHECK (status IN
                    ('awaiting_verification', 'verified', 'completed', 'expired')),
                received_at TEXT NOT NULL,
                due_at TEXT NOT NULL,
                verified_at TEXT,
                completed_at TEXT,
                copy_number INTEGER,
                note TEXT
            )""",
            "CREATE INDEX rights_requests_email ON rights_requests (email, received_at)",
            "CREATE INDEX rights_requests_received ON rights_requests (received_at)",
            """CREATE TABLE monthly_statistics (
                month TEXT NOT NULL,
                metric TEXT NOT NULL,
                dimension TEXT NOT NULL DEFAULT '',
                value INTEGER NOT NULL,
                PRIMARY KEY (month, metric, dimension)
            )""",
            "CREATE INDEX newsletter_mail_sends_sent_at ON newsletter_mail_sends (sent_at)",
            "CREATE INDEX login_failures_at ON login_failures (at)",
            "CREATE INDEX staff_sessions_last_seen ON staff_sessions (last_seen_at)",
            "CREATE INDEX subscribers_pending ON subscribers (status, requested_at)",
            # A prospect who objected to prospecting keeps their record (a request in
            # progress) but must never be contacted for marketing.
            "ALTER TABLE prospects ADD COLUMN marketing_objection_at TEXT",
        ],
    )


@migrations(name="0009_fewer_subscriber_indexes")
def drop_redundant_subscriber_indexes(db: sqlite_utils.Database) -> None:
    """Every index costs each insert and delete; a purge deletes up to millions of rows.

    These three only served queries that the (status, created_at) and (created_at, id)
    indexes answer nearly as fast: the language filter walks the date order, and the
    purge reads churned or pending rows through the status index.
    """
    for name in ("subscribers_churned_at", "subscribers_pending", "subscribers_language_created"):
        db.execute(f"DROP INDEX IF EXISTS {name}")


@migrations(name="0010_suppressions_without_rowid")
def suppressions_without_rowid(db: sqlite_utils.Database) -> None:
    """The suppression list is looked up and written only by its hash: one b-tree.

    A rowid table with a TEXT primary key keeps two (the rows and the key's index),
    and every one-click unsubscribe writes both.
    """
    run_statements(
        db,
        [
            """CREATE TABLE suppressions_by_hash (
                address_hash TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                source TEXT NOT NULL
            ) WITHOUT ROWID""",
            "INSERT INTO suppressions_by_hash SELECT address_hash, created_at, source "
            "FROM suppressions",
            "DROP TABLE suppressions",
            "ALTER TABLE suppressions_by_hash RENAME TO suppressions",
        ],
    )


@migrations(name="0011_login_failures_by_pair")
def index_login_failures_by_pair(db: sqlite_utils.Database) -> None:
    """Failed logins are counted per (login, address) pair, not per login: one index.

    The (login, at) index is a prefix of the new one, so it goes.
    """
    run_statements(
        db,
        [
            "CREATE INDEX login_failures_pair ON login_failures (login, ip, at)",
            "DROP INDEX login_failures_login",
        ],
    )


@migrations(name="0012_totp_used_step_and_pending_secret")
def totp_used_step_and_pending_secret(db: sqlite_utils.Database) -> None:
    """A TOTP code works once: each account remembers the last time step it used.

    A secret being enrolled waits on the session row instead of the signed (readable)
    cookie.
    """
    run_statements(
        db,
        [
            "ALTER TABLE staff ADD COLUMN totp_last_step INTEGER",
            "ALTER TABLE staff_sessions ADD COLUMN pending_totp_secret TEXT",
        ],
    )


@migrations(name="0013_outbox_failures")
def add_outbox_failures(db: sqlite_utils.Database) -> None:
    """A mail that can never be sent is parked (`failed_at`, reason in `last_error`).

    Retrying it forever would hide it from staff, and an exception on every pass used
    to stop the retry loop for the mails behind it.
    """
    run_statements(db, ["ALTER TABLE outbox ADD COLUMN failed_at TEXT"])


@migrations(name="0014_signup_requests")
def signup_request_columns(db: sqlite_utils.Database) -> None:
    """The name and language a signup asks for wait beside the subscriber's own.

    Anyone may type any address into the form: until the address confirms, the request
    must not choose how its owner is greeted. Requests in flight keep what they asked
    for; a form signup never confirmed held only request data, so its name moves over.
    """
    run_statements(
        db,
        [
            "ALTER TABLE subscribers ADD COLUMN request_first_name TEXT",
            "ALTER TABLE subscribers ADD COLUMN request_language TEXT",
            "UPDATE subscribers SET request_first_name = first_name, request_language = language "
            "WHERE requested_at IS NOT NULL",
            "UPDATE subscribers SET first_name = NULL "
            "WHERE confirmed_at IS NULL AND source = 'form'",
        ],
    )


@migrations(name="0015_outbox_claims")
def add_outbox_claims(db: sqlite_utils.Database) -> None:
    """A sender's hold on an outbox message gets its own column, `claimed_until`.

    Claiming used to push `next_attempt_at` past a lease, so a message being sent looked
    like one waiting after a failure; `outbox retry --force` must send the waiting ones
    at once and leave the ones another sender holds alone.
    """
    run_statements(db, ["ALTER TABLE outbox ADD COLUMN claimed_until TEXT"])


@migrations(name="0016_instance_keys")
def create_instance_keys(db: sqlite_utils.Database) -> None:
    """Which secret key signs for this database, and the suppression key it wraps.

    One row. A process whose key matches neither the fingerprint nor (during a
    rotation) is a fallback of it is refused, instead of signing links nobody else
    can check. The suppression key is stored XOR-ed with a value derived from the
    secret key, so a copy of the database alone cannot test guessed addresses
    against the suppression list.
    """
    run_statements(
        db,
        [
            """CREATE TABLE instance_keys (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                key_fingerprint TEXT NOT NULL,
                wrapped_suppression_key TEXT NOT NULL,
                recorded_at TEXT NOT NULL
            )""",
        ],
    )


@migrations(name="0017_worker_heartbeats")
def create_worker_heartbeats(db: sqlite_utils.Database) -> None:
    """When each campaign worker process last went round its loop, for /healthz.

    One row per process (host and pid); the worker refreshes its own and drops rows
    nobody refreshed for a week, so restarts leave no trail.
    """
    run_statements(
        db,
        [
            """CREATE TABLE worker_heartbeats (
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started_at TEXT NOT NULL,
                beat_at TEXT NOT NULL,
                PRIMARY KEY (host, pid)
            )""",
        ],
    )


SUBSCRIBER_COLUMNS_0017 = (
    "id, email, first_name, language, status, source, created_at, requested_at, "
    "request_text_version, request_page, confirmed_at, churned_at, churn_source, "
    "churn_campaign_id, request_first_name, request_language"
)


@migrations(name="0018_bounces", transactional=False)
def create_bounces(db: sqlite_utils.Database) -> None:
    """Subscribers may be `bounced` (with `bounced_at`); bounce reports and events.

    SQLite cannot change a CHECK constraint in place, so `subscribers` is rebuilt: a
    new table, the rows copied, the old one dropped, the new one renamed, its indexes
    and AUTOINCREMENT counter restored (ids must never be reused: unsubscribe links
    name them). Dropping the old table with foreign keys enforced would cascade into
    every child table, and the pragma that turns them off is ignored inside a
    transaction; hence `transactional=False` and our own transaction. sqlite-utils
    records the migration after it, so a crash in between runs it again: it then finds
    `bounced_at` and does nothing. `foreign_key_check` proves no child lost its parent
    before committing.
    """
    columns = {row[1] for row in db.execute("PRAGMA table_info(subscribers)")}
    if "bounced_at" in columns:
        return
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            rebuild_subscribers_0017(db)
            create_bounce_tables_0017(db)
            if db.execute("PRAGMA foreign_key_check").fetchall():
                raise RuntimeError("0018_bounces would leave rows without their subscriber")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.execute("PRAGMA foreign_keys=ON")


def rebuild_subscribers_0017(db: sqlite_utils.Database) -> None:
    """`subscribers` with 'bounced' allowed and `bounced_at`, indexes and counter kept."""
    indexes = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'subscribers' "
            "AND sql IS NOT NULL"
        )
    ]
    sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'").fetchone()
    run_statements(
        db,
        [
            """CREATE TABLE subscribers_0017 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL UNIQUE,
                first_name TEXT,
                language TEXT NOT NULL DEFAULT 'en',
                status TEXT NOT NULL
                    CHECK (status IN ('pending', 'active', 'churned', 'bounced')),
                source TEXT NOT NULL,
                created_at TEXT NOT NULL,
                requested_at TEXT,
                request_text_version TEXT,
                request_page TEXT,
                confirmed_at TEXT,
                churned_at TEXT,
                churn_source TEXT,
                churn_campaign_id INTEGER,
                request_first_name TEXT,
                request_language TEXT,
                bounced_at TEXT
            )""",
            f"INSERT INTO subscribers_0017 ({SUBSCRIBER_COLUMNS_0017}) "
            f"SELECT {SUBSCRIBER_COLUMNS_0017} FROM subscribers",
            "DROP TABLE subscribers",
            "ALTER TABLE subscribers_0017 RENAME TO subscribers",
            *indexes,
        ],
    )
    if sequence is not None:
        # The copy's counter is its largest id; put back the old high-water mark.
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'subscribers'")
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('subscribers', ?)", sequence)


def create_bounce_tables_0017(db: sqlite_utils.Database) -> None:
    """Raw reports (kept 30 days) and the bounce events drawn from them (kept with the person).

    Both go with their subscriber (erasure, retention); a report nobody could be tied
    to has no subscriber and only waits for its 30 days.
    """
    run_statements(
        db,
        [
            """CREATE TABLE bounce_reports (
                id INTEGER PRIMARY KEY,
                received_at TEXT NOT NULL,
                kind TEXT NOT NULL,
                subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
                outcome TEXT NOT NULL,
                message BLOB NOT NULL
            )""",
            "CREATE INDEX bounce_reports_received ON bounce_reports (received_at)",
            "CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id)",
            """CREATE TABLE bounce_events (
                id INTEGER PRIMARY KEY,
                subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
                at TEXT NOT NULL,
                severity TEXT NOT NULL
                    CHECK (severity IN ('hard', 'soft', 'policy', 'complaint')),
                status_code TEXT,
                mail_kind TEXT NOT NULL,
                campaign_id INTEGER,
                source TEXT NOT NULL CHECK (source IN ('report', 'smtp')),
                detail TEXT,
                report_id INTEGER REFERENCES bounce_reports (id) ON DELETE SET NULL
            )""",
            "CREATE INDEX bounce_events_subscriber ON bounce_events (subscriber_id, at)",
            "CREATE INDEX bounce_events_campaign ON bounce_events (campaign_id, severity)",
            "CREATE INDEX bounce_events_report ON bounce_events (report_id)",
        ],
    )


@migrations(name="0019_outbox_sender")
def add_outbox_sender(db: sqlite_utils.Database) -> None:
    """An outbox message keeps its `From`: acknowledgements come from CONTACT_SENDER.

    NULL (the rows stored before) means MAIL_DEFAULT_SENDER, which they were built with.
    """
    run_statements(db, ["ALTER TABLE outbox ADD COLUMN sender TEXT"])


@migrations(name="0020_campaign_archive")
def add_campaign_archive(db: sqlite_utils.Database) -> None:
    """Sent campaigns staff chose to show on the public archive, and since when."""
    run_statements(
        db,
        [
            """CREATE TABLE archived_campaigns (
                campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
                published_at TEXT NOT NULL,
                published_by TEXT NOT NULL
            )""",
            "CREATE INDEX archived_campaigns_published ON archived_campaigns (published_at)",
        ],
    )


@migrations(name="0021_deliverability_page")
def create_delivery_totals(db: sqlite_utils.Database) -> None:
    """Per campaign and provider, what the relay did with a finished campaign's mail.

    Counting a campaign per provider joins every delivery to its subscriber: about a
    second at a million rows. Once a campaign is sent or cancelled its deliveries no
    longer change, so the Deliverability page counts them once and keeps the counts
    here (bounces and complaints, which arrive later, are counted live from their own
    small table). The bounce log lists events newest first, all or of one class.
    """
    run_statements(
        db,
        [
            """CREATE TABLE delivery_totals (
                campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
                provider TEXT NOT NULL,
                attempted INTEGER NOT NULL,
                accepted INTEGER NOT NULL,
                deferred INTEGER NOT NULL,
                PRIMARY KEY (campaign_id, provider)
            ) WITHOUT ROWID""",
            "CREATE INDEX bounce_events_at ON bounce_events (at, id)",
            "CREATE INDEX bounce_events_severity_at ON bounce_events (severity, at, id)",
        ],
    )


@migrations(name="0022_imports")
def create_imports(db: sqlite_utils.Database) -> None:
    """Imports committed in chunks: the import, its staged rows, and each record's import.

    An import's new subscribers carry its id and stay invisible (to campaigns, counts,
    search, exports) until the import is `done`: one row changes to publish them all.
    `import_rows` holds the checked file until the import ends, so a dead import can be
    resumed or rolled back; its rows are deleted when it finishes either way.
    """
    run_statements(
        db,
        [
            """CREATE TABLE imports (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                actor TEXT NOT NULL,
                mode TEXT NOT NULL CHECK (mode IN ('confirmed', 'double-opt-in')),
                source TEXT NOT NULL,
                legal_basis TEXT NOT NULL,
                file_sha256 TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN
                    ('staged', 'committing', 'rolling_back', 'done', 'rolled_back')),
                owner TEXT,
                heartbeat_at TEXT,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                total_rows INTEGER NOT NULL,
                merged_duplicates INTEGER NOT NULL,
                entries INTEGER NOT NULL,
                staged_entries INTEGER NOT NULL DEFAULT 0,
                committed_entries INTEGER NOT NULL DEFAULT 0,
                added INTEGER,
                already_subscribed INTEGER,
                refused INTEGER,
                mails_limited INTEGER
            )""",
            "CREATE INDEX imports_status ON imports (status)",
            """CREATE TABLE import_rows (
                import_id INTEGER NOT NULL REFERENCES imports (id),
                position INTEGER NOT NULL,
                line INTEGER NOT NULL,
                email TEXT NOT NULL,
                first_name TEXT,
                language TEXT,
                outcome TEXT CHECK (outcome IN ('added', 'existing', 'refused')),
                subscriber_id INTEGER,
                send_id INTEGER,
                PRIMARY KEY (import_id, position)
            ) WITHOUT ROWID""",
            "ALTER TABLE subscribers ADD COLUMN import_id INTEGER",
            "CREATE INDEX subscribers_import ON subscribers (import_id) "
            "WHERE import_id IS NOT NULL",
        ],
    )


@migrations(name="0023_provider_pacing")
def add_provider_pacing(db: sqlite_utils.Database) -> None:
    """Deliveries know their recipient's mailbox provider; throttled providers wait.

    `provider` is filled when a campaign's audience is frozen (rows frozen before
    have '' and are sent as one group). `provider_throttles` keeps how often each
    provider answered "slow down" in a row and until when we leave it alone, so the
    backoff keeps growing across the worker's passes and campaigns.
    """
    run_statements(
        db,
        [
            "ALTER TABLE deliveries ADD COLUMN provider TEXT NOT NULL DEFAULT ''",
            # One index serves claims per provider and everything per status: a second
            # index would be written at every claim and every outcome.
            "DROP INDEX deliveries_queue",
            "CREATE INDEX deliveries_queue ON deliveries (campaign_id, status, provider, id)",
            """CREATE TABLE provider_throttles (
        provider TEXT PRIMARY KEY,
        strikes INTEGER NOT NULL DEFAULT 0,
        throttled_until TEXT,
        last_reply TEXT,
        updated_at TEXT NOT NULL
    )""",
        ],
    )


@migrations(name="0024_bounce_report_fingerprint")
def add_bounce_report_fingerprint(db: sqlite_utils.Database) -> None:
    """A report read twice (a retried pipe, a mailbox polled again) is stored once.

    `fingerprint` is the report's Message-ID with a hash of its body, or a hash of its
    bytes when it has none; NULL for the rows stored before (the unique index allows
    many NULLs).
    """
    run_statements(
        db,
        [
            "ALTER TABLE bounce_reports ADD COLUMN fingerprint TEXT",
            "CREATE UNIQUE INDEX bounce_reports_fingerprint ON bounce_reports (fingerprint)",
        ],
    )


@migrations(name="0025_campaign_versions")
def campaign_versions(db: sqlite_utils.Database) -> None:
    """A campaign has a version per language; whom it goes to is its `audience`.

    Each campaign's subject, preheader and body become the version of its language; a
    campaign to 'all' was rendered in English (footer, `lang`), so its content is the
    English version. The audience keeps the old value ('en', 'fr', 'all': the same
    people), except for drafts to 'all': the old editor pre-selected it, so NULL makes
    staff choose before sending. Scheduled and sent campaigns keep what staff confirmed.
    """
    run_statements(
        db,
        [
            """CREATE TABLE campaign_versions (
                campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
                language TEXT NOT NULL CHECK (language IN ('en', 'fr')),
                subject TEXT NOT NULL,
                preheader TEXT NOT NULL DEFAULT '',
                body_markdown TEXT NOT NULL,
                PRIMARY KEY (campaign_id, language)
            ) WITHOUT ROWID""",
            "INSERT INTO campaign_versions (campaign_id, language, subject, preheader, "
            "body_markdown) SELECT id, CASE language WHEN 'fr' THEN 'fr' ELSE 'en' END, "
            "subject, preheader, body_markdown FROM campaigns",
            "ALTER TABLE campaigns ADD COLUMN audience TEXT",
            "UPDATE campaigns SET audience = CASE WHEN status = 'draft' AND language = 'all' "
            "THEN NULL ELSE language END",
            "ALTER TABLE campaigns DROP COLUMN subject",
            "ALTER TABLE campaigns DROP COLUMN preheader",
            "ALTER TABLE campaigns DROP COLUMN body_markdown",
            "ALTER TABLE campaigns DROP COLUMN language",
        ],
    )


@migrations(name="0026_topics")
def create_topics(db: sqlite_utils.Database) -> None:
    """Topics a person subscribes to one by one, with churn dates and consent per topic.

    `subscribers.status` stays the overall state: active while one topic is, churned
    (with the date that starts the retention clock) when the last one is left. Everyone
    moves to the main topic, "Newsletter", which is the list they signed up for: active
    and bounced people keep their confirmation date, churned people their churn, a signup
    awaiting confirmation asks for the main topic. Consent proofs are about that topic,
    in the language the person reads; campaigns go to it.
    """
    run_statements(
        db,
        [
            """CREATE TABLE topics (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                slug TEXT NOT NULL UNIQUE,
                name_en TEXT NOT NULL,
                name_fr TEXT NOT NULL,
                description_en TEXT NOT NULL DEFAULT '',
                description_fr TEXT NOT NULL DEFAULT '',
                public INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1)),
                main INTEGER NOT NULL DEFAULT 0 CHECK (main IN (0, 1)),
                position INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL
            )""",
            "CREATE UNIQUE INDEX topics_one_main ON topics (main) WHERE main = 1",
            """INSERT INTO topics (slug, name_en, name_fr, description_en, description_fr,
                public, main, position, created_at)
                VALUES ('newsletter', 'Newsletter', 'Lettre d’information',
                'News about the sovereignty of the Education Cloud.',
                'L’actualité de la souveraineté du cloud de l’éducation.',
                1, 1, 0, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))""",
            """CREATE TABLE subscriptions (
                subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
                topic_id INTEGER NOT NULL REFERENCES topics (id),
                status TEXT NOT NULL CHECK (status IN ('active', 'churned')),
                subscribed_at TEXT NOT NULL,
                churned_at TEXT,
                churn_source TEXT,
                churn_campaign_id INTEGER,
                PRIMARY KEY (subscriber_id, topic_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX subscriptions_topic ON subscriptions (topic_id, status, subscriber_id)",
            """INSERT INTO subscriptions (subscriber_id, topic_id, status, subscribed_at,
                churned_at, churn_source, churn_campaign_id)
                SELECT s.id, t.id, CASE s.status WHEN 'churned' THEN 'churned' ELSE 'active' END,
                coalesce(s.confirmed_at, s.created_at), s.churned_at, s.churn_source,
                s.churn_campaign_id
                FROM subscribers s, topics t
                WHERE t.main = 1 AND s.status != 'pending'""",
            "ALTER TABLE subscribers ADD COLUMN request_topics TEXT",
            "UPDATE subscribers SET request_topics = (SELECT id FROM topics WHERE main = 1) "
            "WHERE requested_at IS NOT NULL",
            "ALTER TABLE consents ADD COLUMN topic_id INTEGER REFERENCES topics (id)",
            "ALTER TABLE consents ADD COLUMN language TEXT",
            "UPDATE consents SET topic_id = (SELECT id FROM topics WHERE main = 1), "
            "language = (SELECT language FROM subscribers WHERE id = consents.subscriber_id)",
            "CREATE INDEX consents_topic ON consents (topic_id)",
            "ALTER TABLE campaigns ADD COLUMN topic_id INTEGER REFERENCES topics (id)",
            "UPDATE campaigns SET topic_id = (SELECT id FROM topics WHERE main = 1)",
        ],
    )


@migrations(name="0027_welcome_mails")
def welcome_mails(db: sqlite_utils.Database) -> None:
    """A topic may have a welcome mail: a campaign of kind 'welcome' for that topic.

    It is never frozen for an audience: each person who joins the topic gets a delivery
    row, which the worker sends like any campaign's. One live welcome mail per topic (a
    cancelled one makes room for a new one).
    """
    run_statements(
        db,
        [
            "ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'regular' "
            "CHECK (kind IN ('regular', 'welcome'))",
            "CREATE UNIQUE INDEX campaigns_one_welcome ON campaigns (topic_id) "
            "WHERE kind = 'welcome' AND status != 'cancelled'",
        ],
    )


@migrations(name="0028_staff_preferences")
def staff_preferences(db: sqlite_utils.Database) -> None:
    """Each staff account reads the staff area in its own language and time zone.

    Weprode's staff are French: existing accounts get French and Europe/Paris, which
    they change on their "My account" page. The zone is an IANA name, checked by the
    application (SQLite knows no zones).
    """
    run_statements(
        db,
        [
            "ALTER TABLE staff ADD COLUMN language TEXT NOT NULL DEFAULT 'fr' "
            "CHECK (language IN ('en', 'fr'))",
            "ALTER TABLE staff ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/Paris'",
        ],
    )


@migrations(name="0029_segments")
def create_segments(db: sqlite_utils.Database) -> None:
    """Saved segments narrowing a campaign's topic, and the campaign's chosen segment.

    Every condition is optional (NULL: any); dates are whole days, both ends included.
    Company and role are not conditions: subscribers hold neither.
    """
    run_statements(
        db,
        [
            """CREATE TABLE segments (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                language TEXT,
                source TEXT,
                import_id INTEGER REFERENCES imports (id),
                signed_up_from TEXT,
                signed_up_until TEXT,
                confirmed_from TEXT,
                confirmed_until TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "ALTER TABLE campaigns ADD COLUMN segment_id INTEGER REFERENCES segments (id)",
        ],
    )


@migrations(name="0030_deleted_segment_names")
def deleted_segment_names(db: sqlite_utils.Database) -> None:
    """Staff may delete a segment no campaign still to be sent uses; a sent or cancelled
    campaign that was narrowed by it keeps the segment's name here (its id becomes NULL).

    The frozen deliveries already say who received it; the name says why, in the
    campaign's record, and the audit entry of the deletion keeps the conditions.
    """
    run_statements(db, ["ALTER TABLE campaigns ADD COLUMN segment_name TEXT"])


@migrations(name="0031_import_topics")
def import_topics(db: sqlite_utils.Database) -> None:
    """Staff import a file into a topic of their choice; earlier imports went to the
    main topic, and say so (an unfinished one resumes into it)."""
    run_statements(
        db,
        [
            "ALTER TABLE imports ADD COLUMN topic_id INTEGER REFERENCES topics (id)",
            "UPDATE imports SET topic_id = (SELECT id FROM topics WHERE main = 1)",
        ],
    )


def apply_pending(db: sqlite_utils.Database) -> list[str]:
    """Apply every pending migration; return the names applied."""
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending
