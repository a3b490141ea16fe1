"""The contact form and the meeting-request form: same identity fields, then their own."""

import re

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from ..forms import PublicForm, single_line
from ..newsletter.forms import known_consent_version
from ..newsletter.signup import CONSENT_TEXTS, CURRENT_CONSENT_VERSION

MESSAGE_MAX_LENGTH = 5000
# Digits with the usual separators and an optional leading +; 6 to 20 digits.
PHONE_PATTERN = re.compile(r"\+?[0-9 ().\-/]+")
PHONE_DIGITS = (6, 20)


def loose_phone(form, field):
    """Accept any common way of writing a phone number; refuse what is clearly not one."""
    value = (field.data or "").strip()
    if not value:
        return
    digits = sum(c.isdigit() for c in value)
    if not PHONE_PATTERN.fullmatch(value) or not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
        raise ValidationError(_l("Please enter a phone number, such as +33 4 79 00 00 00."))


class IdentityForm(PublicForm):
    """Who is writing: the fields both forms share, plus the optional newsletter box."""

    last_name = StringField(
        _l("Last name"),
        validators=[DataRequired(_l("Please enter your last name.")), single_line, Length(max=100)],
        render_kw={"autocomplete": "family-name"},
    )
    first_name = StringField(
        _l("First name"),
        validators=[
            DataRequired(_l("Please enter your first name.")),
            single_line,
            Length(max=100),
        ],
        render_kw={"autocomplete": "given-name"},
    )
    job_title = StringField(
        _l("Job title"),
        validators=[Optional(), single_line, Length(max=100)],
        render_kw={"autocomplete": "organization-title"},
    )
    company = StringField(
        _l("Organisation"),
        validators=[
            DataRequired(_l("Please enter your organisation.")),
            single_line,
            Length(max=150),
        ],
        render_kw={"autocomplete": "organization"},
    )
    email = EmailField(
        _l("Professional e-mail"),
        validators=[
            DataRequired(_l("Please enter your e-mail address.")),
            single_line,
            Length(max=254),
            Email(_l("Please enter a valid e-mail address."), check_deliverability=False),
        ],
        render_kw={"autocomplete": "email"},
    )
    phone = TelField(
        _l("Professional phone"),
        validators=[Optional(), single_line, Length(max=30), loose_phone],
        render_kw={"autocomplete": "tel"},
    )
    newsletter = BooleanField(CONSENT_TEXTS[CURRENT_CONSENT_VERSION], default=False)
    consent_version = HiddenField(
        default=CURRENT_CONSENT_VERSION, validators=[single_line, known_consent_version]
    )


class ContactForm(IdentityForm):
    """Last name*, first name*, job title, organisation*, e-mail*, phone, subject, message*."""

    subject = StringField(_l("Subject"), validators=[Optional(), single_line, Length(max=200)])
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

    topic = StringField(
        _l("Topic of the meeting"),
        validators=[
            DataRequired(_l("Please tell us what you would like to discuss.")),
            single_line,
            Length(max=200),
        ],
    )
    format = RadioField(
        _l("Preferred format"),
        choices=[
            SelectChoice("video", _l("Video call")),
            SelectChoice("on_site", _l("On site")),
        ],
        validators=[InputRequired(_l("Please choose a format."))],
    )
    slot_1 = StringField(
        _l("First preferred time slot"),
        validators=[DataRequired(_l("Please suggest a time slot.")), single_line, Length(max=100)],
    )
    slot_2 = StringField(
        _l("Second preferred time slot"),
        validators=[
            DataRequired(_l("Please suggest a second time slot.")),
            single_line,
            Length(max=100),
        ],
    )
    slot_3 = StringField(
        _l("Third preferred time slot"), validators=[Optional(), single_line, Length(max=100)]
    )

    def time_slots(self):
        """The slots filled in, in order, trimmed."""
        slots = (self.slot_1.data, self.slot_2.data, self.slot_3.data)
        return tuple(slot.strip() for slot in slots if slot and slot.strip())
