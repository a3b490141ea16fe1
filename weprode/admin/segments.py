"""Staff screens for saved segments, and the live count of a campaign's readers.

The composer shows how many readers its topic, audience and segment hold, counted on
the server when the page is made and again by `static/js/audience-count.js` (same
origin, allowed by the policy's `script-src 'self'` and `connect-src 'self'`) each
time staff change one of them.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from .. import audit
from ..campaigns import audiences, ledger, segments
from ..db import Database, get_db, utcnow
from ..newsletter import topics
from . import bp


class SegmentForm(FlaskForm):
    """Only a CSRF token: fields are checked by `segments.validation_errors`."""


def submitted_id(name: str, required: bool) -> tuple[int | None, str | None]:
    """(id, problem) for the form or query field `name`: a number, or blank when allowed."""
    value = (request.values.get(name) or "").strip()
    if not value:
        return None, (_("Choose one of the list.") if required else None)
    if not value.isdigit() or len(value) > 18:
        return None, _("Choose one of the list.")
    return int(value), None


def submitted_target() -> tuple[int | None, int | None, dict[str, str]]:
    """The composer's topic (required) and segment (optional), with field errors."""
    topic_id, topic_problem = submitted_id("topic", required=True)
    segment_id, segment_problem = submitted_id("segment", required=False)
    errors = {"topic": topic_problem, "segment": segment_problem}
    return topic_id, segment_id, {k: v for k, v in errors.items() if v}


def topic_choices(db: Database) -> list[tuple[int, str, int]]:
    """(id, name, active readers now) for each topic a campaign may target."""
    active = topics.active_counts(db)
    return [
        (topic["id"], topics.name(topic, str(get_locale())), active.get(topic["id"], 0))
        for topic in topics.all_topics(db)
    ]


def count_text(total: int | None) -> str:
    """The sentence the composer shows (and the script puts in place)."""
    if total is None:
        return _("Choose the topic and the audience to count the readers.")
    return ngettext(
        "%(num)s reader now in this topic, audience and segment.",
        "%(num)s readers now in this topic, audience and segment.",
        total,
    )


def live_count(
    db: Database, topic_id: int | None, audience: str | None, segment_id: int | None
) -> int | None:
    """How many readers the choice holds now; None while the topic or audience is unset."""
    if topic_id is None or not audience or audience not in audiences.AUDIENCES:
        return None
    return audiences.counts(db, audience, (), topic_id, segment_id)["all"]["total"]


@bp.get("/audience-count")
def audience_count():
    """JSON {total, text} for ?topic=&audience=&segment= (total null while the topic or
    audience is unset); a 400 with `error` when one of them names nothing."""
    db = get_db()
    topic_id, topic_problem = submitted_id("topic", required=False)
    segment_id, segment_problem = submitted_id("segment", required=False)
    audience = request.args.get("audience") or None
    unknown = (
        topic_problem
        or segment_problem
        or (topic_id is not None and topics.get(db, topic_id) is None)
        or (segment_id is not None and segments.get(db, segment_id) is None)
        or (audience is not None and audience not in audiences.AUDIENCES)
    )
    if unknown:
        return {"error": _("Unknown topic, audience or segment: reload the page.")}, 400
    total = live_count(db, topic_id, audience, segment_id)
    return {"total": total, "text": count_text(total)}


@bp.get("/segments")
def segment_list():
    """Saved segments with their conditions."""
    db = get_db()
    return render_template(
        "admin/segments.html",
        segments=segments.all_segments(db),
        imports={row["id"]: row for row in segments.imports(db)},
    )


def segment_editor(segment: dict | None) -> ResponseReturnValue:
    """Show and save a segment; errors appear next to each field (a 400)."""
    db = get_db()
    form = SegmentForm()
    values = dict(segment or {})
    errors = {}
    if request.method == "POST":
        if not form.validate():
            abort(400, description=_("The form expired; reload the page and try again."))
        values = {field: request.form.get(field, "") for field in segments.FIELDS}
        now = utcnow()
        try:
            if segment is None:
                segment_id = segments.create(db, values, now)
            else:
                segment_id = segment["id"]
                segments.update(db, segment_id, values, now)
        except segments.SegmentInvalid as error:
            errors = error.errors
        else:
            audit.record(
                db, current_user.email, "segment_saved", now, target=f"segment:{segment_id}"
            )
            flash(_("Segment saved."))
            return redirect(url_for("admin.segment_edit", segment_id=segment_id))
    counts = (
        [
            (topic_id, name, live_count(db, topic_id, "all", segment["id"]))
            for topic_id, name, _active in topic_choices(db)
        ]
        if segment and not errors
        else []
    )
    live = [
        ledger.get(db, campaign["id"])
        for campaign in (segments.campaigns_using(db, segment["id"]) if segment else [])
        if campaign["status"] in ("draft", "scheduled")
    ]
    return render_template(
        "admin/segment_edit.html",
        segment=segment,
        waiting=live,
        values=values,
        errors=errors,
        form=form,
        sources=segments.sources(db),
        imports=segments.imports(db),
        counts=counts,
    ), (400 if errors else 200)


@bp.route("/segments/new", methods=["GET", "POST"])
def segment_new():
    """A new segment."""
    return segment_editor(None)


def segment_or_404(segment_id: int) -> dict:
    """The segment, or a 404 page."""
    segment = segments.get(get_db(), segment_id)
    if segment is None:
        abort(404, description=_("No segment with this number."))
    return segment


@bp.route("/segments/<int:segment_id>/edit", methods=["GET", "POST"])
def segment_edit(segment_id):
    """Change a segment; campaigns not sent yet use it as it is when they go out."""
    return segment_editor(segment_or_404(segment_id))


@bp.route("/segments/<int:segment_id>/delete", methods=["GET", "POST"])
def segment_delete(segment_id):
    """A page saying what deleting does, whose button deletes (audit-logged); refused,
    naming them, while campaigns still to be sent use the segment (a 409)."""
    segment, db, form = segment_or_404(segment_id), get_db(), SegmentForm()
    using = segments.campaigns_using(db, segment_id)
    blocking = [campaign for campaign in using if campaign["status"] in segments.LIVE_STATUSES]
    status = 200
    if request.method == "POST":
        if not form.validate():
            abort(400, description=_("The form expired; reload the page and try again."))
        try:
            segments.delete(db, segment_id, current_user.email, utcnow())
        except segments.SegmentInUse as in_use:
            blocking, status = in_use.campaigns, 409
        else:
            flash(_("Segment “%(name)s” deleted.", name=segment["name"]))
            return redirect(url_for("admin.segment_list"))
    return render_template(
        "admin/segment_delete.html",
        segment=segment,
        form=form,
        blocking=[ledger.get(db, campaign["id"]) for campaign in blocking],
        kept=len(using) - len(blocking),
    ), status
