"""The rights request form and the correction form (public: no CSRF cookie, a honeypot)."""

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from wtforms import Field, Form, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from ...forms import PublicForm, email_field, text_line
from ...newsletter import subscribers

KIND_CHOICES = [
    SelectChoice("access", _l("Send me a copy of my data (access and portability)")),
    SelectChoice("rectify", _l("Correct my data")),
    SelectChoice("erase", _l("Erase my data")),
    SelectChoice("object", _l("Stop all marketing to me")),
]
PROSPECT_REQUIRED = ("first_name", "last_name", "company")
LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("fr", "Français")]


class RightsRequestForm(PublicForm):
    """E-mail* and what the person wants*."""

    email = email_field(_l("Your e-mail address"))
    kind = RadioField(
        _l("What would you like us to do?"),
        choices=KIND_CHOICES,
        validators=[InputRequired(_l("Please choose what you would like us to do."))],
    )

    def validate_email(self, field: Field) -> None:
        """The address must also be one we can store and compare (normalised).

        Only asked of an address the field's own checks let through: one refused there
        already carries its message, which must not be shown twice.
        """
        if field.errors:
            return
        try:
            subscribers.normalise_email(field.data)
        except subscribers.InvalidAddress as error:
            raise ValidationError(_l("Please enter a valid e-mail address.")) from error


def required_for_prospects(message: str | LazyString) -> Callable[[Form, Field], None]:
    """A validator: the field may be empty unless the person is a prospect.

    Prospects' names and organisation cannot be blank (the contact forms require
    them); a subscriber has only a first name, which they may remove.
    """

    def check(form: Form, field: Field) -> None:
        if form.holds_prospect and not (field.data or "").strip():
            raise ValidationError(message)

    return check


class RectifyForm(PublicForm):
    """The identity we hold, to correct. Which fields are shown depends on what we hold."""

    def __init__(self, *args: Any, holds_prospect: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_prospect = holds_prospect
        if holds_prospect:
            for name in PROSPECT_REQUIRED:
                self[name].flags.required = True

    first_name = text_line(
        _l("First name"),
        100,
        checks=[required_for_prospects(_l("Please enter your first name."))],
        autocomplete="given-name",
    )
    last_name = text_line(
        _l("Last name"),
        100,
        checks=[required_for_prospects(_l("Please enter your last name."))],
        autocomplete="family-name",
    )
    company = text_line(
        _l("Organisation"),
        150,
        checks=[required_for_prospects(_l("Please enter your organisation."))],
        autocomplete="organization",
    )
    job_title = text_line(_l("Job title"), 100, autocomplete="organization-title")
    language = RadioField(
        _l("Language we write to you in"),
        choices=LANGUAGE_CHOICES,
        validators=[InputRequired(_l("Please choose a language."))],
    )
