"""My account: the staff member's own language and time zone."""

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from ..db import get_db
from ..languages import LANGUAGE_NAMES
from ..staff import preferences
from . import bp


def known_time_zone(form: FlaskForm, field: StringField) -> None:
    """An IANA name this machine knows: any other would fail on every staff page."""
    if (field.data or "").strip() not in preferences.time_zones():
        raise ValidationError(str(preferences.UNKNOWN_TIME_ZONE))


class AccountForm(FlaskForm):
    # Each language named in itself, as a language switch should.
    language = RadioField(
        _l("Language of the staff area"),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in preferences.LANGUAGES],
        validate_choice=False,
        validators=[DataRequired()],
    )
    time_zone = StringField(
        _l("Time zone"),
        validators=[DataRequired(), Length(max=64), known_time_zone],
        render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"},
    )

    def validate_language(self, field: RadioField) -> None:
        """A language the staff area is written in, with our own message."""
        if field.data not in preferences.LANGUAGES:
            raise ValidationError(str(preferences.UNKNOWN_LANGUAGE))


@bp.route("/account", methods=["GET", "POST"])
def account() -> ResponseReturnValue:
    """Show the account's language and time zone; POST changes them."""
    form = AccountForm(
        data={"language": current_user.language, "time_zone": current_user.time_zone}
    )
    if request.method == "POST" and not form.validate():
        return render_template("admin/account.html", form=form, zones=time_zones()), 400
    if request.method == "POST":
        language = form.language.data
        preferences.change(get_db(), current_user.id, language, form.time_zone.data.strip())
        # The next page is in the new language: the message too.
        with force_locale(language):
            flash(_("Your settings are saved."))
        return redirect(url_for("admin.account"))
    return render_template("admin/account.html", form=form, zones=time_zones())


def time_zones() -> tuple[str, ...]:
    """The zones the field suggests: the common ones first, then every other."""
    common = preferences.COMMON_TIME_ZONES
    return common + tuple(zone for zone in preferences.time_zones() if zone not in common)
