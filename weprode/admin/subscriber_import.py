"""The CSV import screen: upload, state source and legal basis, choose the mode."""

import io

from flask import render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..db import get_db, utcnow
from ..forms import single_line
from ..newsletter import importing
from ..security import larger_body_allowed
from . import bp


class ImportForm(FlaskForm):
    file = FileField("CSV file (columns: email, first_name, language)", validators=[FileRequired()])
    source = StringField(
        "Where does this list come from?",
        validators=[DataRequired(), single_line, Length(max=500)],
    )
    legal_basis = StringField(
        "Legal basis (how these people consented)",
        validators=[DataRequired(), single_line, Length(max=500)],
    )
    mode = RadioField(
        "What should happen to new addresses?",
        choices=[
            SelectChoice("double-opt-in", "Send each a confirmation e-mail (double opt-in)"),
            SelectChoice("confirmed", "Add them as confirmed (consent already proven)"),
        ],
        validators=[DataRequired("Choose what happens to new addresses.")],
    )


@bp.route("/subscribers/import", methods=["GET", "POST"])
@larger_body_allowed("IMPORT_MAX_CONTENT_LENGTH")
def subscriber_import():
    """Validate the whole file first; import all of it or nothing."""
    form = ImportForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("admin/import.html", form=form, report=None), status
    # Undecodable bytes become line errors in the report, not an exception.
    text = io.TextIOWrapper(form.file.data.stream, encoding="utf-8-sig", newline="")
    report = importing.import_subscribers(
        get_db(),
        text,
        source=form.source.data,
        legal_basis=form.legal_basis.data,
        mode=form.mode.data,
        actor=current_user.email,
        now=utcnow(),
    )
    status = 200 if report.imported else 400
    return render_template("admin/import.html", form=form, report=report), status


@bp.route("/subscribers/imports")
def import_list():
    """Every recent import with its state; refreshes itself while one is unfinished."""
    imports = importing.batches.recent(get_db())
    running = any(record["status"] in importing.batches.UNFINISHED for record in imports)
    return render_template("admin/imports.html", imports=imports, running=running)
