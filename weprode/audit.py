"""The audit log: who did what, when. Never passwords, never message bodies."""

import getpass
import json

from .db import isoformat

PAGE_SIZE = 50


def cli_actor():
    """Who ran a command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def record(db, actor, action, now, target=None, **detail):
    """Append one entry; `detail` is stored as JSON (small facts like counts)."""
    db["audit_log"].insert(
        {
            "at": isoformat(now),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
        }
    )


def page(db, before_id=None, limit=PAGE_SIZE):
    """Newest entries first, `limit` at a time, continuing below `before_id` (keyset)."""
    if before_id is None:
        sql, params = "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", [limit + 1]
    else:
        sql = "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?"
        params = [before_id, limit + 1]
    rows = list(db.query(sql, params))
    next_before = rows[limit - 1]["id"] if len(rows) > limit else None
    return rows[:limit], next_before
