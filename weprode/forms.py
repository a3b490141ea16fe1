"""Pieces shared by the public forms: no CSRF cookie, no line breaks, a honeypot, fields."""

from collections.abc import Callable, Sequence
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, Field, Form, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from .mail import messages

# The longest address SMTP accepts (RFC 5321's 256-octet path, less the angle brackets).
EMAIL_MAX_LENGTH = 254


def has_forbidden_character(text: str) -> bool:
    """True when `text` could not go into a mail header unchanged.

    Line breaks, other control characters and encoded words (`=?...?=`) are checked by
    the mail package's `header_text`, the one function every header value goes through.
    """
    return not messages.is_header_safe(text)


def single_line(form: Form, field: Field) -> None:
    """Refuse what could smuggle headers into a mail we send (see `has_forbidden_character`)."""
    if field.data and has_forbidden_character(field.data):
        raise ValidationError(
            _l("Line breaks, control characters and encoded text (=?) are not allowed here.")
        )


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


def mailable_address(form: Form, field: Field) -> None:
    """Refuse an address we could not write to: a non-ASCII part before the @ needs
    SMTPUTF8, allowed only by `MAIL_SMTPUTF8` with a relay that advertises it."""
    local_part = (field.data or "").strip().rpartition("@")[0]
    if local_part and not local_part.isascii() and not messages.smtputf8_enabled():
        raise ValidationError(
            _l(
                "We cannot write to an address with accents or other special characters "
                "before the @. Please use another address."
            )
        )


def email_field(label: str | LazyString) -> UnboundField:
    """A required e-mail address: one line, at most `EMAIL_MAX_LENGTH` characters, well
    formed, and one our relay can carry."""
    return text_line(
        label,
        EMAIL_MAX_LENGTH,
        DataRequired(_l("Please enter your e-mail address.")),
        checks=[
            Email(_l("Please enter a valid e-mail address."), check_deliverability=False),
            mailable_address,
        ],
        autocomplete="email",
        field_class=EmailField,
    )


def text_fields(formdata: MultiDict) -> tuple[MultiDict, set[str]]:
    """(the text values of `formdata`, the names sent as anything else).

    Fields are typed text only: a file part (or any other non-text value) has no length
    and no `strip()`, and used to reach validators and views as such (a 500). File
    parts are never in `request.form`, so they are looked up in `request.files`.
    """
    text = MultiDict(
        (name, value) for name, value in formdata.items(multi=True) if isinstance(value, str)
    )
    others = {name for name, value in formdata.items(multi=True) if not isinstance(value, str)}
    return text, others | set(request.files)


class PublicForm(FlaskForm):
    """A form for visitors: protected by the cross-origin check, not by a CSRF cookie.

    `website` is the honeypot: hidden from people by CSS, filled by naive bots. Every
    field reads text only: a field sent as a file part is refused by `validate` with a
    message, and its value never reaches a validator or a view.
    """

    class Meta:
        csrf = False

        def wrap_formdata(self, form: Form, formdata: Any) -> MultiDict | None:
            """The request's text fields; note which fields came as something else.

            Flask-WTF's default marker (anything without `getlist`) means "from the
            request": we take `request.form` only, never a JSON body, whose values can
            be lists or objects, or whose top level may not be an object at all.
            """
            if formdata is not None and not hasattr(formdata, "getlist"):
                formdata = request.form if form.is_submitted() else None
            form.non_text_fields = set()
            if formdata is None:
                return None
            formdata, form.non_text_fields = text_fields(formdata)
            return formdata

    website = StringField("Website")

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields' own checks, and no field sent as a file or other non-text value."""
        valid = super().validate(extra_validators)
        for field in self:
            if field.name in self.non_text_fields:
                field.errors.append(_l("Please type text here: files are not accepted."))
                valid = False
        return valid

    def is_bot(self) -> bool:
        """True when the honeypot was filled in."""
        return bool((self.website.data or "").strip())
