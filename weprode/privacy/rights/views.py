"""Rights self-service pages: the request form, then the pages its signed link opens.

GET pages never change anything (mail scanners follow links); the button's POST acts.
"""

import json

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from werkzeug.datastructures import MultiDict
from wtforms import Field

from ... import tokens
from ...db import get_db, utcnow
from ...languages import query_arguments
from ...mail.messages import MailDeliveryError
from ...newsletter import subscribers
from ...security import limiter, public_form_limit
from ...usage_log import security_event
from . import records, service
from .forms import RectifyForm, RightsRequestForm

bp = Blueprint("rights", __name__)


@bp.route("/privacy/request", methods=["GET", "POST"], endpoint="request")
@query_arguments(kind=records.KINDS)
@limiter.limit(public_form_limit, methods=["POST"])
def request_view():
    """Show the form; on POST always answer the same page, whether we hold data or not."""
    form = RightsRequestForm()
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        if request.args.get("kind") in records.KINDS:
            form.kind.data = request.args["kind"]
        return render_template("rights/request.html", form=form)
    if form.is_bot():
        return render_template("rights/sent.html")
    if not form.validate():
        return render_template("rights/request.html", form=form), 400
    email = subscribers.normalise_email(form.email.data)
    try:
        service.submit(get_db(), email, form.kind.data, str(get_locale()), utcnow())
    except MailDeliveryError as error:
        current_app.logger.error("rights verification mail failed: %s", error)
        abort(503, description="We could not send the verification e-mail just now.")
    return render_template("rights/sent.html")


def rectify_form(held: service.Holdings, formdata: MultiDict | None) -> RectifyForm:
    """The correction form, filled with what we hold unless the person just sent it."""
    subscriber, prospect = held.subscriber, held.prospect
    current = {**(subscriber or {}), **(prospect or {})}
    return RectifyForm(
        formdata=formdata,
        holds_prospect=prospect is not None,
        first_name=current.get("first_name"),
        last_name=current.get("last_name"),
        company=current.get("company"),
        job_title=current.get("job_title"),
        language=current.get("language"),
    )


def stripped(field: Field) -> str | None:
    """A text field's value without surrounding spaces; None when empty."""
    return (field.data or "").strip() or None


def correction_from(form: RectifyForm, held: service.Holdings) -> service.Correction | None:
    """What to change, from a validated form (None when we hold nothing to change)."""
    if not held.anything:
        return None
    prospect = held.prospect is not None
    return service.Correction(
        language=form.language.data,
        first_name=stripped(form.first_name),
        last_name=stripped(form.last_name) if prospect else None,
        company=stripped(form.company) if prospect else None,
        job_title=stripped(form.job_title) if prospect else None,
    )


def rectify_page(form: RectifyForm, held: service.Holdings, token: str) -> str:
    """The correction form; a subscriber is also pointed to their preference page (topics)."""
    return render_template(
        "rights/rectify.html",
        form=form,
        held=held,
        token=token,
        manage_token=tokens.make_manage_token,
    )


def rectify_view(token: str, rights_request: dict, held: service.Holdings) -> ResponseReturnValue:
    """GET: the form with what we hold. POST: correct, or show the errors (400)."""
    db = get_db()
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        form = rectify_form(held, formdata=None)
        return rectify_page(form, held, token)
    form = rectify_form(held, formdata=request.form)
    if form.is_bot():
        return render_template("rights/done.html", kind="rectify", held=held)
    if held.anything and not form.validate():
        return rectify_page(form, held, token), 400
    service.rectify(db, rights_request["id"], correction_from(form, held), utcnow())
    return render_template("rights/done.html", kind="rectify", held=held)


def copy_download(document: dict) -> Response:
    """The JSON document as a file download."""
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    filename = f"weprode-personal-data-{document['generated_at'][:10]}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/privacy/request/<token>", methods=["GET", "POST"], endpoint="verify")
def verify(token):
    """The signed link: a page saying what will happen and one button; POST does it."""
    db, now = get_db(), utcnow()
    outcome, rights_request = service.open_request(db, token, now)
    if outcome != tokens.TokenStatus.OK:
        security_event("bad_token", purpose="rights", outcome=outcome, token=token)
        return render_template("rights/link_failed.html", outcome=outcome), 400
    kind = rights_request["kind"]
    held = service.holdings(db, rights_request["email"])
    if kind == "rectify":
        return rectify_view(token, rights_request, held)
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        return render_template(
            "rights/confirm.html", kind=kind, held=held, token=token, rights_request=rights_request
        )
    if kind == "access":
        return copy_download(service.give_copy(db, rights_request["id"], now))
    if kind == "erase":
        service.erase(db, rights_request["id"], now)
    else:
        service.object_to_marketing(db, rights_request["id"], now)
    return render_template("rights/done.html", kind=kind, held=held)
