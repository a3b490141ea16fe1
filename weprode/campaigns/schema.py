"""The campaign tables (registered as a named migration in weprode/migrations.py)."""

STATEMENTS = [
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
]


def create_campaign_tables(db):
    """Create the tables; run inside the migration's transaction."""
    for statement in STATEMENTS:
        db.execute(statement)
