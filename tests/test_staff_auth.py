"""Staff accounts, login, lockout, TOTP, sessions, CSRF and the guard over /admin."""

from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from flask_babel import force_locale
from staff_helpers import ENGLISH_STAFF, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in

from weprode import usage_log
from weprode.db import utcnow
from weprode.staff import accounts


@pytest.fixture
def account(app, db):
    with app.app_context():
        return accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)


def audit_actions(db):
    return [row["action"] for row in db.query("SELECT action FROM audit_log ORDER BY id")]


@pytest.mark.parametrize(
    "password, reason",
    [
        ("short-pw-1", "at least 12"),
        ("passwordpassword", "too common"),
        ("password1234!", "too common"),
        ("aaaaaaaaaaaaaaa", "too common"),
        ("marketing-is-great-2026", "e-mail"),
        ("123456789012", "too easy to guess"),
        ("qwertyuiopas", "too easy to guess"),
        ("Weprode2026!!", "too easy to guess"),
        ("weprode.com-2026", "too easy to guess"),
        ("correcthorsebatterystaple", "too easy to guess"),
        ("ＷＥＰＲＯＤＥ２０２６！！", "too easy to guess"),  # full-width, NFKC-normalised
        ("Marketing-Weprode-2026", "e-mail"),
    ],
)
def test_password_policy_refuses_weak_passwords(password, reason):
    with pytest.raises(accounts.PasswordRejected, match=reason):
        accounts.check_password_policy(password, STAFF_EMAIL)


@pytest.mark.parametrize(
    "password",
    [
        STAFF_PASSWORD,
        "Gl4cier-Lake-Savoie",
        "Les-Glaciers-De-La-Vanoise-Fondent-Chaque-Ete-Un-Peu-Plus-Vite-Que-Prevu-2026",
    ],
)
def test_password_policy_accepts_strong_passwords(password):
    assert accounts.check_password_policy(password, STAFF_EMAIL) is None


def test_password_policy_answers_in_french(app):
    with app.test_request_context("/?lang=fr"), force_locale("fr"):
        with pytest.raises(accounts.PasswordRejected, match="trop facile à deviner"):
            accounts.check_password_policy("Weprode2026!!", STAFF_EMAIL)


def test_passwords_are_hashed_with_scrypt(account, db):
    stored = db["staff"].get(account)["password_hash"]
    assert stored.startswith("scrypt:")
    assert STAFF_PASSWORD not in stored


