"""The staff area under /admin: one guard on the blueprint protects every page.

Only staff ever get a cookie: the session cookie's path is /admin, and public views
never touch the session.
"""

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from ..db import get_db, utcnow
from ..staff import accounts

bp = Blueprint("admin", __name__, url_prefix="/admin")
login_manager = LoginManager()
csrf = CSRFProtect()

# The only staff pages reachable without a session.
OPEN_ENDPOINTS = frozenset({"admin.login", "admin.login_code"})
# Pages a signed-in person may still use before enrolling a required second factor.
ENROLMENT_ENDPOINTS = frozenset({"admin.totp_enrol", "admin.logout"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class StaffUser:
    """The signed-in staff member, as Flask-Login sees them.

    `get_id` returns the server-side session id, not the account id, so ending the
    session in the database logs the browser out whatever its cookie says.
    """

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, session_id: str, account: dict) -> None:
        self.session_id = session_id
        self.id = account["id"]
        self.email = account["email"]
        self.has_totp = bool(account["totp_secret"])

    def get_id(self) -> str:
        return self.session_id


@login_manager.user_loader
def load_staff(session_id):
    """Resume a live session (enforcing idle and absolute timeouts), or nobody."""
    account = accounts.resume_session(get_db(), session_id, utcnow())
    return StaffUser(session_id, account) if account else None


@bp.before_request
def guard():
    """CSRF on every unsafe request; a session on every page but login."""
    if request.method not in SAFE_METHODS:
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    must_enrol = current_app.config["STAFF_REQUIRE_TOTP"] and not current_user.has_totp
    if must_enrol and request.endpoint not in ENROLMENT_ENDPOINTS:
        return redirect(url_for("admin.totp_enrol"))
    return None


@bp.after_request
def never_cache(response):
    """Staff pages hold personal data: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Bind Flask-Login and CSRF (checked only here: public forms carry no token)."""
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(bp)


from . import (  # noqa: E402,F401  (register their views on bp)
    auth,
    campaigns,
    dashboard,
    prospects,
    rights,
    subscriber_import,
    subscribers,
)
