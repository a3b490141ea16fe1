"""Staff pages for deliverability: figures per campaign and provider, the bounce log,
a raw report, lifting a falsely bounced address's suppression.

Like every staff page, they are in STAFF_LANGUAGE.
"""

from babel import Locale
from babel.numbers import format_decimal, format_percent
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from ..campaigns import ledger
from ..db import get_db, parse_row_id, utcnow
from ..deliverability import bounce_log, figures
from . import bp

REASON_MAX_LENGTH = 500


class ConfirmForm(FlaskForm):
    """Only a CSRF token; the reason is read and checked by the view."""


def formatters(locale: Locale) -> tuple:
    """(number, percent) in `locale`: counts as it writes them (1,234 / 1 234), rates
    with up to two decimals of percent (0.31% / 0,31 %)."""

    def number(value: int) -> str:
        return format_decimal(value, locale=locale)

    def percent(rate: float) -> str:
        return format_percent(round(rate, 4), locale=locale, decimal_quantization=False)

    return number, percent


def bar(rate: float, limit: float, aim: float | None = None) -> dict[str, float]:
    """An SVG bar's geometry on a 0-100 scale that puts the limit half-way."""
    scale = 2 * limit
    return {
        "width": round(min(rate / scale, 1) * 100, 2),
        "limit": 50,
        "aim": round(aim / scale * 100, 2) if aim else None,
    }


def page_helpers() -> dict:
    """What the deliverability templates format with."""
    # The locale is looked up once: a page formats a few hundred figures.
    number, percent = formatters(get_locale())
    return {"number": number, "percent": percent, "bar": bar}


def refusal_text(reason: str) -> str:
    """Why staff may not lift this suppression, in the page's language."""
    return {
        "complaint": _(
            "This address complained (it marked our mail as spam). That is the person's own "
            "wish, like unsubscribing: staff cannot lift it. Only the person can, by signing "
            "up again and confirming."
        ),
        "own_wish": _(
            "This address is suppressed because the person unsubscribed, objected or asked "
            "for erasure, not because of a bounce. Only the person can lift that, by signing "
            "up again and confirming."
        ),
        "not_suppressed": _("This address is not on the suppression list: nothing to lift."),
        "not_a_bounce": _(
            "This event is a policy refusal, which never suppressed the address: nothing to lift."
        ),
    }[reason]


@bp.get("/deliverability")
def deliverability():
    """Figures per campaign (newest first, 20 a page) and per provider."""
    db = get_db()
    after = request.args.get("after", type=parse_row_id)
    chosen = request.args.get("campaign", type=parse_row_id)
    campaign = None
    if chosen is not None:
        campaign = ledger.get(db, chosen)
        if campaign is None or campaign["started_at"] is None:
            abort(404, description=_("No sent campaign with this number."))
    now = utcnow()
    rows, next_after = figures.campaign_page(db, now, after=after)
    return render_template(
        "admin/deliverability.html",
        rows=rows,
        next_after=next_after,
        after=after,
        campaign=campaign,
        providers=figures.provider_figures(db, now, campaign),
        limits=figures,
        **page_helpers(),
    )


@bp.get("/deliverability/bounces")
def bounce_list():
    """Bounce events newest first, 50 a page, of one class or all."""
    severity = request.args.get("class") or None
    if severity is not None and severity not in bounce_log.CLASSES:
        abort(400, description=_("Unknown bounce class."))
    after = None
    if request.args.get("after"):
        try:
            after = bounce_log.parse_cursor(request.args["after"])
        except ValueError:
            abort(400, description=_("This page link is damaged; start from the first page."))
    events, last = bounce_log.page(get_db(), severity, after)
    return render_template(
        "admin/bounce_log.html",
        events=events,
        severity=severity,
        after=request.args.get("after"),
        next_after=f"{last[0]}|{last[1]}" if last else None,
        classes=bounce_log.CLASSES,
        **page_helpers(),
    )


def event_or_404(event_id: int) -> dict:
    """The bounce event, or a 404 page."""
    found = bounce_log.event(get_db(), event_id)
    if found is None:
        abort(404, description=_("No bounce event with this number."))
    return found


@bp.get("/deliverability/bounces/<int:event_id>")
def bounce_detail(event_id):
    """One event and its raw report while it is kept, as plain escaped text."""
    found = event_or_404(event_id)
    report = None
    if found["report_id"] is not None:
        report = bounce_log.report_text(get_db(), found["report_id"])
    return render_template(
        "admin/bounce_event.html",
        event=found,
        report=report,
        refusal=lift_refusal(found),
        kept_days=bounce_log.REPORT_KEPT_DAYS,
        **page_helpers(),
    )


def lift_refusal(found: dict) -> str | None:
    """Why this event's suppression cannot be lifted, or None when it can."""
    try:
        bounce_log.lift_check(get_db(), found)
    except bounce_log.LiftRefused as refused:
        return refusal_text(refused.reason)
    return None


@bp.route("/deliverability/bounces/<int:event_id>/lift", methods=["GET", "POST"])
def bounce_lift(event_id) -> ResponseReturnValue:
    """Confirm, with a reason, that a bounce was a false positive; then lift it."""
    found = event_or_404(event_id)
    form = ConfirmForm()
    refusal = lift_refusal(found)
    error = None
    reason = " ".join(request.form.get("reason", "").split())
    if request.method == "POST":
        if not form.validate():
            abort(400, description=_("The form expired; reload the page and try again."))
        if refusal:
            return render_lift(found, form, refusal, None, reason), 409
        if not reason:
            error = _("Say why this bounce was a false positive.")
        elif len(reason) > REASON_MAX_LENGTH:
            error = _("Keep the reason under %(count)s characters.", count=REASON_MAX_LENGTH)
        else:
            try:
                bounce_log.lift_suppression(
                    get_db(), event_id, current_user.email, reason, utcnow()
                )
            except bounce_log.LiftRefused as refused:  # changed since the page was shown
                return render_lift(found, form, refusal_text(refused.reason), None, reason), 409
            flash(
                _(
                    "The suppression is lifted. The subscriber stays bounced until they "
                    "confirm a new signup themselves."
                )
            )
            return redirect(url_for("admin.bounce_detail", event_id=event_id))
    return render_lift(found, form, refusal, error, reason), 400 if error else 200


def render_lift(
    found: dict, form: FlaskForm, refusal: str | None, error: str | None, reason: str
) -> str:
    """The confirmation page (or the refusal)."""
    return render_template(
        "admin/bounce_lift.html",
        event=found,
        form=form,
        refusal=refusal,
        error=error,
        reason=reason,
        reason_max=REASON_MAX_LENGTH,
        **page_helpers(),
    )
