"""The signup form and the preference page's form."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Field, Form, HiddenField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from ..forms import PublicForm, email_field, local_path, single_line, text_line
from .signup import CONSENT_TEXTS, CURRENT_CONSENT_VERSION


def known_consent_version(form: Form, field: Field) -> None:
    """The consent wording shown must be one we can still quote."""
    if field.data not in CONSENT_TEXTS:
        raise ValidationError(_l("This form is out of date; please reload the page."))


LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("fr", "Français")]


def language_field() -> RadioField:
    """The newsletter's language, each named in itself."""
    return RadioField(
        _l("Language of the newsletter"),
        choices=LANGUAGE_CHOICES,
        validators=[InputRequired(_l("Please choose a language."))],
    )


class SignupForm(PublicForm):
    """E-mail*, first name, language, consent*; plus where it was shown and which wording."""

    # newsletter/_signup_fields.html writes the inputs by hand, so the widget's type and
    # autocomplete that email_field sets are never rendered here; only validation counts.
    email = email_field(_l("Professional e-mail"))
    first_name = text_line(_l("First name"), 100, Optional())
    language = language_field()
    consent = BooleanField(
        CONSENT_TEXTS[CURRENT_CONSENT_VERSION],
        validators=[DataRequired(_l("Please tick the box to agree to receive the newsletter."))],
    )
    consent_version = HiddenField(
        default=CURRENT_CONSENT_VERSION, validators=[single_line, known_consent_version]
    )
    source_page = HiddenField(validators=[Optional(), single_line, local_path])


class PreferencesForm(PublicForm):
    """What a subscriber may change on their preference page."""

    first_name = text_line(_l("First name"), 100, Optional())
    language = language_field()
