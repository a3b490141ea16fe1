"""Staff buttons that put a sent campaign on the public archive, or take it off."""

from flask_babel import gettext as _
from flask_login import current_user

from ..campaigns import archive
from . import bp
from .campaigns import action


@bp.post("/campaigns/<int:campaign_id>/publish")
def campaign_publish(campaign_id):
    """Show the sent campaign at /newsletter/archive (rendered for nobody in particular)."""
    return action(
        campaign_id,
        "campaign_publish",
        lambda db, now: archive.publish(db, campaign_id, current_user.email, now),
        _("Published on the public archive."),
    )


@bp.post("/campaigns/<int:campaign_id>/unpublish")
def campaign_unpublish(campaign_id):
    """Take the campaign off the public archive (its page and feed entry go)."""
    return action(
        campaign_id,
        "campaign_unpublish",
        lambda db, now: archive.unpublish(db, campaign_id),
        _("Taken off the public archive."),
    )
