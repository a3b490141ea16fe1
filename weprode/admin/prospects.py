"""Staff screens for prospects: list, detail with requests, status, notes, CSV export."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .. import audit
from ..contact import prospects
from ..db import get_db, utcnow
from . import bp, lists

NOTE_MAX_LENGTH = 5000


class StatusForm(FlaskForm):
    """Where the follow-up stands."""

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(status, label) for status, label in prospects.STATUS_LABELS.items()],
    )


class NoteForm(FlaskForm):
    """An internal note, for staff only."""

    body = TextAreaField(
        _l("New note"),
        validators=[
            DataRequired(_l("Please write the note.")),
            Length(max=NOTE_MAX_LENGTH, message=_l("Notes are limited to %(max)d characters.")),
        ],
        render_kw={"rows": 4},
    )


def filters_from_args() -> prospects.ProspectFilter:
    """The list's filters from the query string; 400 with the reason if malformed."""
    return lists.filters_or_400(
        prospects.ProspectFilter,
        query=request.args.get("q", "").strip(),
        status=request.args.get("status", ""),
    )


def prospect_or_404(prospect_id: int) -> dict:
    """The prospect, or a 404 page saying it may have been deleted."""
    prospect = prospects.get(get_db(), prospect_id)
    if prospect is None:
        abort(404, description=_("No prospect with this number (deleted after 3 years?)."))
    return prospect


def detail_page(
    prospect: dict,
    status_form: StatusForm | None = None,
    note_form: NoteForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The detail page, with the forms as given (carrying their errors) or fresh ones."""
    db = get_db()
    status_form = status_form or StatusForm(formdata=None, status=prospect["status"])
    return render_template(
        "admin/prospect.html",
        prospect=prospect,
        interactions=prospects.interactions(db, prospect["id"]),
        notes=prospects.notes(db, prospect["id"]),
        status_form=status_form,
        note_form=note_form or NoteForm(formdata=None),
        labels=prospects.STATUS_LABELS,
    ), status


@bp.get("/prospects")
def prospect_list():
    """Search and filter; 50 a page, latest interaction first (keyset pagination)."""
    filters = filters_from_args()
    rows, next_cursor = prospects.search(get_db(), filters, cursor=request.args.get("after"))
    return render_template(
        "admin/prospects.html",
        rows=rows,
        next_cursor=next_cursor,
        filters=filters,
        counts=prospects.counts_by_status(get_db()),
        labels=prospects.STATUS_LABELS,
        list_args=lists.args_without_cursor(),
    )


@bp.get("/prospects/export.csv")
def prospect_export():
    """The current filter as CSV (formula-safe), recorded in the audit log."""
    filters = filters_from_args()
    return lists.csv_download(
        "prospects",
        lambda db: prospects.csv_lines(prospects.filtered_rows(db, filters)),
        query=filters.query,
        status=filters.status,
    )


@bp.get("/prospects/<int:prospect_id>")
def prospect_detail(prospect_id):
    """Identity, every request, notes; status and note forms."""
    return detail_page(prospect_or_404(prospect_id))


@bp.post("/prospects/<int:prospect_id>/status")
def prospect_status(prospect_id):
    """Move the prospect along: new, in progress, answered, closed."""
    prospect = prospect_or_404(prospect_id)
    form = StatusForm()
    if not form.validate():
        return detail_page(prospect, status_form=form, status=400)
    db, now = get_db(), utcnow()
    previous = prospects.set_status(db, prospect_id, form.status.data)
    if previous != form.status.data:
        audit.record(
            db,
            current_user.email,
            "prospect_status",
            now,
            target=f"prospect:{prospect_id}",
            previous=previous,
            status=form.status.data,
        )
    flash(_("Status set to “%(status)s”.", status=prospects.STATUS_LABELS[form.status.data]))
    return redirect(url_for("admin.prospect_detail", prospect_id=prospect_id))


@bp.post("/prospects/<int:prospect_id>/notes")
def prospect_note(prospect_id):
    """Add an internal note, signed by the staff member (never shown to the prospect)."""
    prospect = prospect_or_404(prospect_id)
    form = NoteForm()
    if not form.validate():
        return detail_page(prospect, note_form=form, status=400)
    db, now = get_db(), utcnow()
    note_id = prospects.add_note(db, prospect_id, current_user.email, form.body.data.strip(), now)
    # The audit log says that a note was written, never what it says.
    audit.record(
        db, current_user.email, "prospect_note", now, target=f"prospect:{prospect_id}", note=note_id
    )
    flash(_("Note added."))
    return redirect(url_for("admin.prospect_detail", prospect_id=prospect_id))
