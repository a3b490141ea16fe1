"""Staff screens for campaigns: list, editor, preview, test, send, schedule, pause."""

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from .. import audit
from ..campaigns import archive, compose, ledger, render
from ..db import Database, get_db, parse_row_id, utcnow
from ..deliverability import preflight
from ..mail import bulk_smtp, messages
from ..security import CONTENT_SECURITY_POLICY
from . import bp

FIELDS = ("subject", "preheader", "language", "body_markdown")
STYLE_ATTRIBUTE = re.compile(r'style="([^"]*)"')


def form_expired() -> str:
    """What a stale CSRF token gets, in the page's language."""
    return _("The form expired; reload the page and try again.")


class ActionForm(FlaskForm):
    """Only a CSRF token: every button on the campaign page posts one."""


def campaign_or_404(campaign_id: int) -> dict:
    campaign = ledger.get(get_db(), campaign_id)
    if campaign is None:
        abort(404, description=_("No campaign with this number."))
    return campaign


@bp.get("/campaigns")
def campaign_list():
    """Campaigns with status and figures, newest first."""
    rows, next_before = compose.page(
        get_db(), before_id=request.args.get("before", type=parse_row_id)
    )
    return render_template("admin/campaigns.html", campaigns=rows, next_before=next_before)


def editor(campaign: dict | None = None) -> ResponseReturnValue:
    """Show and save the editor; validation errors appear next to each field."""
    db = get_db()
    values = {name: (campaign or {}).get(name, "") for name in FIELDS}
    values["language"] = values["language"] or "all"
    errors = {}
    form = ActionForm()
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in FIELDS}
        if not form.validate():
            abort(400, description=form_expired())
        now = utcnow()
        try:
            if campaign is None:
                campaign_id = compose.create(db, author=current_user.email, now=now, **values)
                audit.record(
                    db,
                    current_user.email,
                    "campaign_created",
                    now,
                    target=f"campaign:{campaign_id}",
                )
            else:
                campaign_id = campaign["id"]
                compose.update(db, campaign_id, now=now, **values)
            flash(_("Campaign saved."))
            return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))
        except compose.CampaignInvalid as error:
            errors = error.errors
        except ledger.CampaignStateError as error:
            abort(409, description=str(error))
    audience = {lang: ledger.audience_size(db, lang) for lang in compose.LANGUAGES}
    status = 400 if errors else 200
    return render_template(
        "admin/campaign_edit.html",
        campaign=campaign,
        values=values,
        errors=errors,
        form=form,
        audience=audience,
    ), status


@bp.route("/campaigns/new", methods=["GET", "POST"])
def campaign_new():
    """A new draft."""
    return editor()


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def campaign_edit(campaign_id):
    """Change a draft or a scheduled campaign (it goes back to draft)."""
    campaign = campaign_or_404(campaign_id)
    if campaign["status"] not in ("draft", "scheduled"):
        abort(409, description=_("Only draft and scheduled campaigns can be changed."))
    return editor(campaign)


@bp.get("/campaigns/<int:campaign_id>")
def campaign_detail(campaign_id):
    """Figures, a progress bar while sending (the page refreshes itself), actions.

    Before the first send, `?preflight=1` runs the deliverability pre-flight check
    here (DNS and HTTP requests: only when asked, not on every view).
    """
    campaign = campaign_or_404(campaign_id)
    db = get_db()
    figures = ledger.figures(db, campaign_id)
    unsent = campaign["status"] in ("draft", "scheduled") and not figures["recipients"]
    checks = preflight.run(current_app.config) if unsent and request.args.get("preflight") else None
    return render_template(
        "admin/campaign.html",
        campaign=campaign,
        figures=figures,
        unsent=unsent,
        checks=checks,
        audience=ledger.audience_size(db, campaign["language"]),
        published=archive.is_published(db, campaign_id),
        form=ActionForm(),
    )


@bp.get("/campaigns/<int:campaign_id>/progress.json")
def campaign_progress(campaign_id):
    """Figures for the page's progress script."""
    campaign = campaign_or_404(campaign_id)
    figures = ledger.figures(get_db(), campaign_id)
    done = figures["sent"] + figures["failed"] + figures["skipped"]
    return {
        "status": campaign["status"],
        "done": done,
        "waiting": figures["queued"] + figures["sending"],
        **{
            k: figures[k]
            for k in ("recipients", "percent", "sent", "failed", "skipped", "unsubscribed")
        },
    }


def sample_subscriber() -> dict:
    """The staff member previewing, as a recipient."""
    return {"id": 0, "email": current_user.email, "first_name": None}


