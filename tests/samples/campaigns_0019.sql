-- A database made by the code at commit b73533c (before campaign versions): 4 subscribers,
-- campaigns made with compose.create in 'all', 'fr' and 'en' as drafts, one scheduled, one sent
-- (ledger.schedule, ledger.start, finish_if_done). Dumped with sqlite3's iterdump.
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'weprode','0001_subscribers','2026-11-30 00:09:04.308726+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'weprode','0002_staff','2026-11-30 00:09:04.309450+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'weprode','0003_subscriber_event_index','2026-11-30 00:09:04.309773+00:00');
INSERT INTO "_sqlite_migrations" VALUES(4,'weprode','0004_subscriber_list_indexes','2026-11-30 00:09:04.310112+00:00');
INSERT INTO "_sqlite_migrations" VALUES(5,'weprode','0005_prospects','2026-11-30 00:09:04.310964+00:00');
INSERT INTO "_sqlite_migrations" VALUES(6,'weprode','0006_campaigns','2026-11-30 00:09:04.324044+00:00');
INSERT INTO "_sqlite_migrations" VALUES(7,'weprode','0007_consent_legal_basis','2026-11-30 00:09:04.324777+00:00');
INSERT INTO "_sqlite_migrations" VALUES(8,'weprode','0008_privacy','2026-11-30 00:09:04.325717+00:00');
INSERT INTO "_sqlite_migrations" VALUES(9,'weprode','0009_fewer_subscriber_indexes','2026-11-30 00:09:04.326170+00:00');
INSERT INTO "_sqlite_migrations" VALUES(10,'weprode','0010_suppressions_without_rowid','2026-11-30 00:09:04.328184+00:00');
INSERT INTO "_sqlite_migrations" VALUES(11,'weprode','0011_login_failures_by_pair','2026-11-30 00:09:04.328520+00:00');
INSERT INTO "_sqlite_migrations" VALUES(12,'weprode','0012_totp_used_step_and_pending_secret','2026-11-30 00:09:04.329355+00:00');
INSERT INTO "_sqlite_migrations" VALUES(13,'weprode','0013_outbox_failures','2026-11-30 00:09:04.329929+00:00');
INSERT INTO "_sqlite_migrations" VALUES(14,'weprode','0014_signup_requests','2026-11-30 00:09:04.330739+00:00');
INSERT INTO "_sqlite_migrations" VALUES(15,'weprode','0015_outbox_claims','2026-11-30 00:09:04.347721+00:00');
INSERT INTO "_sqlite_migrations" VALUES(16,'weprode','0016_instance_keys','2026-11-30 00:09:04.348150+00:00');
INSERT INTO "_sqlite_migrations" VALUES(17,'weprode','0017_worker_heartbeats','2026-11-30 00:09:04.348434+00:00');
INSERT INTO "_sqlite_migrations" VALUES(18,'weprode','0018_bounces','2026-11-30 00:09:04.356086+00:00');
INSERT INTO "_sqlite_migrations" VALUES(19,'weprode','0019_outbox_sender','2026-11-30 00:09:04.356903+00:00');
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
            );
CREATE TABLE campaigns (
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
    );
INSERT INTO "campaigns" VALUES(1,'News for {{ first_name | default("there") }}','A preheader','# Hello

Hello {{ first_name | default("there") }}, all news.
','all','draft',NULL,'2026-11-30T00:09:04+00:00','staff@weprode.com','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "campaigns" VALUES(2,'Nouveautés de Weprode','','Bonjour {{ first_name | default("à vous") }},

Le guide est paru.
','fr','draft',NULL,'2026-11-30T00:09:04+00:00','staff@weprode.com','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "campaigns" VALUES(3,'English news','Pre en','Hello,

English only.
','en','draft',NULL,'2026-11-30T00:09:04+00:00','staff@weprode.com','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "campaigns" VALUES(4,'Scheduled for all','','Hello all.
','all','scheduled','2026-12-02T00:09:04+00:00','2026-11-30T00:09:04+00:00','staff@weprode.com','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "campaigns" VALUES(5,'Envoyée en français','Pré','Bonjour.
','fr','sent',NULL,'2026-11-30T00:09:04+00:00','staff@weprode.com','2026-11-30T00:09:04+00:00','2026-11-30T00:09:04+00:00','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL);
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
INSERT INTO "consents" VALUES(1,1,'staff','2026-11-30T00:09:04+00:00','2026-11-30T00:09:04+00:00',NULL,NULL,'test',NULL);
INSERT INTO "consents" VALUES(2,2,'staff','2026-11-30T00:09:04+00:00','2026-11-30T00:09:04+00:00',NULL,NULL,'test',NULL);
INSERT INTO "consents" VALUES(3,3,'staff','2026-11-30T00:09:04+00:00','2026-11-30T00:09:04+00:00',NULL,NULL,'test',NULL);
INSERT INTO "consents" VALUES(4,4,'staff','2026-11-30T00:09:04+00:00','2026-11-30T00:09:04+00:00',NULL,NULL,'test',NULL);
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
        smtp_reply TEXT,
        UNIQUE (campaign_id, subscriber_id)
    );
INSERT INTO "deliveries" VALUES(1,5,2,'sent',0,NULL,NULL,NULL,'2026-11-30T00:09:04+00:00','250');
INSERT INTO "deliveries" VALUES(2,5,3,'sent',0,NULL,NULL,NULL,'2026-11-30T00:09:04+00:00','250');
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
INSERT INTO "subscriber_events" VALUES(1,1,'added_by_staff','2026-11-30T00:09:04+00:00','test',NULL);
INSERT INTO "subscriber_events" VALUES(2,2,'added_by_staff','2026-11-30T00:09:04+00:00','test',NULL);
INSERT INTO "subscriber_events" VALUES(3,3,'added_by_staff','2026-11-30T00:09:04+00:00','test',NULL);
INSERT INTO "subscriber_events" VALUES(4,4,'added_by_staff','2026-11-30T00:09:04+00:00','test',NULL);
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
            );
INSERT INTO "subscribers" VALUES(1,'anne@example.org','Anne','en','active','staff: test','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,'2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "subscribers" VALUES(2,'zoe@example.org','Zoë','fr','active','staff: test','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,'2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "subscribers" VALUES(3,'paul@example.org',NULL,'fr','active','staff: test','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,'2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "subscribers" VALUES(4,'bob@example.org',NULL,'en','active','staff: test','2026-11-30T00:09:04+00:00',NULL,NULL,NULL,'2026-11-30T00:09:04+00:00',NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE "suppressions" (
                address_hash TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                source TEXT NOT NULL
            ) WITHOUT ROWID;
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
CREATE INDEX deliveries_queue ON deliveries (campaign_id, status, id);
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
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('subscribers',4);
INSERT INTO "sqlite_sequence" VALUES('campaigns',5);
COMMIT;
