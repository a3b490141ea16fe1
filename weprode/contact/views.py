"""The contact page: a message form and a meeting-request form, and the thank-you page."""

from collections.abc import Callable

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from ..db import get_db, utcnow
from ..languages import query_arguments
from ..newsletter import subscribers
from ..security import limiter, public_form_limit
from . import prospects, service
from .forms import ContactForm, IdentityForm, MeetingForm

bp = Blueprint("contact", __name__)

# Both forms sit on one page; their prefixes keep field names and ids apart.
CONTACT_PREFIX = "contact"
MEETING_PREFIX = "meeting"


def contact_page(
    contact_form: ContactForm | None = None,
    meeting_form: MeetingForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The page with both forms; the one just sent comes back with its errors."""
    contact_form = contact_form or ContactForm(formdata=None, prefix=CONTACT_PREFIX)
    meeting_form = meeting_form or MeetingForm(formdata=None, prefix=MEETING_PREFIX)
    html = render_template(
        "contact/contact.html", contact_form=contact_form, meeting_form=meeting_form
    )
    return html, status


def identity_from(form: IdentityForm) -> prospects.Identity | None:
    """The person's identity from a validated form; None if the address will not normalise."""
    try:
        email = subscribers.normalise_email(form.email.data)
    except subscribers.InvalidAddress:
        form.email.errors.append(_("Please enter a valid e-mail address."))
        return None
    return prospects.Identity(
        email=email,
        last_name=form.last_name.data.strip(),
        first_name=form.first_name.data.strip(),
        company=form.company.data.strip(),
        job_title=(form.job_title.data or "").strip() or None,
        phone=(form.phone.data or "").strip() or None,
    )


def handle(
    form: IdentityForm, make_interaction: Callable[..., prospects.Interaction], kind: str
) -> ResponseReturnValue:
    """Validate, save and thank; or show the page again with errors (400).

    A filled honeypot gets the same thank-you page, and nothing is stored or sent.
    """
    if form.is_bot():
        return redirect(url_for("contact.thanks", kind=kind), 303)
    identity = identity_from(form) if form.validate() else None
    if identity is None:
        if kind == "meeting":
            return contact_page(meeting_form=form, status=400)
        return contact_page(contact_form=form, status=400)
    contact_request = service.ContactRequest(
        identity=identity,
        interaction=make_interaction(form),
        subscribe_newsletter=bool(form.newsletter.data),
        consent_version=form.consent_version.data,
        page=request.path,
    )
    service.submit(get_db(), contact_request, utcnow())
    return redirect(url_for("contact.thanks", kind=kind), 303)


def message_interaction(form: ContactForm) -> prospects.Interaction:
    """A contact-form request."""
    return prospects.Interaction(
        kind="contact",
        subject=(form.subject.data or "").strip() or None,
        message=form.message.data.strip(),
        language=str(get_locale()),
    )


def meeting_interaction(form: MeetingForm) -> prospects.Interaction:
    """A meeting request."""
    return prospects.Interaction(
        kind="meeting",
        topic=form.topic.data.strip(),
        format=form.format.data,
        time_slots=form.time_slots(),
        language=str(get_locale()),
    )


@bp.route("/contact", methods=["GET", "POST"], endpoint="contact")
@limiter.limit(public_form_limit, methods=["POST"])
def contact_view():
    """Show both forms; on POST, handle the message form."""
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        return contact_page()
    form = ContactForm(prefix=CONTACT_PREFIX)
    return handle(form, message_interaction, "contact")


@bp.route("/contact/meeting", methods=["GET", "POST"])
@limiter.limit(public_form_limit, methods=["POST"])
def meeting():
    """Handle the meeting-request form; a GET (a reload, a bookmark) goes to the page."""
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        return redirect(url_for("contact.contact", _anchor="meeting"))
    form = MeetingForm(prefix=MEETING_PREFIX)
    return handle(form, meeting_interaction, "meeting")


@bp.get("/contact/thanks")
@query_arguments(kind=("contact", "meeting"))
def thanks():
    """The thank-you page, for either form (and for bots, who learn nothing)."""
    kind = "meeting" if request.args.get("kind") == "meeting" else "contact"
    return render_template("contact/thanks.html", kind=kind)
