"""The dashboard and the audit log pages."""

from flask import render_template, request

from .. import audit
from ..campaigns import compose
from ..db import get_db, parse_row_id, utcnow
from ..mail import outbox
from ..newsletter import stats
from . import bp
from .charts import weekly_chart


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
        chart=weekly_chart(weeks),
        campaigns=compose.page(db, limit=5)[0],
        parked_mails=outbox.parked(db),
    )


@bp.get("/audit")
def audit_log():
    """Who did what, newest first, 50 a page."""
    before = request.args.get("before", type=parse_row_id)
    entries, next_before = audit.page(get_db(), before_id=before)
    return render_template("admin/audit.html", entries=entries, next_before=next_before)
