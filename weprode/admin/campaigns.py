"""Staff screens for campaigns: list, editor, preview, test, send, schedule, pause."""

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from .. import audit
from ..campaigns import archive, audiences, compose, ledger, render, segments, welcome
from ..db import Database, get_db, parse_row_id, utcnow
from ..deliverability import preflight
from ..mail import bulk_smtp, messages
from ..newsletter import topics
from ..security import CONTENT_SECURITY_POLICY
from . import bp, labels
from . import segments as segment_views

VERSION_FIELDS = compose.Version._fields
STYLE_ATTRIBUTE = re.compile(r'style="([^"]*)"')
# A version's language in messages, which are in the staff member's language.
VERSION_NAMES = {"en": _l("English"), "fr": _l("French")}


def form_expired() -> str:
    """What a stale CSRF token gets, in the page's language."""
    return _("The form expired; reload the page and try again.")


class ActionForm(FlaskForm):
    """Only a CSRF token: every button on the campaign page posts one."""


def campaign_or_404(campaign_id: int) -> dict:
    """The campaign with its versions, or a 404 page."""
    campaign = compose.get(get_db(), campaign_id)
    if campaign is None:
        abort(404, description=_("No campaign with this number."))
    return campaign


def version_or_404(campaign_id: int, language: str) -> dict:
    """The campaign, checked to have a version in `language`."""
    campaign = campaign_or_404(campaign_id)
    if language not in campaign["versions"]:
        abort(404, description=_("This campaign has no version in this language."))
    return campaign


def submitted_versions() -> dict[str, compose.Version]:
    """The editor's two columns, named `en-subject`, `fr-body_markdown`..."""
    return {
        language: compose.Version(
            *(request.form.get(f"{language}-{name}", "") for name in VERSION_FIELDS)
        )
        for language in compose.LANGUAGES
    }


def topic_name(topic: dict) -> str:
    """The topic's name in the staff language."""
    return topics.name(topic, str(get_locale()))


def welcome_label(topic: dict | None) -> str:
    """How staff see a welcome mail: "Welcome mail — Events", in the staff language."""
    return _("Welcome mail — %(topic)s", topic=topic_name(topic) if topic else "")


def audience_choices(
    db: Database, topic_id: int, segment_id: int | None = None
) -> list[tuple[str, str, int]]:
    """(key, label, the topic's active readers now, in the segment when there is one)
    for each audience staff may choose."""
    return [
        (key, audience.label, audiences.counts(db, key, (), topic_id, segment_id)["all"]["total"])
        for key, audience in audiences.AUDIENCES.items()
    ]


@bp.get("/campaigns")
def campaign_list():
    """Campaigns with status and figures, newest first."""
    rows, next_before = compose.page(
        get_db(), before_id=request.args.get("before", type=parse_row_id)
    )
    labels = {key: audience.label for key, audience in audiences.AUDIENCES.items()}
    db = get_db()
    return render_template(
        "admin/campaigns.html",
        campaigns=rows,
        next_before=next_before,
        audience_labels=labels,
        topic_names={topic["id"]: topic_name(topic) for topic in topics.all_topics(db)},
        welcome_mails=welcome.by_topic(db),
    )


