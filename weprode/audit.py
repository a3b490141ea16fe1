"""The audit log: who did what, when. Never passwords, never message bodies."""

import getpass
import json
from datetime import datetime

from .db import Database, isoformat, keyset_page

PAGE_SIZE = 50


def cli_actor() -> str:
    """Who ran a command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def record(
    db: Database,
    actor: str,
    action: str,
    now: datetime,
    target: str | None = None,
    **detail: object,
) -> None:
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


def page(
    db: Database, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], int | None]:
    """Newest entries first, `limit` at a time, continuing below `before_id` (keyset)."""
    after = None if before_id is None else (before_id,)
    rows, last = keyset_page(db, "SELECT * FROM audit_log", ("id",), limit=limit, after=after)
    return rows, last and last[0]
