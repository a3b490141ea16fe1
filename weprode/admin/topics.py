"""Staff screens for topics: the list with readers per topic, create and edit.

The rules (slug, names, at least one public topic) live in `newsletter.topics`; the
form only carries the values there and puts each refusal next to its field.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from ..db import get_db, utcnow
from ..newsletter import topics
from . import bp


class TopicForm(FlaskForm):
    """A topic's values; `topics.validation_errors` judges them, not WTForms."""

    slug = StringField(topics.FIELD_LABELS["slug"])
    name_en = StringField(topics.FIELD_LABELS["name_en"])
    name_fr = StringField(topics.FIELD_LABELS["name_fr"])
    description_en = TextAreaField(topics.FIELD_LABELS["description_en"])
    description_fr = TextAreaField(topics.FIELD_LABELS["description_fr"])
    public = BooleanField(_l("Public (offered on the signup forms)"))


def topic_or_404(topic_id: int) -> dict:
    """The topic, or a 404 page."""
    topic = topics.get(get_db(), topic_id)
    if topic is None:
        abort(404, description=_("No topic with this number."))
    return topic


def form_page(form: TopicForm, topic: dict | None, status: int = 200) -> tuple[str, int]:
    """The create or edit page, the form carrying its errors if any."""
    return render_template("admin/topic_edit.html", form=form, topic=topic), status


def save(form: TopicForm, topic: dict | None) -> ResponseReturnValue:
    """Create or update from the posted form; 400 with each error by its field."""
    if not form.validate():  # the CSRF token only
        return form_page(form, topic, 400)
    values = {name: form[name].data for name in (*topics.FIELD_LABELS, "public")}
    db, now = get_db(), utcnow()
    try:
        if topic is None:
            topics.create(db, values, current_user.email, now)
        else:
            topics.update(db, topic["id"], values, current_user.email, now)
    except topics.TopicInvalid as invalid:
        for name, text in invalid.errors.items():
            form[name].errors = [text]
        return form_page(form, topic, 400)
    flash(_("Topic saved."))
    return redirect(url_for("admin.topic_list"))


@bp.get("/topics")
def topic_list():
    """Every topic in order: public or internal, the main one, readers now."""
    db = get_db()
    return render_template(
        "admin/topics.html",
        topics=topics.all_topics(db),
        readers=topics.active_counts(db),
        form=FlaskForm(),
    )


@bp.route("/topics/new", methods=["GET", "POST"])
def topic_create():
    """A new topic, put at the end of the list."""
    form = TopicForm()
    if form.is_submitted():
        return save(form, None)
    form.public.data = True
    return form_page(form, None)


@bp.route("/topics/<int:topic_id>", methods=["GET", "POST"])
def topic_edit(topic_id):
    """Change a topic's short name, names, descriptions or visibility."""
    topic = topic_or_404(topic_id)
    form = TopicForm()
    if form.is_submitted():
        return save(form, topic)
    form = TopicForm(formdata=None, data={**topic, "public": bool(topic["public"])})
    return form_page(form, topic)


# The move buttons' values: a step in the list.
STEPS = {"up": -1, "down": 1}


@bp.post("/topics/<int:topic_id>/move")
def topic_move(topic_id):
    """One place up or down in the order the public forms and lists show topics."""
    topic_or_404(topic_id)
    if not FlaskForm().validate():
        abort(400, description=_("The form expired; reload the page and try again."))
    step = STEPS.get(request.form.get("direction", ""))
    if step is None:
        abort(400, description=_("Move a topic up or down."))
    if topics.move(get_db(), topic_id, step, current_user.email, utcnow()):
        flash(_("Order saved: the signup forms, preference page and archive follow it."))
    else:
        flash(_("This topic is already at that end of the list."))
    return redirect(url_for("admin.topic_list"))