def editor(campaign: dict | None = None, welcome_topic: dict | None = None) -> ResponseReturnValue:
    """Show and save the editor; validation errors appear next to each field.

    With `welcome_topic`, the new campaign is that topic's welcome mail (no audience)."""
    db = get_db()
    is_welcome = bool(welcome_topic) or (campaign or {}).get("kind") == welcome.KIND
    saved = (campaign or {}).get("versions", {})
    versions = {
        language: compose.Version(**saved[language]) if language in saved else compose.Version()
        for language in compose.LANGUAGES
    }
    audience = (campaign or {}).get("audience")
    topic_id, segment_id = (campaign or {}).get("topic_id"), (campaign or {}).get("segment_id")
    if welcome_topic:
        topic_id = welcome_topic["id"]
    errors = {}
    form = ActionForm()
    if request.method == "POST":
        versions = submitted_versions()
        if is_welcome:  # its topic is fixed, and it has no audience nor segment
            audience, target_problems = None, {}
        else:
            audience = request.form.get("audience") or None
            topic_id, segment_id, target_problems = segment_views.submitted_target()
        if not form.validate():
            abort(400, description=form_expired())
        try:
            if not target_problems:
                kind = welcome.KIND if welcome_topic else "regular"
                target = (audience, topic_id, segment_id, kind)
                return saved_campaign(db, campaign, versions, *target)
            compose.checked(versions, audience, target_problems)
        except compose.CampaignInvalid as error:
            errors = error.errors
        except ledger.CampaignStateError as error:
            abort(409, description=str(error))
    status = 400 if errors else 200
    return render_template(
        "admin/campaign_edit.html",
        campaign=campaign,
        versions=versions,
        audience=audience,
        audience_choices=[]
        if is_welcome
        else audience_choices(db, topic_id or topics.main_topic_id(db), segment_id),
        welcome_label=welcome_label(welcome_topic or campaign["topic"]) if is_welcome else None,
        topic_id=topic_id,
        segment_id=segment_id,
        topic_choices=segment_views.topic_choices(db),
        segments=segments.all_segments(db),
        live_count=segment_views.count_text(
            segment_views.live_count(db, topic_id, audience, segment_id)
        ),
        language_names=compose.LANGUAGE_NAMES,
        errors=errors,
        form=form,
    ), status


def saved_campaign(
    db: Database,
    campaign: dict | None,
    versions: dict[str, compose.Version],
    audience: str | None,
    topic_id: int | None,
    segment_id: int | None,
    kind: str = "regular",
) -> ResponseReturnValue:
    """Create (a campaign of `kind`) or update the draft, then show its page (raises
    `CampaignInvalid`)."""
    now = utcnow()
    values = {"versions": versions, "audience": audience}
    values |= {"topic_id": topic_id, "segment_id": segment_id}
    if campaign is None:
        values["kind"] = kind
        campaign_id = compose.create(db, author=current_user.email, now=now, **values)
        audit.record(
            db, current_user.email, "campaign_created", now, target=f"campaign:{campaign_id}"
        )
    else:
        campaign_id = campaign["id"]
        compose.update(db, campaign_id, now=now, **values)
    flash(_("Campaign saved."))
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))


@bp.route("/campaigns/new", methods=["GET", "POST"])
def campaign_new():
    """A new draft."""
    return editor()


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def campaign_edit(campaign_id):
    """Change a draft or a scheduled campaign (it goes back to draft)."""
    campaign = campaign_or_404(campaign_id)
    # A welcome mail can be corrected while it welcomes: the next welcome is the new text.
    editable = (
        ("draft", "sending", "paused")
        if campaign["kind"] == welcome.KIND
        else ("draft", "scheduled")
    )
    if campaign["status"] not in editable:
        abort(409, description=_("Only draft and scheduled campaigns can be changed."))
    return editor(campaign)


def shown_target(campaign: dict) -> dict[str, str]:
    """The hidden fields of the send box: what the page shows the campaign goes to
    (`campaign_send` refuses a POST whose fields no longer match)."""
    segment = campaign["segment"]
    return {
        "audience": campaign["audience"] or "",
        "topic": str(campaign["topic_id"] or ""),
        "segment": str(segment["id"]) if segment else "",
        "segment_definition": segments.definition(segment),
    }


