"""Staff screens for subscribers: list, detail, rectify, unsubscribe, erase, export."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from .. import audit
from ..campaigns import ledger
from ..db import get_db, utcnow
from ..forms import single_line
from ..newsletter import export, optout, search, stats, subscribers, subscriptions, topics
from . import bp, lists


class RectifyForm(FlaskForm):
    first_name = StringField(
        _l("First name"), validators=[Optional(), single_line, Length(max=100)]
    )
    language = RadioField(
        _l("Language"),
        choices=[SelectChoice("en", _l("English")), SelectChoice("fr", _l("French"))],
    )


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token: the confirmation button."""


def filters_from_args() -> search.SubscriberFilter:
    """The list's filters from the query string; 400 with the reason if malformed."""
    return lists.filters_or_400(
        search.SubscriberFilter,
        query=request.args.get("q", "").strip(),
        status=request.args.get("status", ""),
        language=request.args.get("language", ""),
        sort=request.args.get("sort", "newest"),
    )


def subscriber_or_404(subscriber_id: int) -> dict:
    """The subscriber, or a 404 page saying they may have been erased or purged."""
    subscriber = subscribers.get(get_db(), subscriber_id)
    if subscriber is None:
        abort(404, description=_("No subscriber with this number (erased or purged?)."))
    return subscriber


def detail_page(
    subscriber: dict, form: RectifyForm | None = None, status: int = 200
) -> tuple[str, int]:
    """The detail page, with the rectify form as given (carrying its errors) or a fresh one."""
    db = get_db()
    form = form or RectifyForm(
        formdata=None, first_name=subscriber["first_name"], language=subscriber["language"]
    )
    return render_template(
        "admin/subscriber.html",
        subscriber=subscriber,
        consents=subscribers.consents(db, subscriber["id"]),
        topics=subscriptions.of_subscriber(db, subscriber["id"]),
        topic_names={topic["id"]: topic[f"name_{get_locale()}"] for topic in topics.all_topics(db)},
        history=subscribers.history(db, subscriber["id"]),
        deliveries=ledger.deliveries_for(db, subscriber["id"]),
        form=form,
        confirm_form=ConfirmForm(),
    ), status


@bp.get("/subscribers")
def subscriber_list():
    """Search, filter, sort; 50 a page with keyset pagination."""
    filters = filters_from_args()
    page = search.search(get_db(), filters, cursor=request.args.get("after"))
    return render_template(
        "admin/subscribers.html",
        page=page,
        filters=filters,
        counts=stats.counts_by_status(get_db()),
        list_args=lists.args_without_cursor(),
    )


@bp.get("/subscribers/export.csv")
def subscriber_export():
    """The current filter as CSV (formula-safe), recorded in the audit log."""
    filters = filters_from_args()
    return lists.csv_download(
        "subscribers",
        lambda db: export.csv_lines(search.filtered_rows(db, filters)),
        query=filters.query,
        status=filters.status,
        language=filters.language,
    )


@bp.get("/subscribers/<int:subscriber_id>")
def subscriber_detail(subscriber_id):
    """Data, consent proof, history; the actions staff may take."""
    return detail_page(subscriber_or_404(subscriber_id))


@bp.post("/subscribers/<int:subscriber_id>/rectify")
def subscriber_rectify(subscriber_id):
    """Correct the first name or language at the person's request."""
    subscriber = subscriber_or_404(subscriber_id)
    form = RectifyForm()
    if not form.validate():
        return detail_page(subscriber, form=form, status=400)
    db, now = get_db(), utcnow()
    subscribers.rectify(db, subscriber_id, form.first_name.data, form.language.data, now)
    audit.record(db, current_user.email, "rectify", now, target=f"subscriber:{subscriber_id}")
    flash(_("Changes saved."))
    return redirect(url_for("admin.subscriber_detail", subscriber_id=subscriber_id))


@bp.route("/subscribers/<int:subscriber_id>/unsubscribe", methods=["GET", "POST"])
def subscriber_unsubscribe(subscriber_id):
    """Unsubscribe on the person's request, after a confirmation step."""
    subscriber = subscriber_or_404(subscriber_id)
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        db, now = get_db(), utcnow()
        optout.unsubscribe(db, subscriber_id, "staff", now)
        audit.record(
            db, current_user.email, "unsubscribe", now, target=f"subscriber:{subscriber_id}"
        )
        flash(_("Unsubscribed. The address is on the suppression list."))
        return redirect(url_for("admin.subscriber_detail", subscriber_id=subscriber_id))
    return render_template(
        "admin/confirm_action.html", subscriber=subscriber, form=form, action="unsubscribe"
    )


@bp.route("/subscribers/<int:subscriber_id>/erase", methods=["GET", "POST"])
def subscriber_erase(subscriber_id):
    """Erase the person's data after a confirmation step; only the hash remains."""
    subscriber = subscriber_or_404(subscriber_id)
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        db, now = get_db(), utcnow()
        subscribers.erase(db, subscriber_id, now)
        audit.record(db, current_user.email, "erase", now, target=f"subscriber:{subscriber_id}")
        flash(_("The subscriber’s data was erased. Only the suppression fingerprint remains."))
        return redirect(url_for("admin.subscriber_list"))
    return render_template(
        "admin/confirm_action.html", subscriber=subscriber, form=form, action="erase"
    )
