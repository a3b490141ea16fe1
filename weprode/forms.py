"""Pieces shared by the public forms: no CSRF cookie, no line breaks, a honeypot, fields."""

from collections.abc import Callable, Sequence

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, Form, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Email, Length, ValidationError

FORBIDDEN_CHARACTERS = ("\r", "\n", "\0")
# The longest address SMTP accepts (RFC 5321's 256-octet path, less the angle brackets).
EMAIL_MAX_LENGTH = 254


def has_forbidden_character(text: str) -> bool:
    """True when `text` holds CR, LF or NUL (header smuggling, truncated C strings)."""
    return any(c in text for c in FORBIDDEN_CHARACTERS)


def single_line(form: Form, field: Field) -> None:
    """Refuse CR, LF and NUL: they could smuggle headers into a mail we send."""
    if field.data and has_forbidden_character(field.data):
        raise ValidationError(_l("Line breaks and control characters are not allowed here."))


def local_path(form: Form, field: Field) -> None:
    """A path on this site (where a form was shown), never another host."""
    value = field.data or ""
    if value and (not value.startswith("/") or value.startswith("//") or len(value) > 200):
        raise ValidationError(_l("Unknown page."))


def text_line(
    label: str | LazyString,
    max_length: int,
    presence: Callable[[Form, Field], None] | None = None,
    checks: Sequence[Callable[[Form, Field], None]] = (),
    autocomplete: str | None = None,
    field_class: type[Field] = StringField,
) -> UnboundField:
    """A one-line text field: `presence`, then no line breaks and `max_length`, then `checks`.

    `presence` is DataRequired or Optional, which stop on empty input so that an empty
    field gets one message, or None where a later check decides whether empty is fine.
    The order matters: every failing validator adds its message, in this order.
    """
    leading = [presence] if presence is not None else []
    return field_class(
        label,
        validators=[*leading, single_line, Length(max=max_length), *checks],
        render_kw={"autocomplete": autocomplete} if autocomplete else None,
    )


def email_field(label: str | LazyString) -> UnboundField:
    """A required e-mail address: one line, at most `EMAIL_MAX_LENGTH` characters, well formed."""
    return text_line(
        label,
        EMAIL_MAX_LENGTH,
        DataRequired(_l("Please enter your e-mail address.")),
        checks=[Email(_l("Please enter a valid e-mail address."), check_deliverability=False)],
        autocomplete="email",
        field_class=EmailField,
    )


class PublicForm(FlaskForm):
    """A form for visitors: protected by the cross-origin check, not by a CSRF cookie.

    `website` is the honeypot: hidden from people by CSS, filled by naive bots.
    """

    class Meta:
        csrf = False

    website = StringField("Website")

    def is_bot(self) -> bool:
        """True when the honeypot was filled in."""
        return bool((self.website.data or "").strip())
