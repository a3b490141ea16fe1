-- A database made by the code at commit 3d6c88d (migrations up to 0025, before topics):
-- 5 subscribers: two confirmed by staff, one by double opt-in, one churned by one-click,
-- one bounced, one signup awaiting confirmation; a started campaign and a draft.
-- Dumped with sqlite3's iterdump.
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'weprode','0001_subscribers','2026-11-30 03:01:36.957902+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'weprode','0002_staff','2026-11-30 03:01:36.958438+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'weprode','0003_subscriber_event_index','2026-11-30 03:01:36.958682+00:00');
INSERT INTO "_sqlite_migrations" VALUES(4,'weprode','0004_subscriber_list_indexes','2026-11-30 03:01:36.958938+00:00');
INSERT INTO "_sqlite_migrations" VALUES(5,'weprode','0005_prospects','2026-11-30 03:01:36.959520+00:00');
INSERT INTO "_sqlite_migrations" VALUES(6,'weprode','0006_campaigns','2026-11-30 03:01:36.959951+00:00');
INSERT INTO "_sqlite_migrations" VALUES(7,'weprode','0007_consent_legal_basis','2026-11-30 03:01:36.960362+00:00');
INSERT INTO "_sqlite_migrations" VALUES(8,'weprode','0008_privacy','2026-11-30 03:01:36.961000+00:00');
INSERT INTO "_sqlite_migrations" VALUES(9,'weprode','0009_fewer_subscriber_indexes','2026-11-30 03:01:36.961282+00:00');
INSERT INTO "_sqlite_migrations" VALUES(10,'weprode','0010_suppressions_without_rowid','2026-11-30 03:01:36.962584+00:00');
INSERT INTO "_sqlite_migrations" VALUES(11,'weprode','0011_login_failures_by_pair','2026-11-30 03:01:36.962828+00:00');
INSERT INTO "_sqlite_migrations" VALUES(12,'weprode','0012_totp_used_step_and_pending_secret','2026-11-30 03:01:36.963439+00:00');
INSERT INTO "_sqlite_migrations" VALUES(13,'weprode','0013_outbox_failures','2026-11-30 03:01:36.963801+00:00');
INSERT INTO "_sqlite_migrations" VALUES(14,'weprode','0014_signup_requests','2026-11-30 03:01:36.964352+00:00');
INSERT INTO "_sqlite_migrations" VALUES(15,'weprode','0015_outbox_claims','2026-11-30 03:01:36.964704+00:00');
INSERT INTO "_sqlite_migrations" VALUES(16,'weprode','0016_instance_keys','2026-11-30 03:01:36.964883+00:00');
INSERT INTO "_sqlite_migrations" VALUES(17,'weprode','0017_worker_heartbeats','2026-11-30 03:01:36.965079+00:00');
INSERT INTO "_sqlite_migrations" VALUES(18,'weprode','0018_bounces','2026-11-30 03:01:36.966871+00:00');
INSERT INTO "_sqlite_migrations" VALUES(19,'weprode','0019_outbox_sender','2026-11-30 03:01:36.967326+00:00');
INSERT INTO "_sqlite_migrations" VALUES(20,'weprode','0020_campaign_archive','2026-11-30 03:01:36.967567+00:00');
INSERT INTO "_sqlite_migrations" VALUES(21,'weprode','0021_deliverability_page','2026-11-30 03:01:36.967897+00:00');
INSERT INTO "_sqlite_migrations" VALUES(22,'weprode','0022_imports','2026-11-30 03:01:36.968551+00:00');
INSERT INTO "_sqlite_migrations" VALUES(23,'weprode','0023_provider_pacing','2026-11-30 03:01:36.969124+00:00');
INSERT INTO "_sqlite_migrations" VALUES(24,'weprode','0024_bounce_report_fingerprint','2026-11-30 03:01:36.969611+00:00');
INSERT INTO "_sqlite_migrations" VALUES(25,'weprode','0025_campaign_versions','2026-11-30 03:01:36.976498+00:00');
CREATE TABLE archived_campaigns (
                campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
                published_at TEXT NOT NULL,
                published_by TEXT NOT NULL
            );
CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT,
                detail TEXT
            );
CREATE TABLE bounce_events (
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
            );
CREATE TABLE bounce_reports (
                id INTEGER PRIMARY KEY,
                received_at TEXT NOT NULL,
                kind TEXT NOT NULL,
                subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
                outcome TEXT NOT NULL,
                message BLOB NOT NULL
            , fingerprint TEXT);
CREATE TABLE campaign_versions (
                campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
                language TEXT NOT NULL CHECK (language IN ('en', 'fr')),
                subject TEXT NOT NULL,
                preheader TEXT NOT NULL DEFAULT '',
                body_markdown TEXT NOT NULL,
                PRIMARY KEY (campaign_id, language)
            ) WITHOUT ROWID;
INSERT INTO "campaign_versions" VALUES(1,'fr','Nouvelles','','Bonjour {{ first_name }}');
INSERT INTO "campaign_versions" VALUES(2,'en','Draft','','Hello');
CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    , audience TEXT);
INSERT INTO "campaigns" VALUES(1,'sending',NULL,'2026-11-22T03:01:36+00:00','staff@weprode.com','2026-11-22T03:01:36+00:00','2026-11-22T03:01:36+00:00',NULL,NULL,NULL,NULL,NULL,'all');
INSERT INTO "campaigns" VALUES(2,'draft',NULL,'2026-11-30T03:01:36+00:00','staff@weprode.com','2026-11-30T03:01:36+00:00',NULL,NULL,NULL,NULL,NULL,NULL,'en');
CREATE TABLE consents (
                id INTEGER PRIMARY KEY,
                subscriber_id INTEGER NOT NULL
                    REFERENCES subscribers (id) ON DELETE CASCADE,
                method TEXT NOT NULL,
                submitted_at TEXT NOT NULL,
                confirmed_at TEXT NOT NULL,
                text_version TEXT,
                page TEXT,
                source TEXT
            , legal_basis TEXT);
INSERT INTO "consents" VALUES(1,1,'staff','2026-10-21T03:01:36+00:00','2026-10-21T03:01:36+00:00',NULL,NULL,'fair',NULL);
INSERT INTO "consents" VALUES(2,2,'staff','2026-10-31T03:01:36+00:00','2026-10-31T03:01:36+00:00',NULL,NULL,'fair',NULL);
INSERT INTO "consents" VALUES(3,3,'staff','2026-11-10T03:01:36+00:00','2026-11-10T03:01:36+00:00',NULL,NULL,'fair',NULL);
INSERT INTO "consents" VALUES(4,5,'double-opt-in','2026-11-20T03:01:36+00:00','2026-11-21T03:01:36+00:00','2026-11-v1','/','form',NULL);
CREATE TABLE deliveries (
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
        smtp_reply TEXT, provider TEXT NOT NULL DEFAULT '',
        UNIQUE (campaign_id, subscriber_id)
    );
INSERT INTO "deliveries" VALUES(1,1,1,'queued',0,NULL,NULL,NULL,NULL,NULL,'example.org');
INSERT INTO "deliveries" VALUES(2,1,2,'queued',0,NULL,NULL,NULL,NULL,NULL,'example.org');
INSERT INTO "deliveries" VALUES(3,1,3,'queued',0,NULL,NULL,NULL,NULL,NULL,'example.org');
INSERT INTO "deliveries" VALUES(4,1,5,'queued',0,NULL,NULL,NULL,NULL,NULL,'example.org');
CREATE TABLE delivery_totals (
                campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
                provider TEXT NOT NULL,
                attempted INTEGER NOT NULL,
                accepted INTEGER NOT NULL,
                deferred INTEGER NOT NULL,
                PRIMARY KEY (campaign_id, provider)
            ) WITHOUT ROWID;
CREATE TABLE import_rows (
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
            ) WITHOUT ROWID;
CREATE TABLE imports (
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
            );
CREATE TABLE instance_keys (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                key_fingerprint TEXT NOT NULL,
                wrapped_suppression_key TEXT NOT NULL,
                recorded_at TEXT NOT NULL
            );
