"""Writing campaigns: a version per language, the audience, validation, the list with figures.

A campaign holds an English and/or a French version (subject, preheader, body); each
subscriber gets the version of their language, or the other one when only one exists
(`audiences.version_for`). A version left entirely blank does not exist.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..db import Database, isoformat, keyset_page, write_transaction
from ..forms import has_forbidden_character
from ..newsletter import topics
from . import audiences, ledger, segments, welcome
from .placeholders import PlaceholderError, check_placeholders

LANGUAGES = audiences.VERSION_LANGUAGES
# In English like the campaign screens (`admin.campaigns.VERSION_NAMES` for messages).
LANGUAGE_NAMES = {"en": "English", "fr": "French"}
MAX_SUBJECT = 200
MAX_PREHEADER = 200
MAX_BODY = 100_000
# Each field as the staff editor labels it: messages name fields this way, never by
# their internal names.
FIELD_LABELS = {
    "subject": _l("Subject"),
    "preheader": _l("Preheader"),
    "body_markdown": _l("Body"),
    "en-subject": _l("English subject"),
    "en-preheader": _l("English preheader"),
    "en-body_markdown": _l("English body"),
    "fr-subject": _l("French subject"),
    "fr-preheader": _l("French preheader"),
    "fr-body_markdown": _l("French body"),
    "versions": _l("Versions"),
    "audience": _l("Audience"),
    "topic": _l("Newsletter topic"),
    "segment": _l("Segment"),
}


class Version(NamedTuple):
    """One language's content of a campaign."""

    subject: str = ""
    preheader: str = ""
    body_markdown: str = ""

    def is_blank(self) -> bool:
        """True when nothing was written: the campaign has no version in this language."""
        return not any((text or "").strip() for text in self)


def version_errors(version: Version) -> dict[str, str]:
    """{field: message} for one version that exists."""
    errors = {}
    subject, preheader, body = (text or "" for text in version)
    if not subject.strip():
        errors["subject"] = _("A subject is required.")
    elif len(subject) > MAX_SUBJECT or has_forbidden_character(subject):
        errors["subject"] = one_line_of_at_most(MAX_SUBJECT)
    if len(preheader) > MAX_PREHEADER or has_forbidden_character(preheader):
        errors["preheader"] = one_line_of_at_most(MAX_PREHEADER)
    if not body.strip():
        errors["body_markdown"] = _("The body is empty.")
    elif len(body) > MAX_BODY:
        errors["body_markdown"] = _("At most %(count)s characters.", count=format_number(MAX_BODY))
    for name, text in (("subject", subject), ("body_markdown", body)):
        if name not in errors:
            try:
                check_placeholders(text)
            except PlaceholderError as error:
                errors[name] = str(error)
    return errors


def validation_errors(versions: Mapping[str, Version], audience: str | None) -> dict[str, str]:
    """{field: message} for everything wrong, fields named `en-subject`, `fr-body_markdown`...

    `versions` maps a language to its content; blank versions are ignored, but one
    must exist. An audience may be left unchosen in a draft (sending then refuses),
    never set to one that does not exist.
    """
    errors = {}
    written = {lang: v for lang, v in versions.items() if not Version(*v).is_blank()}
    for language in written:
        if language not in LANGUAGES:
            errors["versions"] = _("Versions exist in English and French only.")
    if not written:
        errors["versions"] = _("Write the English or the French version (or both).")
    for language, version in written.items():
        if language in LANGUAGES:
            for name, message in version_errors(Version(*version)).items():
                errors[f"{language}-{name}"] = message
    if audience and (problem := audience_error(audience)):
        errors["audience"] = problem
    return errors


def audience_error(audience: str) -> str | None:
    """Why `audience` names no audience, or None when it names one."""
    try:
        audiences.get(audience)
    except audiences.AudienceMissing as error:
        return str(error)
    return None


def one_line_of_at_most(limit: int) -> str:
    """The message for a one-line field that is too long or holds a line break."""
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


def target_errors(db: Database, topic_id: int | None, segment_id: int | None) -> dict[str, str]:
    """{field: message} when the topic or the segment does not exist (None: the main
    topic, no segment)."""
    errors = {}
    if topic_id is not None and topics.get(db, topic_id) is None:
        errors["topic"] = _("Choose a topic of the list.")
    if segment_id is not None and segments.get(db, segment_id) is None:
        errors["segment"] = _("Choose a segment of the list, or none.")
    return errors


def segment_still_there(db: Database, segment_id: int | None) -> None:
    """Within the write transaction: `CampaignInvalid` when the segment checked a moment
    ago was deleted since (by a colleague), rather than a foreign-key error."""
    if errors := target_errors(db, None, segment_id):
        raise CampaignInvalid(errors)


def checked(
    versions: Mapping[str, Version], audience: str | None, target: Mapping[str, str] = {}
) -> dict[str, Version]:
    """The versions that exist, stripped; `CampaignInvalid` when anything is wrong
    (`target`: the `target_errors`)."""
    errors = {**validation_errors(versions, audience), **target}
    if errors:
        raise CampaignInvalid(errors)
    written = {language: Version(*version) for language, version in versions.items()}
    return {
        language: Version(v.subject.strip(), (v.preheader or "").strip(), v.body_markdown)
        for language, v in written.items()
        if not v.is_blank()
    }


