"""The contact form and the meeting-request form: same identity fields, then their own."""

import re

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    Field,
    Form,
    HiddenField,
    RadioField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..forms import PublicForm, email_field, single_line, text_line
from ..newsletter.forms import known_consent_version
from ..newsletter.signup import CONSENT_TEXTS, CURRENT_CONSENT_VERSION

MESSAGE_MAX_LENGTH = 5000
# Digits with the usual separators and an optional leading +; 6 to 20 digits.
PHONE_PATTERN = re.compile(r"\+?[0-9 ().\-/]+")
PHONE_DIGITS = (6, 20)


def loose_phone(form: Form, field: Field) -> None:
    """Accept any common way of writing a phone number; refuse what is clearly not one."""
    value = (field.data or "").strip()
    if not value:
        return
    digits = sum(c.isdigit() for c in value)
    if not PHONE_PATTERN.fullmatch(value) or not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
        raise ValidationError(_l("Please enter a phone number, such as +33 4 79 00 00 00."))


class IdentityForm(PublicForm):
    """Who is writing: the fields both forms share, plus the optional newsletter box."""

    last_name = text_line(
        _l("Last name"),
        100,
        DataRequired(_l("Please enter your last name.")),
        autocomplete="family-name",
    )
    first_name = text_line(
        _l("First name"),
        100,
        DataRequired(_l("Please enter your first name.")),
        autocomplete="given-name",
    )
    job_title = text_line(_l("Job title"), 100, Optional(), autocomplete="organization-title")
    company = text_line(
        _l("Organisation"),
        150,
        DataRequired(_l("Please enter your organisation.")),
        autocomplete="organization",
    )
    email = email_field(_l("Professional e-mail"))
    phone = text_line(
        _l("Professional phone"),
        30,
        Optional(),
        checks=[loose_phone],
        autocomplete="tel",
        field_class=TelField,
    )
    newsletter = BooleanField(CONSENT_TEXTS[CURRENT_CONSENT_VERSION], default=False)
    consent_version = HiddenField(
        default=CURRENT_CONSENT_VERSION, validators=[single_line, known_consent_version]
    )


class ContactForm(IdentityForm):
    """Last name*, first name*, job title, organisation*, e-mail*, phone, subject, message*."""

    subject = text_line(_l("Subject"), 200, Optional())
    message = TextAreaField(
        _l("Message"),
        validators=[
            DataRequired(_l("Please write your message.")),
            Length(
                max=MESSAGE_MAX_LENGTH,
                message=_l("Please keep your message under %(max)d characters."),
            ),
        ],
        render_kw={"rows": 8},
    )


class MeetingForm(IdentityForm):
    """The identity fields, the topic*, a format* and two or three time slots (two required)."""

    topic = text_line(
        _l("Topic of the meeting"),
        200,
        DataRequired(_l("Please tell us what you would like to discuss.")),
    )
    format = RadioField(
        _l("Preferred format"),
        choices=[
            SelectChoice("video", _l("Video call")),
            SelectChoice("on_site", _l("On site")),
        ],
        validators=[InputRequired(_l("Please choose a format."))],
    )
    slot_1 = text_line(
        _l("First preferred time slot"), 100, DataRequired(_l("Please suggest a time slot."))
    )
    slot_2 = text_line(
        _l("Second preferred time slot"),
        100,
        DataRequired(_l("Please suggest a second time slot.")),
    )
    slot_3 = text_line(_l("Third preferred time slot"), 100, Optional())

    def time_slots(self) -> tuple[str, ...]:
        """The slots filled in, in order, trimmed."""
        slots = (self.slot_1.data, self.slot_2.data, self.slot_3.data)
        return tuple(slot.strip() for slot in slots if slot and slot.strip())
