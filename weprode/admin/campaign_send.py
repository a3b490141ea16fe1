"""Sending and scheduling a campaign: only what the confirming page showed is sent.

The send box carries, in hidden fields, the audience, topic and segment (with a
fingerprint of the segment's conditions) the staff member saw counted. If any of them
changed before the POST (a colleague edited the campaign or the segment, another tab
saved), the send is refused with the reason and nothing is frozen: staff look at the
new counts and confirm again.
"""

from datetime import datetime

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..campaigns import freeze, ledger
from ..db import Database, isoformat
from . import bp, labels
from .campaigns import action, campaign_or_404, shown_target


def target_changes(campaign_id: int) -> list[str]:
    """Why the POSTed send box no longer matches the campaign (empty when it does)."""
    current = shown_target(campaign_or_404(campaign_id))
    changed = {name for name, value in current.items() if request.form.get(name, "") != value}
    reasons = {
        "audience": _("The audience changed since the page was shown."),
        "topic": _("The topic changed since the page was shown."),
        "segment": _("The segment changed since the page was shown."),
        "segment_definition": _("The segment’s conditions were edited since the page was shown."),
    }
    return [text for name, text in reasons.items() if name in changed]


def back_to_campaign(campaign_id: int, message: str) -> ResponseReturnValue:
    """The campaign page again, saying why nothing was done."""
    flash(message)
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))


def refused_if_changed(campaign_id: int) -> ResponseReturnValue | None:
    """Back to the campaign with the reasons when staff confirmed another target."""
    reasons = target_changes(campaign_id)
    if not reasons:
        return None
    return back_to_campaign(
        campaign_id, " ".join([*reasons, _("Check the counts and confirm again.")])
    )


@bp.post("/campaigns/<int:campaign_id>/send")
def campaign_send(campaign_id):
    """Freeze the audience and queue every message; the worker sends them."""
    if request.form.get("confirm") != "yes":
        return back_to_campaign(
            campaign_id, _("Tick the box to confirm you checked the preview and the test e-mail.")
        )
    # Checked just before the freeze's own transaction: an edit landing in between
    # is a window of milliseconds, not the minutes a page stays open.
    if refused := refused_if_changed(campaign_id):
        return refused
    return action(
        campaign_id,
        "campaign_send",
        lambda db, now: start_sending(db, campaign_id, now),
        _("Sending started."),
    )


def start_sending(db: Database, campaign_id: int, now: datetime) -> str | None:
    """Freeze the audience for at most CAMPAIGN_START_SECONDS; when the worker has to
    finish it, the message saying so (instead of "Sending started")."""
    seconds = current_app.config["CAMPAIGN_START_SECONDS"]
    if freeze.start(db, campaign_id, now, seconds=seconds) is None:
        return freeze.preparing_message(ledger.recipients(db, campaign_id))
    return None


@bp.post("/campaigns/<int:campaign_id>/schedule")
def campaign_schedule(campaign_id):
    """Send at a given date and time, read in the staff member's time zone."""
    try:
        when = labels.from_staff_time(request.form.get("send_at", ""))
    except ValueError:
        return back_to_campaign(campaign_id, _("Give the date and time as YYYY-MM-DD HH:MM."))
    if refused := refused_if_changed(campaign_id):
        return refused
    return action(
        campaign_id,
        "campaign_schedule",
        lambda db, now: ledger.schedule(db, campaign_id, when, now),
        _("Scheduled for %(when)s.", when=labels.staff_time(isoformat(when))),
    )
