"""Staff login (password, then TOTP when enrolled), logout and TOTP enrolment."""

import math
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import segno
from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import audit
from ..db import Database, get_db, isoformat, parse_timestamp, utcnow
from ..forms import EMAIL_MAX_LENGTH
from ..security import client_key
from ..staff import accounts
from ..usage_log import security_event
from . import StaffUser, bp

PENDING_LOGIN_MAX_AGE = timedelta(minutes=5)
BAD_LOGIN_MESSAGE = _l("Incorrect e-mail, password or code.")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX_LENGTH)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Six-digit code"),
        validators=[DataRequired(), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


def safe_next(default_endpoint: str = "admin.dashboard") -> str:
    """Where to go after login: a path inside /admin only, never another site."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/admin") and not parts.netloc and not parts.scheme:
        return target
    return url_for(default_endpoint)


def complete_login(db: Database, account: dict, now: datetime) -> None:
    """Renew the session (a fresh cookie, no pre-login state) and sign in."""
    session.clear()
    session_id = accounts.start_session(db, account["id"], now)
    accounts.forget_failures(db, account["email"], client_key())
    login_user(StaffUser(session_id, account))
    audit.record(db, account["email"], "login", now)
    security_event("staff_login", login=account["email"])


def refuse_if_throttled(db: Database, login: str | None, now: datetime) -> None:
    """429 while this login from this network, or this network at all, must wait."""
    wait = accounts.retry_after(db, login, client_key(), now)
    if wait:
        minutes = math.ceil(wait / timedelta(minutes=1))
        recorded = accounts.login_to_record(login)
        audit.record(db, recorded, "login_throttled", now)
        security_event("staff_login_throttled", login=recorded, minutes=minutes)
        abort(
            429,
            description=ngettext(
                "Too many failed attempts from your network. Please wait %(num)d minute "
                "and try again.",
                "Too many failed attempts from your network. Please wait %(num)d minutes "
                "and try again.",
                minutes,
            ),
        )


def fail(
    db: Database, login: str | None, now: datetime, form: FlaskForm, template: str
) -> tuple[str, int]:
    """Count a failure and answer the same message whatever went wrong."""
    accounts.record_failure(db, login, client_key(), now)
    recorded = accounts.login_to_record(login)
    audit.record(db, recorded, "login_failed", now)
    security_event("staff_login_failed", login=recorded)
    return render_template(template, form=form, error=str(BAD_LOGIN_MESSAGE)), 401


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Step one: e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    if request.method != "POST" or not form.validate():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/login.html", form=form), status
    db, now = get_db(), utcnow()
    refuse_if_throttled(db, form.email.data, now)
    account = accounts.check_credentials(db, form.email.data, form.password.data)
    if account is None:
        return fail(db, form.email.data, now, form, "admin/login.html")
    if account["totp_secret"]:
        session.clear()
        session["pending_staff_id"] = account["id"]
        session["pending_since"] = isoformat(now)
        return redirect(url_for("admin.login_code", next=request.args.get("next")))
    complete_login(db, account, now)
    return redirect(safe_next())


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """Step two, for accounts with a second factor: the TOTP code."""
    db, now = get_db(), utcnow()
    pending_since = parse_timestamp(session.get("pending_since"))
    account = accounts.get(db, session.get("pending_staff_id"))
    if account is None or pending_since is None or now - pending_since > PENDING_LOGIN_MAX_AGE:
        session.clear()
        return redirect(url_for("admin.login"))
    form = CodeForm()
    if request.method != "POST" or not form.validate():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/login_code.html", form=form), status
    refuse_if_throttled(db, account["email"], now)
    if not account["active"] or not accounts.use_totp_code(db, account["id"], form.code.data, now):
        return fail(db, account["email"], now, form, "admin/login_code.html")
    complete_login(db, account, now)
    return redirect(safe_next())


@bp.post("/logout")
def logout():
    """End the session on the server and in the browser."""
    db, now = get_db(), utcnow()
    accounts.end_session(db, current_user.session_id, now)
    audit.record(db, current_user.email, "logout", now)
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.route("/account/totp", methods=["GET", "POST"])
def totp_enrol():
    """Enrol a second factor: show the secret (text and QR code), check one code."""
    if current_user.has_totp:
        return render_template("admin/totp_enrol.html", enrolled=True)
    db = get_db()
    secret = accounts.pending_totp_secret(db, current_user.session_id)
    form = CodeForm()
    error = None
    if request.method == "POST" and form.validate():
        now = utcnow()
        step = accounts.totp_step(secret, form.code.data, now)
        if step is not None:
            accounts.enable_totp(db, current_user.id, secret, step)
            audit.record(db, current_user.email, "totp_enabled", now)
            return redirect(url_for("admin.dashboard"))
        error = _("That code does not match. Check your device's clock and try again.")
    uri = accounts.totp_uri(secret, current_user.email)
    qr_svg = segno.make(uri, error="m").svg_inline(
        scale=5, title=_("QR code for your authenticator app")
    )
    return render_template(
        "admin/totp_enrol.html",
        enrolled=False,
        form=form,
        secret=secret,
        qr_svg=qr_svg,
        error=error,
    ), (400 if error else 200)
