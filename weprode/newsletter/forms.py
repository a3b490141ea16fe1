"""The signup form and the preference page's form."""

from flask_babel import lazy_gettext as _l
from wtforms import Field, Form, HiddenField, RadioField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError

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


def topics_field(label: object, none_ticked: object) -> SelectMultipleField:
    """Checkboxes of topics; the view sets `choices` (topic id -> topic row).

    Values are checked here against the choices, with our own messages: none ticked
    says `none_ticked`, a value not offered (an internal topic's id typed by hand) is
    refused.
    """

    def ticked_and_offered(form: Form, field: Field) -> None:
        offered = {str(value) for value, _ in field.choices or []}
        if not field.data:
            raise ValidationError(none_ticked)
        if not set(field.data) <= offered:
            raise ValidationError(_l("This topic is not offered; please reload the page."))

    return SelectMultipleField(
        label, coerce=str, validate_choice=False, validators=[ticked_and_offered]
    )


def offer_topics(field: Field, offered: list[dict]) -> None:
    """Make the topic rows `offered` the field's checkboxes (value: id; label: the row)."""
    field.choices = [(topic["id"], topic) for topic in offered]


def chosen_topic_ids(field: Field) -> tuple[int, ...]:
    """The validated checkboxes as topic ids."""
    return tuple(sorted({int(value) for value in field.data}))


class SignupForm(PublicForm):
    """E-mail*, first name, language, topics*; plus where it was shown and which wording.

    Ticking a topic is the consent to receive it (none is ticked in advance); the
    wording above the boxes is the consent text whose version is stored.
    """

    # newsletter/_signup_fields.html writes the inputs by hand, so the widget's type and
    # autocomplete that email_field sets are never rendered here; only validation counts.
    email = email_field(_l("Professional e-mail"))
    first_name = text_line(_l("First name"), 100, Optional())
    language = language_field()
    topics = topics_field(
        CONSENT_TEXTS[CURRENT_CONSENT_VERSION], _l("Please tick at least one topic.")
    )
    consent_version = HiddenField(
        default=CURRENT_CONSENT_VERSION, validators=[single_line, known_consent_version]
    )
    source_page = HiddenField(validators=[Optional(), single_line, local_path])


class PreferencesForm(PublicForm):
    """What a subscriber may change on their preference page."""

    first_name = text_line(_l("First name"), 100, Optional())
    language = language_field()
    topics = topics_field(
        _l("What I receive"),
        _l("Please tick at least one topic, or unsubscribe from everything below."),
    )
