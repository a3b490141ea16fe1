"""Report shapes flufl.bounce does not know, found in Sisimai's collection of real
reports (tests/samples/bounces/sisimai/).

flufl.bounce stays the first reader of non-standard bounces; these few shapes are
read only when none of its detectors recognised the message:
- Exchange Online / Office 365 non-delivery reports without a delivery-status part
  ("Delivery has failed to these recipients or groups:"), which also carry
  `Auto-Submitted` and were taken for auto-replies;
- Yahoo's (and Amazon SES's) "Sorry, we were unable to deliver your message to the
  following address.";
- Hotmail's complaints from before ARF ("complaint about message from <ip>", sent by
  staff@hotmail.com with the message complained about attached).
"""

import re

# What opens the list of failed recipients, per shape.
FAILED_RECIPIENTS_INTRO = re.compile(
    r"^(Delivery has failed to these recipients or groups:|"
    r"Sorry, we were unable to deliver your message to the following address)",
    re.IGNORECASE | re.MULTILINE,
)
ADDRESS = re.compile(r"[\w.+'-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")
HOTMAIL_COMPLAINT_SUBJECT = re.compile(r"^\s*complaint about message from ", re.IGNORECASE)
HOTMAIL_STAFF = re.compile(r"\bstaff@hotmail\.com\b", re.IGNORECASE)


def failed_recipient(own_text: str) -> tuple[str, str] | None:
    """(address, the MTA's words about it) of a known plain-text shape, else None.

    `own_text` is the report's text without the returned message (see
    `reports.own_text`): the address is the first one after the shape's opening
    sentence, and the words that follow it say why.
    """
    intro = FAILED_RECIPIENTS_INTRO.search(own_text)
    if intro is None:
        return None
    rest = own_text[intro.end() :]
    address = ADDRESS.search(rest)
    if address is None:
        return None
    return address.group(0), " ".join(rest[address.end() :].split())


def is_hotmail_complaint(sender: str, subject: str) -> bool:
    """True for a Hotmail complaint in its pre-ARF shape."""
    return bool(HOTMAIL_STAFF.search(sender) and HOTMAIL_COMPLAINT_SUBJECT.match(subject))
