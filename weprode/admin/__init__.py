"""The staff area under /admin: one guard on the blueprint protects every page.

Only staff ever get a cookie: the session cookie's path is /admin, and outside /admin
the session is neither read nor written (`StaffSessionInterface`).
"""

from flask import Blueprint, Flask, Request, Response, current_app, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from ..db import get_db, utcnow
from ..staff import accounts
from . import labels

bp = Blueprint("admin", __name__, url_prefix="/admin")
login_manager = LoginManager()
csrf = CSRFProtect()

# The only staff pages reachable without a session.
OPEN_ENDPOINTS = frozenset({"admin.login", "admin.login_code"})
# Pages a signed-in person may still use before enrolling a required second factor.
ENROLMENT_ENDPOINTS = frozenset({"admin.totp_enrol", "admin.logout"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def in_staff_area(path: str) -> bool:
    """True for /admin and the paths below it (not /administrator)."""
    return path == bp.url_prefix or path.startswith(bp.url_prefix + "/")


class StaffSessionInterface(SecureCookieSessionInterface):
    """The staff session exists under /admin only: elsewhere it is never read nor saved.

    The cookie's path keeps browsers from sending it elsewhere, but a replayed or
    hand-made request can. Public pages then loaded the staff user, and Flask-Login's
    session protection, seeing another User-Agent, rewrote the session: a visitor got
    `Set-Cookie: weprode_staff=...` and every public page `Vary: Cookie`. Outside /admin
    each request gets a fresh empty session that is thrown away.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        """The cookie's session under /admin; an empty, never saved one elsewhere."""
        if not in_staff_area(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Write the cookie (and `Vary: Cookie`) for staff pages only."""
        if in_staff_area(request.path):
            super().save_session(app, session, response)


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
        # Read by the locale and time-zone selectors (weprode/languages.py).
        self.language = account["language"]
        self.time_zone = account["time_zone"]

    def get_id(self) -> str:
        return self.session_id


@login_manager.user_loader
def load_staff(session_id):
    """Resume a live session (enforcing idle and absolute timeouts), or nobody."""
    if not in_staff_area(request.path):
        return None
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


@bp.context_processor
def staff_user():
    """`current_user` for staff templates only.

    Flask-Login's own context processor would load the user for every template,
    public pages included.
    """
    return {"current_user": current_user}


def init_app(app: Flask) -> None:
    """Bind the /admin-only session, Flask-Login and CSRF (public forms carry no token)."""
    app.session_interface = StaffSessionInterface()
    login_manager.init_app(app, add_context_processor=False)
    csrf.init_app(app)
    labels.init_app(app)
    app.register_blueprint(bp)


from . import (  # noqa: E402,F401  (register their views on bp)
    auth,
    campaign_archive,
    campaign_send,
    campaign_welcome,
    campaigns,
    dashboard,
    deliverability,
    my_account,
    prospects,
    rights,
    segments,
    subscriber_import,
    subscribers,
    topics,
)
