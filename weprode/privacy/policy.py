"""What the privacy policy states beyond retention, in one place for the page and the copy.

`/privacy` renders these, and the article 15 copy (`rights/export.py`) repeats them, so
a person reads the same purposes, legal bases and promises in both. Retention has its
own table in `retention.py`, since the purge enforces it.
"""

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# Change it with any change to what the policy says (the page shows it).
LAST_UPDATED = date(2026, 11, 29)


@dataclass(frozen=True)
class Purpose:
    """Why we process data, and the GDPR article 6 ground that makes it lawful."""

    purpose: LazyString
    legal_basis: LazyString


PURPOSES = (
    Purpose(
        _l("Answering your requests for information or for a demonstration."),
        _l(
            "Steps taken at your request before a possible contract (GDPR article 6(1)(b)); "
            "where no contract is in view, our legitimate interest in answering the people "
            "who write to us (article 6(1)(f))."
        ),
    ),
    Purpose(
        _l(
            "Managing our commercial and prospecting relationship with you, including "
            "e-mail campaigns, satisfaction surveys and customer studies."
        ),
        _l(
            "Our legitimate interest in making our services known to the organisations "
            "that may need them and in keeping in touch with our clients and prospects "
            "(article 6(1)(f)). You may object to it at any time."
        ),
    ),
    Purpose(
        _l("Following up the contracts we have signed, and keeping their records."),
        _l(
            "The contract itself (article 6(1)(b)), then our legal obligation to keep "
            "contract records (article 6(1)(c))."
        ),
    ),
    Purpose(
        _l("Sending you information about Weprode: our newsletter."),
        _l(
            "Your consent, given by confirming your address (article 6(1)(a)). You may "
            "withdraw it at any time."
        ),
    ),
    Purpose(
        _l("Keeping this website secure, with its usage and security logs."),
        _l(
            "Our legitimate interest in protecting the website, its data and its visitors "
            "against attacks and misuse (article 6(1)(f))."
        ),
    ),
)

WITHDRAW_CONSENT = _l(
    "Where we rely on your consent (the newsletter), you may withdraw it at any time, as "
    "easily as you gave it: the unsubscribe link in every issue is enough. Withdrawing it "
    "does not make unlawful what we did with your consent before."
)
AUTOMATED_DECISIONS = _l(
    "We make no decision about you based solely on automated processing (GDPR article 22)."
)
POST_MORTEM = _l(
    "Under French law (article 85 of the Loi Informatique et Libertés), you may give us "
    "instructions on what should happen to your personal data after your death: whether "
    "it should be kept, erased or passed on. Send them to privacy@weprode.com or by post."
)