@bp.get("/campaigns/<int:campaign_id>/preview")
def campaign_preview(campaign_id):
    """The HTML at desktop and mobile widths, and the text version."""
    campaign = campaign_or_404(campaign_id)
    prepared = render.prepare(campaign)
    subject, text, _ = prepared.parts_for(sample_subscriber(), "#unsubscribe-link")
    response = render_template(
        "admin/campaign_preview.html", campaign=campaign, subject=subject, text=text
    )
    # This page frames the preview document below; nothing else may be framed.
    return (
        response,
        200,
        {"Content-Security-Policy": CONTENT_SECURITY_POLICY + "; frame-src 'self'"},
    )


@bp.get("/campaigns/<int:campaign_id>/preview.html")
def campaign_preview_document(campaign_id):
    """The e-mail's HTML as a document, with a policy allowing exactly its inline styles."""
    campaign = campaign_or_404(campaign_id)
    _, _, html = render.prepare(campaign).parts_for(sample_subscriber(), "#unsubscribe-link")
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(value.encode()).digest()).decode() + "'"
            for value in STYLE_ATTRIBUTE.findall(html)
        }
    )
    policy = (
        "default-src 'none'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"style-src 'unsafe-hashes' {' '.join(hashes) or chr(39) + 'none' + chr(39)}; "
        "frame-ancestors 'self'"
    )
    headers = {"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}
    return html, 200, headers


def action(
    campaign_id: int, name: str, do: Callable[[Database, datetime], object], message: str
) -> ResponseReturnValue:
    """Run one state change from a button, with CSRF and an audit entry."""
    campaign_or_404(campaign_id)
    if not ActionForm().validate():
        abort(400, description=form_expired())
    db, now = get_db(), utcnow()
    try:
        do(db, now)
    except (ledger.CampaignStateError, messages.MailDeliveryError) as error:
        flash(str(error))
    else:
        audit.record(db, current_user.email, name, now, target=f"campaign:{campaign_id}")
        flash(message)
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/test")
def campaign_test(campaign_id):
    """Send the campaign to the signed-in staff member only."""

    def send_test(db: Database, now: datetime) -> None:
        prepared = render.prepare(ledger.get(db, campaign_id), test_mail=True)
        connection = bulk_smtp.connect()
        try:
            message = prepared.message_for(sample_subscriber(), now)
            bulk_smtp.send_raw(connection, prepared.envelope_sender, current_user.email, message)
        finally:
            bulk_smtp.close_quietly(connection)

    return action(
        campaign_id,
        "campaign_test",
        send_test,
        _("Test sent to %(email)s.", email=current_user.email),
    )


@bp.post("/campaigns/<int:campaign_id>/send")
def campaign_send(campaign_id):
    """Freeze the audience and queue every message; the worker sends them."""
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm you checked the preview and the test e-mail."))
        return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))
    return action(
        campaign_id,
        "campaign_send",
        lambda db, now: ledger.start(db, campaign_id, now),
        _("Sending started."),
    )


@bp.post("/campaigns/<int:campaign_id>/schedule")
def campaign_schedule(campaign_id):
    """Send at a given date and time (UTC)."""
    try:
        when = datetime.fromisoformat(request.form.get("send_at", "")).replace(tzinfo=UTC)
    except ValueError:
        flash(_("Give the date and time as YYYY-MM-DD HH:MM (UTC)."))
        return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))
    return action(
        campaign_id,
        "campaign_schedule",
        lambda db, now: ledger.schedule(db, campaign_id, when, now),
        _("Scheduled for %(when)s UTC.", when=when.strftime("%Y-%m-%d %H:%M")),
    )


@bp.post("/campaigns/<int:campaign_id>/pause")
def campaign_pause(campaign_id):
    return action(
        campaign_id,
        "campaign_pause",
        lambda db, now: ledger.pause(db, campaign_id, "Paused by staff", now),
        _("Paused."),
    )


@bp.post("/campaigns/<int:campaign_id>/resume")
def campaign_resume(campaign_id):
    return action(
        campaign_id,
        "campaign_resume",
        lambda db, now: ledger.resume(db, campaign_id),
        _("Resumed."),
    )


@bp.post("/campaigns/<int:campaign_id>/cancel")
def campaign_cancel(campaign_id):
    return action(
        campaign_id,
        "campaign_cancel",
        lambda db, now: ledger.cancel(db, campaign_id, now),
        _("Cancelled: nobody else will receive it."),
    )
