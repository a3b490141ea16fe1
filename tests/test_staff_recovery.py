"""`flask staff enable` and `flask staff reset-totp`: getting a person back into the staff area."""

import pyotp
import pytest
from staff_helpers import ENGLISH_STAFF, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in

from weprode.db import connect, utcnow
from weprode.staff import accounts


@pytest.fixture
def strict_app(make_app):
    """Second factor required for everyone, as in production."""
    return make_app(STAFF_REQUIRE_TOTP=True)


@pytest.fixture
def strict_db(strict_app):
    connection = connect(strict_app.config["DATABASE"])
    yield connection
    connection.close()


def create_account(app, db, with_totp=False):
    """An account, with an enrolled second factor when asked; its TOTP secret or None."""
    with app.app_context():
        staff_id = accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)
    if not with_totp:
        return None
    secret = pyotp.random_base32()
    accounts.enable_totp(db, staff_id, secret, pyotp.TOTP(secret).timecode(utcnow()) - 2)
    return secret


def signed_in_client(app, secret=None):
    """A browser that logged in (password, then the code when the account has one)."""
    browser = app.test_client()
    response = log_in(browser)
    if secret:
        assert "/admin/login/code" in response.headers["Location"]
        token = csrf_token(browser, "/admin/login/code")
        code = pyotp.TOTP(secret).now()
        browser.post("/admin/login/code", data={"code": code, "csrf_token": token})
    assert browser.get("/admin/").status_code == 200
    return browser


def audit_actions(db):
    return [row["action"] for row in db.query("SELECT action FROM audit_log ORDER BY id")]


def snapshot(db):
    """Everything the staff commands may change."""
    return [
        list(db.query(f"SELECT * FROM {table} ORDER BY rowid"))  # noqa: S608 (fixed names)
        for table in ("staff", "staff_sessions", "audit_log")
    ]


def test_enable_lets_a_disabled_person_log_in_again_and_is_audited(app, db):
    create_account(app, db)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["staff", "disable", STAFF_EMAIL]).exit_code == 0
    assert log_in(app.test_client()).status_code == 401

    result = runner.invoke(args=["staff", "enable", "  Marketing@Weprode.com "])

    assert result.exit_code == 0, result.output
    assert result.output == f"enabled {STAFF_EMAIL}\n"
    assert f"{STAFF_EMAIL}\tactive" in runner.invoke(args=["staff", "list"]).output
    assert log_in(app.test_client()).status_code == 302
    [entry] = db.query("SELECT * FROM audit_log WHERE action = 'staff_enabled'")
    assert entry["target"] == STAFF_EMAIL and entry["actor"].startswith("cli:")
    assert audit_actions(db) == ["staff_disabled", "login_failed", "staff_enabled", "login"]


def test_enabling_an_active_account_changes_nothing(app, db):
    create_account(app, db)
    before = snapshot(db)
    result = app.test_cli_runner().invoke(args=["staff", "enable", STAFF_EMAIL])
    assert result.exit_code == 0
    assert "already active; nothing changed" in result.output
    assert snapshot(db) == before


def test_reset_totp_ends_sessions_and_the_next_login_enrols_again(strict_app, strict_db):
    secret = create_account(strict_app, strict_db, with_totp=True)
    browser = signed_in_client(strict_app, secret)

    result = strict_app.test_cli_runner().invoke(args=["staff", "reset-totp", STAFF_EMAIL])

    assert result.exit_code == 0, result.output
    assert f"second factor removed, sessions ended: {STAFF_EMAIL}" in result.output
    assert "enrol a new one right after their next login" in result.output
    account = accounts.get_by_email(strict_db, STAFF_EMAIL)
    assert account["totp_secret"] is None and account["totp_last_step"] is None
    [session] = strict_db.query("SELECT ended_at FROM staff_sessions")
    assert session["ended_at"]
    assert "/admin/login" in browser.get("/admin/").headers["Location"]  # signed out
    assert audit_actions(strict_db)[-1] == "staff_totp_reset"
    [entry] = strict_db.query("SELECT * FROM audit_log WHERE action = 'staff_totp_reset'")
    assert entry["target"] == STAFF_EMAIL and entry["actor"].startswith("cli:")

    # The password alone, then straight to enrolling a new authenticator.
    fresh = strict_app.test_client()
    response = log_in(fresh)
    assert response.status_code == 302 and "/admin/login/code" not in response.headers["Location"]
    assert fresh.get("/admin/").headers["Location"].endswith("/admin/account/totp")


def test_reset_totp_says_when_the_password_alone_will_open_the_staff_area(app, db):
    create_account(app, db, with_totp=True)
    result = app.test_cli_runner().invoke(args=["staff", "reset-totp", STAFF_EMAIL])
    assert result.exit_code == 0
    assert "STAFF_REQUIRE_TOTP is off" in result.output


def test_reset_totp_without_a_second_factor_changes_nothing(app, db):
    create_account(app, db)
    signed_in_client(app)
    before = snapshot(db)
    result = app.test_cli_runner().invoke(args=["staff", "reset-totp", STAFF_EMAIL])
    assert result.exit_code == 0
    assert "has no second factor; nothing changed" in result.output
    assert snapshot(db) == before


@pytest.mark.parametrize("command", ["enable", "reset-totp"])
@pytest.mark.parametrize("email", ["nobody@weprode.com", "not an address", ""])
def test_an_unknown_account_is_a_clear_error_and_changes_nothing(app, db, command, email):
    create_account(app, db, with_totp=True)
    accounts.disable(db, STAFF_EMAIL, utcnow())
    before = snapshot(db)

    result = app.test_cli_runner().invoke(args=["staff", command, email])

    assert result.exit_code == 1
    assert f"Error: No staff account for {email.strip().lower()}." in result.output
    assert snapshot(db) == before