CREATE TABLE interactions (
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
            );
CREATE TABLE login_failures (
                id INTEGER PRIMARY KEY,
                login TEXT NOT NULL,
                ip TEXT,
                at TEXT NOT NULL
            );
CREATE TABLE monthly_statistics (
                month TEXT NOT NULL,
                metric TEXT NOT NULL,
                dimension TEXT NOT NULL DEFAULT '',
                value INTEGER NOT NULL,
                PRIMARY KEY (month, metric, dimension)
            );
CREATE TABLE newsletter_mail_sends (
                id INTEGER PRIMARY KEY,
                address_hash TEXT NOT NULL,
                kind TEXT NOT NULL,
                sent_at TEXT NOT NULL
            );
INSERT INTO "newsletter_mail_sends" VALUES(1,'637dcca2f36f14060a4f6b3527c0e5b1a8e38507ebdb653afa08679a997c9510','confirm','2026-11-28T03:01:36+00:00');
INSERT INTO "newsletter_mail_sends" VALUES(2,'8adde978e0ed9462d4c029f0b5b4cfccd6f577b92401895da79376879dfad7bc','confirm','2026-11-20T03:01:36+00:00');
CREATE TABLE outbox (
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
            , failed_at TEXT, claimed_until TEXT, sender TEXT);
CREATE TABLE prospect_notes (
                id INTEGER PRIMARY KEY,
                prospect_id INTEGER NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
                author TEXT NOT NULL,
                at TEXT NOT NULL,
                body TEXT NOT NULL
            );
CREATE TABLE prospects (
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
            , marketing_objection_at TEXT);
CREATE TABLE provider_throttles (
        provider TEXT PRIMARY KEY,
        strikes INTEGER NOT NULL DEFAULT 0,
        throttled_until TEXT,
        last_reply TEXT,
        updated_at TEXT NOT NULL
    );
CREATE TABLE rights_requests (
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
            );
CREATE TABLE staff (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                totp_secret TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                password_changed_at TEXT,
                last_login_at TEXT
            , totp_last_step INTEGER);
CREATE TABLE staff_sessions (
                id TEXT PRIMARY KEY,
                staff_id INTEGER NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
                created_at TEXT NOT NULL,
                last_seen_at TEXT NOT NULL,
                ended_at TEXT
            , pending_totp_secret TEXT);
