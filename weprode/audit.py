"""The audit log: who did what, when. Never passwords, never message bodies.

Never addresses or search text either: an entry is kept for a year, an erased
person's address must not outlive the erasure in it. Details say what was done.
"""

import getpass
import json
import re
from datetime import datetime

from .db import Database, isoformat, keyset_page
from .usage_log import ADDRESS, SEARCH_PARAMETERS, WITHHELD, hide_addresses

PAGE_SIZE = 50


def safe_detail(name: str, value: object) -> object:
    """A detail as stored: search text withheld, anything like an address hidden."""
    if name.lower() in SEARCH_PARAMETERS:
        return WITHHELD if value else value
    return hide_addresses(value) if isinstance(value, str) else value


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
    detail = {name: safe_detail(name, value) for name, value in detail.items()}
    db["audit_log"].insert(
        {
            "at": isoformat(now),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
        }
    )


def forget_address(db: Database, email: str) -> int:
    """Hide `email` in details written before they were redacted; returns how many.

    Part of an erasure: entries stay (what staff did is still told), the address goes.
    """
    rows = db.execute(
        "SELECT id, detail FROM audit_log WHERE instr(lower(detail), ?) > 0", [email.lower()]
    ).fetchall()
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    for entry_id, detail in rows:
        db.execute(
            "UPDATE audit_log SET detail = ? WHERE id = ?", [pattern.sub(ADDRESS, detail), entry_id]
        )
    return len(rows)


def page(
    db: Database, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], int | None]:
    """Newest entries first, `limit` at a time, continuing below `before_id` (keyset)."""
    after = None if before_id is None else (before_id,)
    rows, last = keyset_page(db, "SELECT * FROM audit_log", ("id",), limit=limit, after=after)
    return rows, last and last[0]
