"""What staff read when a campaign is not in a state that allows an action.

Whole sentences per state and per action, so each reads naturally in English and in
French, where a campaign ("une campagne") is feminine and participles agree with it;
only the list of allowed states ("a draft or scheduled campaign") is put together.
"""

from flask_babel import lazy_gettext as _l

from ..languages import either

# The state a campaign is in, as a sentence about it.
STATE_SENTENCES = {
    "draft": _l("Campaign %(id)s is a draft."),
    "scheduled": _l("Campaign %(id)s is scheduled."),
    "sending": _l("Campaign %(id)s is being sent."),
    "paused": _l("Campaign %(id)s is paused."),
    "sent": _l("Campaign %(id)s has already been sent."),
    "cancelled": _l("Campaign %(id)s was cancelled."),
}
# A state as an attribute of "a ... campaign", for the states some action allows.
STATE_ADJECTIVES = {
    "draft": _l("draft"),
    "scheduled": _l("scheduled"),
    "sending": _l("sending"),
    "paused": _l("paused"),
}
# What the refused action needs, by action; `states` lists the allowed ones.
ACTION_NEEDS = {
    "send": _l("Only a %(states)s campaign can be sent."),
    "schedule": _l("Only a %(states)s campaign can be scheduled."),
    "change": _l("Only a %(states)s campaign can be changed."),
    "pause": _l("Only a %(states)s campaign can be paused."),
    "resume": _l("Only a %(states)s campaign can be resumed."),
    "cancel": _l("Only a %(states)s campaign can be cancelled."),
}


def refusal(campaign_id: int, status: str, allowed: tuple[str, ...], action: str) -> str:
    """E.g. "Campaign 1 has already been sent. Only a draft, scheduled, or sending
    campaign can be sent." """
    state = STATE_SENTENCES.get(status)
    said = str(state) % {"id": campaign_id} if state else f"Campaign {campaign_id}: {status}."
    states = either([STATE_ADJECTIVES[name] for name in allowed])
    return f"{said} {str(ACTION_NEEDS[action]) % {'states': states}}"