def save_versions(db: Database, campaign_id: int, versions: Mapping[str, Version]) -> None:
    """Replace the campaign's versions (inside the caller's transaction)."""
    db.execute("DELETE FROM campaign_versions WHERE campaign_id = ?", [campaign_id])
    db.conn.executemany(
        "INSERT INTO campaign_versions (campaign_id, language, subject, preheader, "
        "body_markdown) VALUES (?, ?, ?, ?, ?)",
        [(campaign_id, language, *version) for language, version in versions.items()],
    )


def create(
    db: Database,
    *,
    versions: Mapping[str, Version],
    audience: str | None,
    author: str,
    now: datetime,
    topic_id: int | None = None,
    kind: str = "regular",
    segment_id: int | None = None,
) -> int:
    """Save a new draft for `topic_id` (the main topic when None), narrowed by
    `segment_id` when given; returns its id.

    `kind` "welcome" makes the topic's welcome mail (no audience; see `welcome`);
    `CampaignInvalid` when the topic has one already."""
    target = target_errors(db, topic_id, segment_id)
    versions = checked(versions, None if kind == "welcome" else audience, target)
    stamp = isoformat(now)
    with write_transaction(db):
        segment_still_there(db, segment_id)
        if kind == "welcome" and welcome.of_topic(db, topic_id) is not None:
            raise CampaignInvalid({"versions": _("This topic has a welcome mail already.")})
        campaign_id = db.execute(
            "INSERT INTO campaigns (audience, created_at, created_by, updated_at, topic_id, "
            "kind, segment_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                None if kind == "welcome" else audience or None,
                stamp,
                author,
                stamp,
                topic_id if topic_id is not None else topics.main_topic_id(db),
                kind,
                segment_id,
            ],
        ).lastrowid
        save_versions(db, campaign_id, versions)
    return campaign_id


def update(
    db: Database,
    campaign_id: int,
    *,
    versions: Mapping[str, Version],
    audience: str | None,
    now: datetime,
    topic_id: int | None = None,
    segment_id: int | None = None,
) -> None:
    """Change a draft (a scheduled campaign goes back to draft): its versions, audience,
    topic (None keeps the one it has) and segment (None: no narrowing).

    A welcome mail can be changed while it welcomes (or is paused): the next welcome
    sent is the new text; it keeps its state."""
    versions = checked(versions, audience, target_errors(db, topic_id, segment_id))
    with write_transaction(db):
        segment_still_there(db, segment_id)
        if ledger.require(db, campaign_id)["kind"] == "welcome":
            ledger.require(db, campaign_id, "draft", "sending", "paused")
            db.execute(
                "UPDATE campaigns SET updated_at = ? WHERE id = ?", [isoformat(now), campaign_id]
            )
            save_versions(db, campaign_id, versions)
            return
        ledger.require(db, campaign_id, "draft", "scheduled")
        db.execute(
            "UPDATE campaigns SET audience = ?, updated_at = ?, status = 'draft', "
            "scheduled_at = NULL, topic_id = coalesce(?, topic_id), segment_id = ? WHERE id = ?",
            [audience or None, isoformat(now), topic_id, segment_id, campaign_id],
        )
        save_versions(db, campaign_id, versions)


def set_audience(db: Database, campaign_id: int, audience: str, now: datetime) -> None:
    """Choose a draft's (or scheduled campaign's) audience, keeping its versions."""
    problem = audience_error(audience) if audience else "Choose an audience."
    if problem:
        raise CampaignInvalid({"audience": problem})
    with write_transaction(db):
        ledger.require(db, campaign_id, "draft", "scheduled")
        db.execute(
            "UPDATE campaigns SET audience = ?, updated_at = ? WHERE id = ?",
            [audience, isoformat(now), campaign_id],
        )


def versions_of(db: Database, campaign_id: int) -> dict[str, dict]:
    """{language: {subject, preheader, body_markdown}} of the versions that exist."""
    return {
        row.pop("language"): row
        for row in db.query(
            "SELECT language, subject, preheader, body_markdown FROM campaign_versions "
            "WHERE campaign_id = ? ORDER BY language",
            [campaign_id],
        )
    }


def get(db: Database, campaign_id: int) -> dict | None:
    """The campaign with its `versions`, `topic` (what `render.prepare` takes) and
    `segment` (None when not narrowed), or None."""
    campaign = ledger.get(db, campaign_id)
    if campaign is not None:
        campaign["versions"] = versions_of(db, campaign_id)
        campaign["topic"] = topics.get(db, campaign["topic_id"])
        campaign["segment"] = segments.get(db, campaign["segment_id"])
    return campaign


def page(
    db: Database, before_id: int | None = None, limit: int = 25
) -> tuple[list[dict], int | None]:
    """Campaigns newest first with their figures; keyset pagination by id."""
    after = (before_id,) if before_id else None
    sql = (
        f"SELECT *, {ledger.TITLE}, (SELECT group_concat(language, ' ') FROM "
        "campaign_versions v WHERE v.campaign_id = campaigns.id) AS languages FROM campaigns"
    )
    rows, last = keyset_page(db, sql, ("id",), limit=limit, after=after)
    next_before = last and last[0]
    for row in rows:
        row["figures"] = ledger.figures(db, row["id"])
    return rows, next_before
