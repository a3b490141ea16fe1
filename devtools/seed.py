"""Test and bench data written straight into the database, the way real flows leave it.

Tests and benches insert thousands of subscribers with one `executemany`, bypassing
`subscribers.add_confirmed`. Since topics, a subscriber receives nothing without a
`subscriptions` row: `join_main_topic` gives them the one the real flows give.
"""

import sqlite3


def join_main_topic(db) -> int:
    """Every active or bounced subscriber without a topic joins the main one; returns how many.

    `db` is a sqlite-utils Database or a sqlite3 connection; commits.
    """
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    with conn:
        return conn.execute(
            "INSERT INTO subscriptions (subscriber_id, topic_id, status, subscribed_at) "
            "SELECT s.id, t.id, 'active', coalesce(s.confirmed_at, s.created_at) "
            "FROM subscribers s, topics t WHERE t.main = 1 AND s.status IN ('active', 'bounced') "
            "AND NOT EXISTS (SELECT 1 FROM subscriptions x WHERE x.subscriber_id = s.id)"
        ).rowcount
