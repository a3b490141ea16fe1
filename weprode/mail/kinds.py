"""Words for the kinds of mail the outbox and the bounce log store as codes.

Here, beside the mail that sends them, so the staff pages (admin/labels) and the
`outbox` command read the same table; the codes stay in the database.
"""

from flask_babel import pgettext


def mail_kind(code: str | None) -> str:
    """`contact_notification` -> which kind of mail, in the current locale; a code
    without a word is shown as it is rather than hidden."""
    words = {
        "campaign": pgettext("mail kind", "campaign"),
        "confirm": pgettext("mail kind", "signup confirmation"),
        "already": pgettext("mail kind", "already subscribed notice"),
        "contact_notification": pgettext("mail kind", "contact request (to the team)"),
        "contact_acknowledgement": pgettext("mail kind", "acknowledgement of a contact request"),
    }
    return words.get(code or "", code or "")
