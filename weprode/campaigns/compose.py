"""Writing campaigns: validation (placeholders included), drafts, the list with figures."""

from datetime import datetime

from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..db import Database, isoformat, keyset_page, write_transaction
from ..forms import has_forbidden_character
from . import ledger, render

LANGUAGES = ("en", "fr", "all")
MAX_SUBJECT = 200
MAX_PREHEADER = 200
MAX_BODY = 100_000
# Each field as the staff editor labels it: messages name fields this way, never by
# their internal names.
FIELD_LABELS = {
    "subject": _l("Subject"),
    "preheader": _l("Preheader"),
    "language": _l("Audience"),
    "body_markdown": _l("Body"),
}


def validation_errors(
    subject: str | None, preheader: str | None, body_markdown: str | None, language: str
) -> dict[str, str]:
    """{field: message} for everything wrong; empty when the campaign can be saved."""
    errors = {}
    subject, preheader, body_markdown = subject or "", preheader or "", body_markdown or ""
    if not subject.strip():
        errors["subject"] = _("A subject is required.")
    elif len(subject) > MAX_SUBJECT or has_forbidden_character(subject):
        errors["subject"] = one_line_of_at_most(MAX_SUBJECT)
    if len(preheader) > MAX_PREHEADER or has_forbidden_character(preheader):
        errors["preheader"] = one_line_of_at_most(MAX_PREHEADER)
    if not body_markdown.strip():
        errors["body_markdown"] = _("The body is empty.")
    elif len(body_markdown) > MAX_BODY:
        errors["body_markdown"] = _("At most %(count)s characters.", count=format_number(MAX_BODY))
    if language not in LANGUAGES:
        errors["language"] = _("Choose English, French or all subscribers.")
    for name, text in (("subject", subject), ("body_markdown", body_markdown)):
        if name not in errors:
            try:
                render.check_placeholders(text)
            except render.PlaceholderError as error:
                errors[name] = str(error)
    return errors


def one_line_of_at_most(limit: int) -> str:
    return _("One line of at most %(count)s characters.", count=format_number(limit))


class CampaignInvalid(ValueError):
    """Raised with the `validation_errors` dict; as text, one sentence per field, each
    named by its label ("Subject: A subject is required. Body: The body is empty.")."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            " ".join(
                _("%(field)s: %(problem)s", field=FIELD_LABELS.get(k, k), problem=v)
                for k, v in errors.items()
            )
        )
        self.errors = errors


def create(
    db: Database,
    *,
    subject: str,
    body_markdown: str,
    language: str,
    author: str,
    now: datetime,
    preheader: str = "",
) -> int:
    """Save a new draft; returns its id."""
    errors = validation_errors(subject, preheader, body_markdown, language)
    if errors:
        raise CampaignInvalid(errors)
    stamp = isoformat(now)
    cursor = db.execute(
        "INSERT INTO campaigns (subject, preheader, body_markdown, language, created_at, "
        "created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [subject.strip(), preheader.strip(), body_markdown, language, stamp, author, stamp],
    )
    return cursor.lastrowid


def update(
    db: Database,
    campaign_id: int,
    *,
    subject: str,
    body_markdown: str,
    language: str,
    now: datetime,
    preheader: str = "",
) -> None:
    """Change a draft (a scheduled campaign goes back to draft)."""
    errors = validation_errors(subject, preheader, body_markdown, language)
    if errors:
        raise CampaignInvalid(errors)
    with write_transaction(db):
        ledger.require(db, campaign_id, "draft", "scheduled")
        db.execute(
            "UPDATE campaigns SET subject = ?, preheader = ?, body_markdown = ?, language = ?, "
            "updated_at = ?, status = 'draft', scheduled_at = NULL WHERE id = ?",
            [
                subject.strip(),
                preheader.strip(),
                body_markdown,
                language,
                isoformat(now),
                campaign_id,
            ],
        )


def page(
    db: Database, before_id: int | None = None, limit: int = 25
) -> tuple[list[dict], int | None]:
    """Campaigns newest first with their figures; keyset pagination by id."""
    after = (before_id,) if before_id else None
    rows, last = keyset_page(db, "SELECT * FROM campaigns", ("id",), limit=limit, after=after)
    next_before = last and last[0]
    for row in rows:
        row["figures"] = ledger.figures(db, row["id"])
    return rows, next_before
