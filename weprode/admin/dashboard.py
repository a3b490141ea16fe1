"""The dashboard and the audit log pages."""

from datetime import date

from flask import render_template, request
from flask_babel import format_date, format_number, ngettext

from .. import audit
from ..campaigns import compose
from ..db import get_db, parse_row_id, utcnow
from ..mail import outbox
from ..newsletter import stats
from . import bp
from .charts import weekly_chart


def bar_label(week: dict, series: str) -> str:
    """A bar's tooltip in the page language: `5 janv. 2026 : 3 inscriptions`."""
    values = {"day": format_date(week["start"], "medium"), "count": format_number(week[series])}
    if series == "signups":
        return ngettext(
            "%(day)s: %(count)s signup", "%(day)s: %(count)s signups", week[series], **values
        )
    return ngettext(
        "%(day)s: %(count)s unsubscription",
        "%(day)s: %(count)s unsubscriptions",
        week[series],
        **values,
    )


def month_label(start: date) -> str:
    """An x-axis label in the page language: `janv.`."""
    return format_date(start, "MMM")


@bp.get("/")
def dashboard():
    """Counts, the last 30 days, a year of weekly signups and churn."""
    db, now = get_db(), utcnow()
    weeks = stats.weekly_activity(db, now)
    return render_template(
        "admin/dashboard.html",
        counts=stats.counts_by_status(db),
        recent=stats.recent_activity(db, now),
        weeks=weeks,
        chart=weekly_chart(weeks, bar_label, month_label),
        campaigns=compose.page(db, limit=5)[0],
        parked_mails=outbox.parked(db),
    )


@bp.get("/audit")
def audit_log():
    """Who did what, newest first, 50 a page."""
    before = request.args.get("before", type=parse_row_id)
    entries, next_before = audit.page(get_db(), before_id=before)
    return render_template("admin/audit.html", entries=entries, next_before=next_before)
