"""The CSV import screen: upload, state source and legal basis, choose the mode."""

import io

from flask import Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..db import Database, get_db, utcnow
from ..forms import single_line
from ..newsletter import importing, topics
from ..security import larger_body_allowed
from . import bp, labels


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file (columns: email, first_name, language)"), validators=[FileRequired()]
    )
    source = StringField(
        _l("Where does this list come from?"),
        validators=[DataRequired(), single_line, Length(max=500)],
    )
    legal_basis = StringField(
        _l("Legal basis (how these people consented)"),
        validators=[DataRequired(), single_line, Length(max=500)],
    )
    # No `required`: a select always holds one of its topics (the main one first), and
    # the field itself refuses a value that is not one of them.
    topic = SelectField(_l("Topic they join"), coerce=int)
    mode = RadioField(
        _l("What should happen to new addresses?"),
        choices=[
            SelectChoice("double-opt-in", _l("Send each a confirmation e-mail (double opt-in)")),
            SelectChoice("confirmed", _l("Add them as confirmed (consent already proven)")),
        ],
        validators=[DataRequired(_l("Choose what happens to new addresses."))],
    )


# The example file's people, by the language of the page that offers it.
EXAMPLE_PEOPLE = {
    "en": [("jane@example.org", "Jane", "en"), ("marie@example.org", "Marie", "fr")],
    "fr": [("marie@example.org", "Marie", "fr"), ("jane@example.org", "Jane", "en")],
}


@bp.get("/subscribers/import/example.csv")
def subscriber_import_example():
    """A file the import accepts as it is: the header row, then one person per line."""
    people = EXAMPLE_PEOPLE.get(str(get_locale()), EXAMPLE_PEOPLE["en"])
    lines = [",".join(importing.COLUMNS), *(",".join(person) for person in people)]
    filename = _("subscribers-example.csv")  # ASCII in every language: no RFC 5987 needed
    return Response(
        "\r\n".join(lines) + "\r\n",
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/subscribers/import", methods=["GET", "POST"])
@larger_body_allowed("IMPORT_MAX_CONTENT_LENGTH")
def subscriber_import():
    """Validate the whole file first; import all of it or nothing, into the topic chosen."""
    db = get_db()
    form = ImportForm()
    form.topic.choices = topic_choices(db)
    if "topic" not in request.form:  # the page's default, and a form from before topics
        form.topic.data = topics.main_topic_id(db)
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_page(form, None), status
    # Undecodable bytes become line errors in the report, not an exception.
    text = io.TextIOWrapper(form.file.data.stream, encoding="utf-8-sig", newline="")
    report = importing.import_subscribers(
        db,
        text,
        source=form.source.data,
        legal_basis=form.legal_basis.data,
        mode=form.mode.data,
        actor=current_user.email,
        now=utcnow(),
        topic_id=form.topic.data,
    )
    status = 200 if report.imported else 400
    return render_page(form, report), status


def topic_choices(db: Database) -> list[tuple[int, str]]:
    """Every topic, internal ones too (staff hold these people's consent), in order."""
    return [
        (
            topic["id"],
            labels.topic_name(topic)
            if topic["public"]
            else _("%(topic)s (internal)", topic=labels.topic_name(topic)),
        )
        for topic in topics.all_topics(db)
    ]


def render_page(form: ImportForm, report: importing.ImportReport | None) -> str:
    """The import page, with a link to an example file in the staff area's language."""
    return render_template("admin/import.html", form=form, report=report, columns=importing.COLUMNS)


@bp.route("/subscribers/imports")
def import_list():
    """Every recent import with its state; refreshes itself while one is unfinished."""
    db = get_db()
    imports = importing.batches.recent(db)
    running = any(record["status"] in importing.batches.UNFINISHED for record in imports)
    return render_template(
        "admin/imports.html",
        imports=imports,
        running=running,
        topic_names={topic["id"]: labels.topic_name(topic) for topic in topics.all_topics(db)},
    )