CREATE TABLE subscriber_events (
                id INTEGER PRIMARY KEY,
                subscriber_id INTEGER NOT NULL
                    REFERENCES subscribers (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                at TEXT NOT NULL,
                source TEXT,
                campaign_id INTEGER
            );
INSERT INTO "subscriber_events" VALUES(1,1,'added_by_staff','2026-10-21T03:01:36+00:00','fair',NULL);
INSERT INTO "subscriber_events" VALUES(2,2,'added_by_staff','2026-10-31T03:01:36+00:00','fair',NULL);
INSERT INTO "subscriber_events" VALUES(3,3,'added_by_staff','2026-11-10T03:01:36+00:00','fair',NULL);
INSERT INTO "subscriber_events" VALUES(4,4,'signup_requested','2026-11-28T03:01:36+00:00','form',NULL);
INSERT INTO "subscriber_events" VALUES(5,5,'signup_requested','2026-11-20T03:01:36+00:00','form',NULL);
INSERT INTO "subscriber_events" VALUES(6,5,'confirmed','2026-11-21T03:01:36+00:00','form',NULL);
INSERT INTO "subscriber_events" VALUES(7,3,'churned','2026-11-25T03:01:36+00:00','one-click',1);
CREATE TABLE "subscribers" (
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
            , import_id INTEGER);
INSERT INTO "subscribers" VALUES(1,'ada@example.org','Ada','en','active','staff: fair','2026-10-21T03:01:36+00:00',NULL,NULL,NULL,'2026-10-21T03:01:36+00:00',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "subscribers" VALUES(2,'zoe@example.org','Zoé','fr','bounced','staff: fair','2026-10-31T03:01:36+00:00',NULL,NULL,NULL,'2026-10-31T03:01:36+00:00',NULL,NULL,NULL,NULL,NULL,'2026-11-27T03:01:36+00:00',NULL);
INSERT INTO "subscribers" VALUES(3,'leo@example.org','Léo','fr','churned','staff: fair','2026-11-10T03:01:36+00:00',NULL,NULL,NULL,'2026-11-10T03:01:36+00:00','2026-11-25T03:01:36+00:00','one-click',1,NULL,NULL,NULL,NULL);
INSERT INTO "subscribers" VALUES(4,'max@example.org',NULL,'fr','pending','form','2026-11-28T03:01:36+00:00','2026-11-28T03:01:36+00:00','2026-11-v1','/newsletter',NULL,NULL,NULL,NULL,'Max','fr',NULL,NULL);
INSERT INTO "subscribers" VALUES(5,'eve@example.org',NULL,'en','active','form','2026-11-20T03:01:36+00:00',NULL,NULL,NULL,'2026-11-21T03:01:36+00:00',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE "suppressions" (
                address_hash TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                source TEXT NOT NULL
            ) WITHOUT ROWID;
INSERT INTO "suppressions" VALUES('582a2edaf99df7cff5b4834329ba80412edae8bea8e263fed39ffcb922d2b091','2026-11-25T03:01:36+00:00','unsubscribe');
CREATE TABLE worker_heartbeats (
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started_at TEXT NOT NULL,
                beat_at TEXT NOT NULL,
                PRIMARY KEY (host, pid)
            );
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, at);
CREATE INDEX consents_subscriber ON consents (subscriber_id);
CREATE INDEX newsletter_mail_sends_address ON newsletter_mail_sends (address_hash, sent_at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX subscriber_events_kind_at ON subscriber_events (kind, at);
CREATE INDEX prospects_last_interaction ON prospects (last_interaction_at, id);
CREATE INDEX prospects_status_last_interaction ON prospects (status, last_interaction_at, id);
CREATE INDEX interactions_prospect ON interactions (prospect_id, at);
CREATE INDEX prospect_notes_prospect ON prospect_notes (prospect_id, at);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE INDEX outbox_prospect ON outbox (prospect_id);
CREATE INDEX campaigns_status ON campaigns (status, scheduled_at);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
CREATE INDEX rights_requests_email ON rights_requests (email, received_at);
CREATE INDEX rights_requests_received ON rights_requests (received_at);
CREATE INDEX newsletter_mail_sends_sent_at ON newsletter_mail_sends (sent_at);
CREATE INDEX login_failures_at ON login_failures (at);
CREATE INDEX staff_sessions_last_seen ON staff_sessions (last_seen_at);
CREATE INDEX login_failures_pair ON login_failures (login, ip, at);
CREATE INDEX subscribers_status_created ON subscribers (status, created_at);
CREATE INDEX subscribers_created ON subscribers (created_at, id);
CREATE INDEX subscribers_first_name ON subscribers (lower(first_name));
CREATE INDEX bounce_reports_received ON bounce_reports (received_at);
CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id);
CREATE INDEX bounce_events_subscriber ON bounce_events (subscriber_id, at);
CREATE INDEX bounce_events_campaign ON bounce_events (campaign_id, severity);
CREATE INDEX bounce_events_report ON bounce_events (report_id);
CREATE INDEX archived_campaigns_published ON archived_campaigns (published_at);
CREATE INDEX bounce_events_at ON bounce_events (at, id);
CREATE INDEX bounce_events_severity_at ON bounce_events (severity, at, id);
CREATE INDEX imports_status ON imports (status);
CREATE INDEX subscribers_import ON subscribers (import_id) WHERE import_id IS NOT NULL;
CREATE INDEX deliveries_queue ON deliveries (campaign_id, status, provider, id);
CREATE UNIQUE INDEX bounce_reports_fingerprint ON bounce_reports (fingerprint);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('subscribers',5);
INSERT INTO "sqlite_sequence" VALUES('campaigns',2);
COMMIT;
