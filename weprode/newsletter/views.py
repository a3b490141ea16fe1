"""Newsletter pages: signup, confirm, unsubscribe (RFC 8058 one-click), undo, preferences."""

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .. import tokens
from ..db import Database, get_db, utcnow
from ..languages import query_arguments, url_language
from ..mail.messages import MailDeliveryError
from ..security import cross_origin_exempt, limiter, public_form_limit
from ..usage_log import security_event
from . import optout, preference_page, preferences, signup, subscribers, subscriptions, topics
from .forms import PreferencesForm, SignupForm, chosen_topic_ids, offer_topics

bp = Blueprint("newsletter", __name__)

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
ONE_CLICK_REPLY = "Unsubscribed from the Weprode newsletter.\n"


@bp.context_processor
def confirmation_validity():
    """How many days a confirmation link lives, for the pages that say so."""
    return {"valid_days": tokens.confirm_max_age().days}


@bp.app_context_processor
def footer_signup():
    """Every page's footer shows a compact signup form, built only when rendered."""
    return {"footer_signup_form": footer_signup_form}


def footer_signup_form() -> SignupForm:
    """A fresh signup form remembering the page it is shown on."""
    form = new_signup_form(formdata=None)
    form.source_page.data = request.path
    return form


def new_signup_form(**kwargs: Any) -> SignupForm:
    """A signup form offering the public topics; its language defaults to the page's."""
    form = SignupForm(**kwargs)
    offer_topics(form.topics, topics.public_topics(get_db()))
    if not form.language.data:
        form.language.data = str(get_locale())
    return form


@bp.route("/newsletter", methods=["GET", "POST"], endpoint="signup")
@limiter.limit(public_form_limit, methods=["POST"])
def signup_view():
    """Show the form; on POST, always answer the same neutral page (no enumeration)."""
    form = new_signup_form()
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        form.source_page.data = request.path
        return render_template("newsletter/signup.html", form=form)
    if form.is_bot():
        return render_template("newsletter/check_inbox.html")
    if not form.validate():
        return render_template("newsletter/signup.html", form=form), 400
    signup_request = signup.SignupRequest(
        email=subscribers.normalise_email(form.email.data),
        first_name=(form.first_name.data or "").strip() or None,
        language=form.language.data,
        text_version=form.consent_version.data,
        page=form.source_page.data or None,
        topic_ids=chosen_topic_ids(form.topics),
    )
    try:
        signup.subscribe(get_db(), signup_request, utcnow())
    except MailDeliveryError as error:
        current_app.logger.error("signup mail failed: %s", error)
        abort(503, description="We could not send the confirmation e-mail just now.")
    return render_template("newsletter/check_inbox.html")