def test_staff_cli_create_list_disable_reset(runner, db):
    result = runner.invoke(
        args=["staff", "create", "Ops@Weprode.com"], input="Gl4cier-Lake-Savoie\n" * 2
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["staff", "create", "b@weprode.com", "--password-stdin"], input="password1234\n"
    )
    assert result.exit_code == 1 and "too common" in result.output
    result = runner.invoke(args=["staff", "list"])
    assert "ops@weprode.com\tactive\tno-totp" in result.output
    assert "b@weprode.com" not in result.output
    result = runner.invoke(
        args=["staff", "reset-password", "ops@weprode.com", "--password-stdin"],
        input="An0ther-Long-Passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["staff", "disable", "ops@weprode.com"]).exit_code == 0
    assert "ops@weprode.com\tdisabled" in runner.invoke(args=["staff", "list"]).output
    assert runner.invoke(args=["staff", "disable", "nobody@weprode.com"]).exit_code == 1
    assert audit_actions(db) == ["staff_created", "staff_password_reset", "staff_disabled"]
    assert "An0ther" not in str(list(db.query("SELECT * FROM audit_log")))


def test_login_sets_a_staff_only_cookie_and_opens_the_dashboard(client, account, db):
    response = log_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "weprode_staff=" in cookie
    assert "Path=/admin" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http in tests
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    assert "Active subscribers" in dashboard.get_data(as_text=True)
    assert dashboard.headers["Cache-Control"] == "no-store"
    assert "login" in audit_actions(db)


def test_staff_cookie_is_secure_over_https(make_app, db):
    app = make_app(PUBLIC_URL="https://www.weprode.com")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_public_pages_never_receive_or_set_the_staff_cookie(client, account):
    log_in(client)
    assert client.get_cookie("weprode_staff", path="/admin") is not None
    for path in ("/", "/privacy", "/newsletter"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers
    # The cookie's path keeps browsers from sending it outside /admin.
    assert client.get_cookie("weprode_staff", path="/") is None


def test_wrong_password_and_unknown_account_get_the_same_answer(client, account, db):
    wrong = log_in(client, password="Not-The-Password-99")
    unknown = log_in(client, email="nobody@weprode.com", password="Not-The-Password-99")
    assert wrong.status_code == unknown.status_code == 401
    assert "Incorrect e-mail, password or code." in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("Incorrect") == unknown.get_data(as_text=True).count(
        "Incorrect"
    )
    assert audit_actions(db).count("login_failed") == 2


ATTACKER = "203.0.113.5"
OWNER = "198.51.100.7"


def test_failures_from_one_address_never_lock_the_owner_out(client, account, db):
    for _ in range(accounts.FREE_ATTEMPTS):
        wrong = log_in(client, password="Not-The-Password-99", remote_addr=ATTACKER)
        assert wrong.status_code == 401
    throttled = log_in(client, remote_addr=ATTACKER)  # even the right password waits
    assert throttled.status_code == 429
    assert "wait 1 min" in throttled.get_data(as_text=True)
    assert "login_throttled" in audit_actions(db)
    assert log_in(client, remote_addr=OWNER).status_code == 302


def test_each_further_failure_of_a_pair_doubles_its_wait(db):
    start = utcnow().replace(microsecond=0)  # stored to the second
    moments = [start + timedelta(minutes=n) for n in range(20)]
    waits = []
    for moment in moments:
        accounts.record_failure(db, STAFF_EMAIL, ATTACKER, moment)
        waits.append(accounts.retry_after(db, STAFF_EMAIL, ATTACKER, moment))
    minutes = [wait / timedelta(minutes=1) for wait in waits]
    assert minutes[:11] == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60]
    assert set(minutes[11:]) == {60}  # never longer than an hour
    last = moments[-1]
    assert accounts.retry_after(db, STAFF_EMAIL, ATTACKER, last + timedelta(hours=1)) == timedelta()
    assert accounts.retry_after(db, STAFF_EMAIL, OWNER, last) == timedelta()
    assert accounts.retry_after(db, "other@weprode.com", ATTACKER, last) == timedelta()
    forgotten = last + accounts.PAIR_MEMORY
    accounts.record_failure(db, STAFF_EMAIL, ATTACKER, forgotten)
    assert accounts.retry_after(db, STAFF_EMAIL, ATTACKER, forgotten) == timedelta()


def test_one_address_guessing_across_accounts_is_capped(client, account, db):
    now = utcnow().replace(microsecond=0)
    for index in range(accounts.ADDRESS_MAX_FAILURES):
        accounts.record_failure(db, f"guess{index}@weprode.com", ATTACKER, now)
    wait = accounts.retry_after(db, "fresh@weprode.com", ATTACKER, now)
    assert wait == accounts.ADDRESS_WINDOW
    assert log_in(client, remote_addr=ATTACKER).status_code == 429
    assert log_in(client, remote_addr=OWNER).status_code == 302
    later = now + accounts.ADDRESS_WINDOW + timedelta(seconds=1)
    assert accounts.retry_after(db, "fresh@weprode.com", ATTACKER, later) == timedelta()


def test_a_success_forgets_only_its_own_address_failures(client, account, db):
    for address in (ATTACKER, OWNER):
        for _ in range(accounts.FREE_ATTEMPTS - 1):
            log_in(client, password="Not-The-Password-99", remote_addr=address)
    assert log_in(client, remote_addr=OWNER).status_code == 302
    remaining = db.execute("SELECT DISTINCT ip FROM login_failures").fetchall()
    assert remaining == [(ATTACKER,)]


@pytest.mark.parametrize("typed", ["Hunter2-Summer-Password!", "Gl4cier@Lake", "a b@weprode.com"])
def test_a_password_typed_as_the_login_is_stored_nowhere(app, client, account, db, typed):
    for _ in range(accounts.FREE_ATTEMPTS + 1):
        log_in(client, email=typed, password="Not-The-Password-99")
    stored = [
        *db.query("SELECT actor FROM audit_log"),
        *db.query("SELECT login FROM login_failures"),
    ]
    assert {value for row in stored for value in row.values()} == {accounts.NOT_AN_ADDRESS}
    logs = "".join(p.read_text() for p in Path(usage_log.log_folder(app)).iterdir())
    assert "staff_login_failed" in logs and "staff_login_throttled" in logs
    assert typed not in logs and typed.lower() not in logs
    assert f'login="{accounts.NOT_AN_ADDRESS}"' in logs


def test_a_well_formed_login_is_recorded_as_typed(client, account, db):
    log_in(client, email=" Someone@Weprode.com ", password="Not-The-Password-99")
    assert [row["login"] for row in db.query("SELECT login FROM login_failures")] == [
        "someone@weprode.com"
    ]


def test_disabled_account_cannot_log_in(client, account, db):
    accounts.disable(db, STAFF_EMAIL, utcnow())
    assert log_in(client).status_code == 401


def enrol_totp(client):
    """Enrol through the page, as a person with an authenticator app would."""
    import re

    html = client.get("/admin/account/totp").get_data(as_text=True)
    assert "<svg" in html  # the QR code, drawn by us
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', html).group(1)
    token = csrf_token(client, "/admin/account/totp")
    response = client.post(
        "/admin/account/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert response.status_code == 302
    return secret


def test_totp_enrolment_then_login_asks_for_the_code(app, client, account, db):
    log_in(client)
    secret = enrol_totp(client)
    assert "totp_enabled" in audit_actions(db)
    fresh = app.test_client()
    response = log_in(fresh)
    assert response.status_code == 302 and "/admin/login/code" in response.headers["Location"]
    assert fresh.get("/admin/").status_code == 302  # not signed in yet
    token = csrf_token(fresh, "/admin/login/code")
    bad = fresh.post("/admin/login/code", data={"code": "000000", "csrf_token": token})
    assert bad.status_code == 401
    good = fresh.post("/admin/login/code", data={"code": next_code(secret), "csrf_token": token})
    assert good.status_code == 302
    assert fresh.get("/admin/").status_code == 200


def next_code(secret):
    """The code of the next 30-second step: the current one was spent on enrolment."""
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))