@bp.get("/campaigns/<int:campaign_id>")
def campaign_detail(campaign_id):
    """Figures, a progress bar while sending (the page refreshes itself), actions.

    Before the first send, `?preflight=1` runs the deliverability pre-flight check
    here (DNS and HTTP requests: only when asked, not on every view).
    """
    campaign = campaign_or_404(campaign_id)
    db = get_db()
    audience = audiences.AUDIENCES.get(campaign["audience"] or "")
    figures = ledger.figures(db, campaign_id)
    # Counted now, for the send box; once sent, the frozen deliveries are the figures.
    is_welcome = campaign["kind"] == welcome.KIND
    editable = campaign["status"] in ("draft", "scheduled") and not is_welcome
    unsent = editable and not figures["recipients"]
    checks = preflight.run(current_app.config) if unsent and request.args.get("preflight") else None
    topic_id, segment_id = campaign["topic_id"], campaign["segment_id"]
    counts = (
        audience
        and editable
        and audiences.counts(db, audience.key, campaign["versions"], topic_id, segment_id)
    )
    return render_template(
        "admin/campaign.html",
        campaign=campaign,
        figures=figures,
        unsent=unsent,
        checks=checks,
        audience=audience,
        counts=counts,
        audience_choices=audience_choices(db, topic_id, segment_id) if editable else [],
        language_names=compose.LANGUAGE_NAMES,
        published=archive.is_published(db, campaign_id),
        welcome_label=welcome_label(campaign["topic"]) if is_welcome else None,
        shown_target=shown_target(campaign),
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
        # What the script writes on the page, in the staff member's language.
        "status_label": labels.campaign_status(campaign["status"]),
        "progress_label": _("Progress: %(percent)s %%", percent=figures["percent"]),
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


def prepared_version(
    campaign: dict, language: str, test_mail: bool = False
) -> render.PreparedCampaign:
    """One version as its own readers get it (a French version: French footer and links)."""
    return render.prepare_version(campaign, language, language, test_mail=test_mail)


@bp.get("/campaigns/<int:campaign_id>/preview/<language>")
def campaign_preview(campaign_id, language):
    """One version's HTML at desktop and mobile widths, and its text version."""
    campaign = version_or_404(campaign_id, language)
    prepared = prepared_version(campaign, language)
    subject, text, _html = prepared.parts_for(sample_subscriber(), "#unsubscribe-link")
    response = render_template(
        "admin/campaign_preview.html",
        campaign=campaign,
        language=language,
        language_names=compose.LANGUAGE_NAMES,
        subject=subject,
        text=text,
    )
    # This page frames the preview document below; nothing else may be framed.
    return (
        response,
        200,
        {"Content-Security-Policy": CONTENT_SECURITY_POLICY + "; frame-src 'self'"},
    )


@bp.get("/campaigns/<int:campaign_id>/preview/<language>.html")
def campaign_preview_document(campaign_id, language):
    """One version's HTML as a document, with a policy allowing exactly its inline styles."""
    campaign = version_or_404(campaign_id, language)
    prepared = prepared_version(campaign, language)
    _subject, _text, html = prepared.parts_for(sample_subscriber(), "#unsubscribe-link")
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
    """Run one state change from a button, with CSRF and an audit entry; `do` may
    return a message (a `str`) to show instead of `message`."""
    campaign_or_404(campaign_id)
    if not ActionForm().validate():
        abort(400, description=form_expired())
    db, now = get_db(), utcnow()
    try:
        outcome = do(db, now)
    except (ledger.CampaignStateError, messages.MailDeliveryError) as error:
        flash(str(error))
    else:
        audit.record(db, current_user.email, name, now, target=f"campaign:{campaign_id}")
        flash(outcome if isinstance(outcome, str) else message)
    return redirect(url_for("admin.campaign_detail", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/test/<language>")
def campaign_test(campaign_id, language):
    """Send one version to the signed-in staff member only."""
    campaign = version_or_404(campaign_id, language)

    def send_test(db: Database, now: datetime) -> None:
        prepared = prepared_version(campaign, language, test_mail=True)
        connection = bulk_smtp.connect()
        try:
            message = prepared.message_for(sample_subscriber(), now)
            bulk_smtp.send_raw(connection, prepared.envelope_sender, current_user.email, message)
        finally:
            bulk_smtp.close_quietly(connection)

    sent = _(
        "Test of the %(language)s version sent to %(email)s.",
        language=VERSION_NAMES[language],
        email=current_user.email,
    )
    return action(campaign_id, "campaign_test", send_test, sent)


@bp.post("/campaigns/<int:campaign_id>/audience")
def campaign_audience(campaign_id):
    """Choose (or change) the audience of a draft or scheduled campaign."""
    audience = request.form.get("audience", "")

    def choose(db: Database, now: datetime) -> None:
        try:
            compose.set_audience(db, campaign_id, audience, now)
        except compose.CampaignInvalid as error:
            raise ledger.CampaignStateError(error.errors["audience"]) from error

    label = audiences.AUDIENCES[audience].label if audience in audiences.AUDIENCES else ""
    return action(campaign_id, "campaign_audience", choose, _("Audience: %(label)s.", label=label))


@bp.post("/campaigns/<int:campaign_id>/pause")
def campaign_pause(campaign_id):
    return action(
        campaign_id,
        "campaign_pause",
        lambda db, now: ledger.pause(db, campaign_id, ledger.PAUSED_BY_STAFF, now),
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