@bp.route("/newsletter/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    """GET shows one button and changes nothing (mail scanners follow links); POST confirms."""
    if request.method != "POST":  # GET, and HEAD (Flask routes it here) never act
        check = tokens.check_confirm_token(token, utcnow())
        if not check.ok:
            security_event("bad_token", purpose="confirm", outcome=check.status, token=token)
            return render_template("newsletter/confirm_failed.html", outcome=check.status), 400
        return render_template("newsletter/confirm.html", token=token)
    outcome, subscriber = signup.confirm(get_db(), token, utcnow())
    if outcome in (signup.ConfirmOutcome.CONFIRMED, signup.ConfirmOutcome.ALREADY):
        return render_template("newsletter/confirmed.html", outcome=outcome)
    security_event("bad_token", purpose="confirm", outcome=outcome, token=token)
    return render_template("newsletter/confirm_failed.html", outcome=outcome), 400


def payload_or_400(check: tokens.TokenCheck, purpose: str, token: str, problem: object) -> tuple:
    """The payload of a genuine never-expiring link; else a logged 400 saying `problem`.

    `problem` is a lazy translation: translated only for a bad link. Translating it
    for every request was a tenth of a one-click request's CPU time (the locale is
    looked up and parsed for it).
    """
    if not check.ok:
        security_event("bad_token", purpose=purpose, outcome=check.status, token=token)
        abort(400, description=problem)
    return check.payload


def subscriber_from_token(token: str) -> tuple[int, int | None]:
    """(subscriber id, campaign id or None) from an unsubscribe token; 400 if forged."""
    subscriber_id, campaign_id = payload_or_400(
        tokens.check_unsubscribe_token(token),
        "unsubscribe",
        token,
        _l(
            "This unsubscribe link is not valid. Please copy the whole link "
            "from the e-mail, or write to privacy@weprode.com."
        ),
    )
    return subscriber_id, campaign_id


@bp.get("/unsubscribe/<token>")
def unsubscribe(token):
    """Show who would be unsubscribed, from what, and the buttons; change nothing.

    A campaign's link leaves that campaign's topic; "all topics" is offered too while
    the person receives others.
    """
    subscriber_id, campaign_id = subscriber_from_token(token)
    db = get_db()
    subscriber = subscribers.get(db, subscriber_id)
    receives = subscriptions.active_topic_ids(db, subscriber_id) if subscriber else set()
    topic_id = optout.campaign_topic(db, campaign_id)
    return render_template(
        "newsletter/unsubscribe.html",
        token=token,
        subscriber=subscriber,
        masked_email=subscribers.mask_email(subscriber["email"]) if subscriber else None,
        topic=topics.get(db, topic_id) if topic_id is not None else None,
        receives_topic=topic_id in receives,
        others=len(receives - {topic_id}),
    )


ONE_CLICK_BODY = f"{ONE_CLICK_FIELD}={ONE_CLICK_VALUE}".encode()


def is_one_click() -> bool:
    """True for an RFC 8058 request: `List-Unsubscribe=One-Click` in the form body.

    Providers send exactly these urlencoded bytes; recognising them skips the form
    parser on the hot path. Any other body (multipart, more fields) is parsed.
    """
    if request.mimetype == "application/x-www-form-urlencoded":
        if request.get_data(cache=True) == ONE_CLICK_BODY:
            return True
    return request.form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE


@bp.post("/unsubscribe/<token>")
@cross_origin_exempt
@limiter.exempt
def unsubscribe_post(token):
    """Unsubscribe: the page's button or a mailbox provider's RFC 8058 one-click POST.

    Answers 200 directly (never a redirect) and is idempotent; the signed token is its
    only protection, so it is exempt from the cross-origin check and sets no cookie.
    A one-click request comes from the provider's servers after a campaign, often in
    bursts, and nobody reads its answer: it gets a short plain-text reply instead of
    the full page with its "Undo" button.
    """
    subscriber_id, campaign_id = subscriber_from_token(token)
    one_click = is_one_click()
    source = "one-click" if one_click else "page"
    db = get_db()
    everything = not one_click and request.form.get("scope") == "all"
    topic_id = None if everything else optout.campaign_topic(db, campaign_id)
    result = optout.unsubscribe(db, subscriber_id, source, utcnow(), campaign_id, topic_id)
    if one_click:
        return ONE_CLICK_REPLY, 200, {"Content-Type": "text/plain; charset=utf-8"}
    return unsubscribed_page(db, token, result)


def unsubscribed_page(db: Database, token: str, result: optout.Unsubscribed) -> str:
    """What leaving did: one topic (with what still comes, and how to leave it all) or all.

    Only the request that ended the subscription offers "Undo"; an old link posted
    again must not hand one out for a churn it did not make.
    """
    left_topic = topics.get(db, result.left_topic) if result.left_topic else None
    still = []
    if left_topic is not None:
        receives = subscriptions.active_topic_ids(db, result.subscriber["id"])
        still = [topic for topic in topics.all_topics(db) if topic["id"] in receives]
    return render_template(
        "newsletter/unsubscribed.html",
        undo_token=optout.undo_token(result),
        left_topic=left_topic,
        still=still,
        token=token,
        manage_token=tokens.make_manage_token(result.subscriber["id"]) if left_topic else None,
    )


@bp.post("/unsubscribe/undo/<token>")
def undo(token):
    """Reactivate a subscription just ended, without a new opt-in (24 hours)."""
    outcome, _subscriber = optout.undo(get_db(), token, utcnow())
    if outcome in (optout.UndoOutcome.RESTORED, optout.UndoOutcome.ALREADY):
        status = 200
    elif outcome == optout.UndoOutcome.REFUSED:  # a genuine token: no bad-token event
        status = 409
    else:
        status = 400
        security_event("bad_token", purpose="undo", outcome=outcome, token=token)
    return render_template("newsletter/undone.html", outcome=outcome), status


def subscriber_from_manage_token(token: str) -> int:
    """The subscriber id a preference link names; 400 if forged."""
    [subscriber_id] = payload_or_400(
        tokens.check_manage_token(token),
        "manage",
        token,
        _l(
            "This link to your preferences is not valid. Please copy the whole link "
            "from the e-mail, or write to privacy@weprode.com."
        ),
    )
    return subscriber_id


def preferences_page(
    token: str, subscriber: dict | None, form: PreferencesForm | None = None, status: int = 200
) -> tuple[str, int]:
    """The preference page for the subscriber's current standing."""
    if form is None and preferences.standing(subscriber) == preferences.Standing.SUBSCRIBED:
        db = get_db()
        page = preference_page.render(
            token,
            subscriber,
            subscribers.mask_email(subscriber["email"]),
            preferences.offered_topics(db, subscriber["id"]),
            subscriptions.active_topic_ids(db, subscriber["id"]),
            saved=request.args.get("saved") == "1",
        )
        return page, status
    if form is None and subscriber is not None:
        receives = subscriptions.active_topic_ids(get_db(), subscriber["id"])
        form = PreferencesForm(
            formdata=None,
            first_name=subscriber["first_name"],
            language=subscriber["language"],
            topics=[str(topic_id) for topic_id in sorted(receives)],
        )
    if form is not None and subscriber is not None:
        offered = preferences.offered_topics(get_db(), subscriber["id"])
        offer_topics(form.topics, offered)
    return render_template(
        "newsletter/preferences.html",
        token=token,
        form=form,
        standing=preferences.standing(subscriber),
        masked_email=subscribers.mask_email(subscriber["email"]) if subscriber else None,
        saved=request.args.get("saved") == "1",
    ), status