def send_code(app, code):
    """A new browser: password, then `code`; returns the code step's response."""
    browser = app.test_client()
    assert "/admin/login/code" in log_in(browser).headers["Location"]
    token = csrf_token(browser, "/admin/login/code")
    return browser.post("/admin/login/code", data={"code": code, "csrf_token": token})


def test_a_totp_code_opens_one_session_only(app, client, account):
    log_in(client)
    secret = enrol_totp(client)
    code = next_code(secret)
    assert send_code(app, code).status_code == 302
    assert send_code(app, code).status_code == 401  # the same code, from another browser


def test_the_enrolment_code_cannot_be_used_to_log_in(app, client, account):
    log_in(client)
    secret = enrol_totp(client)
    assert send_code(app, pyotp.TOTP(secret).now()).status_code == 401


def test_totp_codes_are_accepted_once_per_step_and_in_order(db, account):
    secret = pyotp.random_base32()
    moment = utcnow()
    totp = pyotp.TOTP(secret)
    accounts.enable_totp(db, account, secret, totp.timecode(moment) - 5)

    def use(at):
        return accounts.use_totp_code(db, account, totp.at(at), moment)

    assert use(moment)
    assert not use(moment)  # replayed
    assert not use(moment - timedelta(seconds=30))  # older than the last one used
    assert use(moment + timedelta(seconds=30))  # the next step, within the drift allowed
    assert not use(moment + timedelta(seconds=90))  # too far ahead
    assert not accounts.use_totp_code(db, account, "12 34 5x", moment)


def test_the_enrolment_secret_stays_on_the_server(app, client, account, db):
    import re

    log_in(client)
    html = client.get("/admin/account/totp").get_data(as_text=True)
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', html).group(1)
    again = client.get("/admin/account/totp").get_data(as_text=True)
    assert f'class="totp-secret">{secret}<' in again  # the same secret, kept server-side
    cookie = client.get_cookie("weprode_staff", path="/admin").value
    content = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert secret not in repr(content)
    [row] = db.query("SELECT pending_totp_secret FROM staff_sessions")
    assert row["pending_totp_secret"] == secret
    token = csrf_token(client, "/admin/")
    client.post("/admin/logout", data={"csrf_token": token})
    [row] = db.query("SELECT pending_totp_secret FROM staff_sessions")
    assert row["pending_totp_secret"] is None


def test_required_totp_sends_everyone_to_enrolment_first(make_app):
    app = make_app(STAFF_REQUIRE_TOTP=True)
    from weprode.db import connect

    db = connect(app.config["DATABASE"])
    with app.app_context():
        accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)
    client = app.test_client()
    log_in(client)
    response = client.get("/admin/audit")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/account/totp")
    enrol_totp(client)
    assert client.get("/admin/audit").status_code == 200


@pytest.mark.parametrize(
    "column, age",
    [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=12, minutes=1))],
)
def test_idle_and_absolute_timeouts_end_the_session(client, account, db, column, age):
    log_in(client)
    assert client.get("/admin/").status_code == 200
    old = (utcnow() - age).isoformat(timespec="seconds")
    db.execute(f"UPDATE staff_sessions SET {column} = ?", [old])
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_logout_ends_the_session_even_for_a_replayed_cookie(client, account, db):
    log_in(client)
    cookie = client.get_cookie("weprode_staff", path="/admin").value
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("weprode_staff", cookie, path="/admin")
    assert client.get("/admin/").status_code == 302
    assert (
        db.execute("SELECT count(*) FROM staff_sessions WHERE ended_at IS NULL").fetchone()[0] == 0
    )


def test_post_without_csrf_token_is_rejected(client, account):
    log_in(client)
    response = client.post("/admin/logout")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 200  # still signed in


def test_login_next_parameter_cannot_leave_the_staff_area(client, account):
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login?next=https://evil.example/",
        data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"


def test_guard_protects_every_admin_url(app, client, account):
    open_endpoints = {"admin.login", "admin.login_code"}
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    assert len(rules) >= 5
    for rule in rules:
        if rule.endpoint in open_endpoints:
            continue
        url = rule.build({name: "1" for name in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 400), (method, url)
            if response.status_code == 302:
                assert "/admin/login" in response.headers["Location"]
            assert response.headers["Cache-Control"] == "no-store"


def test_audit_page_lists_logins_without_passwords(client, account):
    log_in(client, password="Not-The-Password-99")
    log_in(client)
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "<td>failed login</td>" in html and "<td>login</td>" in html
    assert STAFF_PASSWORD not in html and "Not-The-Password-99" not in html
