"""Pieces shared by the public forms: no CSRF cookie, no line breaks, a honeypot."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

FORBIDDEN_CHARACTERS = ("\r", "\n", "\0")


def single_line(form, field):
    """Refuse CR, LF and NUL: they could smuggle headers into a mail we send."""
    if field.data and any(c in field.data for c in FORBIDDEN_CHARACTERS):
        raise ValidationError("Line breaks and control characters are not allowed here.")


def local_path(form, field):
    """A path on this site (where a form was shown), never another host."""
    value = field.data or ""
    if value and (not value.startswith("/") or value.startswith("//") or len(value) > 200):
        raise ValidationError("Unknown page.")


class PublicForm(FlaskForm):
    """A form for visitors: protected by the cross-origin check, not by a CSRF cookie.

    `website` is the honeypot: hidden from people by CSS, filled by naive bots.
    """

    class Meta:
        csrf = False

    website = StringField("Website")

    def is_bot(self):
        """True when the honeypot was filled in."""
        return bool((self.website.data or "").strip())