@bp.get("/newsletter/manage/<token>")
@query_arguments(saved=("1",))
def manage(token):
    """Show the subscription behind a preference link; change nothing."""
    subscriber_id = subscriber_from_manage_token(token)
    return preferences_page(token, subscribers.get(get_db(), subscriber_id))


@bp.post("/newsletter/manage/<token>")
@limiter.limit(public_form_limit)
def manage_save(token):
    """Save the first name and language, then show the page in the chosen language."""
    subscriber_id = subscriber_from_manage_token(token)
    db = get_db()
    form = PreferencesForm()
    offered = preferences.offered_topics(db, subscriber_id)
    offer_topics(form.topics, offered)
    if not form.validate():
        return preferences_page(token, subscribers.get(db, subscriber_id), form, 400)
    topic_ids = chosen_topic_ids(form.topics)
    saved = preferences.save(
        db, subscriber_id, form.first_name.data, form.language.data, topic_ids, utcnow()
    )
    if not saved:
        # Left (or never confirmed) since the page was shown: show what is true now.
        return preferences_page(token, subscribers.get(db, subscriber_id), status=409)
    target = url_for(
        "newsletter.manage", token=token, saved="1", lang=url_language(form.language.data)
    )
    return redirect(target, 303)


@bp.post("/newsletter/manage/<token>/leave")
@limiter.limit(public_form_limit)
def manage_leave(token):
    """Leave the newsletter from the preference page; "Undo" as after any unsubscribe."""
    subscriber_id = subscriber_from_manage_token(token)
    result = preferences.leave(get_db(), subscriber_id, utcnow())
    return render_template("newsletter/unsubscribed.html", undo_token=optout.undo_token(result))
