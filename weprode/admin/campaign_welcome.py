"""Staff screens of a topic's welcome mail: writing it and switching it on.

The rest (preview, test, edit, pause, resume, cancel) are the campaign screens.
"""

from flask import abort, redirect, url_for
from flask_babel import gettext as _

from ..campaigns import welcome
from ..db import get_db
from ..newsletter import topics
from . import bp
from .campaigns import action, editor


@bp.route("/campaigns/welcome/<int:topic_id>/new", methods=["GET", "POST"])
def welcome_new(topic_id):
    """Write a topic's welcome mail (its page if it has one already)."""
    db = get_db()
    topic = topics.get(db, topic_id)
    if topic is None:
        abort(404, description=_("No topic with this number."))
    existing = welcome.of_topic(db, topic_id)
    if existing is not None:
        return redirect(url_for("admin.campaign_detail", campaign_id=existing["id"]))
    return editor(welcome_topic=topic)


@bp.post("/campaigns/<int:campaign_id>/switch-on")
def welcome_switch_on(campaign_id):
    """Start sending a welcome mail to each new reader of its topic."""
    return action(
        campaign_id,
        "welcome_switch_on",
        lambda db, now: welcome.switch_on(db, campaign_id, now),
        _("Each new reader of the topic now gets this welcome mail."),
    )
