"""The usage and security log: one line per request, security events, rotation, deletion."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from newsletter_helpers import sign_up, unsubscribe_path
from staff_helpers import ENGLISH_STAFF, STAFF_EMAIL, STAFF_PASSWORD, log_in

from weprode import audit, tokens, usage_log
from weprode.db import utcnow
from weprode.staff import accounts

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
WRONG_PASSWORD = "Not-The-Password-99"
ACCESS_LINE = re.compile(
    r'(?P<time>\S+) (?P<ip>\S+) (?P<method>[A-Z]+) "(?P<path>[^"]*)" (?P<status>\d{3}) '
    r'(?P<ms>\d+\.\d)ms "(?P<agent>[^"]*)"'
)


@pytest.fixture
def clock(monkeypatch):
    """Freeze the log's clock at NOW; tests may move it by setting `.now`."""

    class FrozenClock:
        now = NOW

        def __call__(self):
            """The moment the test chose."""
            return self.now

    frozen = FrozenClock()
    monkeypatch.setattr(usage_log, "clock", frozen)
    return frozen


@pytest.fixture
def account(app, db):
    """A staff account with a known password."""
    with app.app_context():
        return accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, utcnow(), **ENGLISH_STAFF)


def log_text(app, day=NOW):
    """The content of the daily file of `day`."""
    path = usage_log.log_file(usage_log.log_folder(app), day.date())
    return path.read_text(encoding="utf-8") if path.exists() else ""


def security_lines(app, kind):
    """The security events of one kind in today's file."""
    return [
        line
        for line in log_text(app).splitlines()
        if f" SECURITY kind={kind} " in line or line.endswith(f" SECURITY kind={kind}")
    ]


def test_a_request_writes_one_line_with_every_field(app, client, clock):
    response = client.get("/robots.txt?lang=en", headers={"User-Agent": "Mozilla/5.0 (X11)"})
    assert response.status_code == 200
    lines = log_text(app).splitlines()
    assert len(lines) == 1
    fields = ACCESS_LINE.fullmatch(lines[0]).groupdict()
    assert fields["time"] == NOW.isoformat()
    assert fields["ip"] == "127.0.0.1"
    assert fields["method"] == "GET"
    assert fields["path"] == "/robots.txt?lang=en"
    assert fields["status"] == "200"
    assert fields["agent"] == "Mozilla/5.0 (X11)"
    assert float(fields["ms"]) >= 0


def test_errors_and_refusals_are_logged_with_their_status(app, client, clock):
    client.get("/no-such-page")
    client.post("/newsletter", headers={"Origin": "https://evil.example"})
    statuses = [ACCESS_LINE.fullmatch(line) for line in log_text(app).splitlines()]
    assert [m["status"] for m in statuses if m] == ["404", "403"]


def test_the_log_folder_can_be_configured(make_app, tmp_path, clock):
    folder = tmp_path / "elsewhere"
    app = make_app(LOG_FOLDER=str(folder))
    app.test_client().get("/robots.txt")
    assert usage_log.log_folder(app) == folder
    assert (folder / "access-2026-11-26.log").read_text().count("\n") == 1


def test_control_characters_cannot_forge_a_line(app, client, clock):
    agent = 'curl\r\n2026-11-26T09:30:00+00:00 10.0.0.1 GET "/admin" 200 1.0ms "x"\u2028'
    client.get("/robots.txt%0D%0Aforged%0aline", environ_overrides={"HTTP_USER_AGENT": agent})
    client.get("/robots.txt?q=%0d%0afake", environ_overrides={"HTTP_USER_AGENT": "a\x1b[31m"})
    text = log_text(app)
    lines = text.splitlines()
    assert len(lines) == 2 and text.count("\n") == 2
    assert all(ACCESS_LINE.fullmatch(line) for line in lines)
    assert "\\x0d\\x0a" in lines[0] and "\\u2028" in lines[0] and "\\x22/admin\\x22" in lines[0]
    assert "/robots.txt\\x0d\\x0aforged\\x0aline" in lines[0]
    assert "\\x1b[31m" in lines[1]
    assert "\r" not in text and "\x1b" not in text


def test_failed_login_and_throttling_are_security_events_without_the_password(
    app, client, account, clock
):
    for _ in range(5):
        assert log_in(client, password=WRONG_PASSWORD).status_code == 401
    assert log_in(client).status_code == 429
    failures = security_lines(app, "staff_login_failed")
    assert len(failures) == 5
    assert f'login="{STAFF_EMAIL}"' in failures[0]
    assert 'method=POST path="/admin/login"' in failures[0]
    assert len(security_lines(app, "staff_login_throttled")) == 1
    text = log_text(app)
    assert WRONG_PASSWORD not in text and STAFF_PASSWORD not in text


def test_successful_login_is_a_security_event(app, client, account, clock):
    assert log_in(client).status_code == 302
    assert len(security_lines(app, "staff_login")) == 1
    assert STAFF_PASSWORD not in log_text(app)


def test_csrf_rejection_is_logged_and_still_answers_the_error_page(app, client, clock):
    response = client.post("/admin/login", data={"email": STAFF_EMAIL, "password": "x"})
    assert response.status_code == 400
    assert "This request could not be understood" in response.get_data(as_text=True)
    [event] = security_lines(app, "csrf_rejected")
    assert 'reason="The CSRF token is missing."' in event


def test_cross_origin_post_is_a_security_event(app, client, clock):
    response = client.post(
        "/newsletter", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    [event] = security_lines(app, "cross_origin_rejected")
    assert 'origin="https://evil.example"' in event and 'fetch_site="cross-site"' in event


def test_rate_limit_hit_is_a_security_event(make_app, mailbox, clock):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORMS="1 per minute")
    client = app.test_client()
    assert sign_up(client).status_code == 200
    response = sign_up(client)
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    [event] = security_lines(app, "rate_limited")
    assert 'path="/newsletter"' in event and "1 per 1 minute" in event


def test_tampered_unsubscribe_token_is_logged_truncated(app, client, clock):
    path = unsubscribe_path(app, 1)
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/unsubscribe/{tampered}").status_code == 400
    assert client.post(f"/unsubscribe/{tampered}").status_code == 400
    events = security_lines(app, "bad_token")
    assert len(events) == 2
    assert f'token="{tampered[:8]}..."' in events[0] and 'purpose="unsubscribe"' in events[0]
    text = log_text(app)
    assert tampered not in text and token not in text
    assert f'"/unsubscribe/{tampered[:8]}..." 400 ' in text


def test_bad_confirm_and_undo_tokens_are_logged(app, client, clock):
    client.get("/newsletter/confirm/not-a-real-confirmation-token")
    client.post("/unsubscribe/undo/not-a-real-undo-token")
    purposes = [re.search(r'purpose="(\w+)"', e)[1] for e in security_lines(app, "bad_token")]
    assert purposes == ["confirm", "undo"]
    text = log_text(app)
    assert "not-a-real-confirmation-token" not in text and "not-a-real-undo-token" not in text


def test_security_event_drops_secrets_and_truncates_tokens(app, clock):
    with app.test_request_context("/somewhere", method="POST"):
        usage_log.security_event(
            "test_event", password="hunter2-hunter2", reset_token="0123456789abcdef", note="a\nb"
        )
    [event] = security_lines(app, "test_event")
    assert "hunter2" not in event and "password" not in event
    assert 'reset_token="01234567..."' in event and 'note="a\\x0ab"' in event


def test_unhandled_exception_is_still_logged_as_500(app, clock):
    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/explode", "explode", explode)
    with pytest.raises(RuntimeError):
        app.test_client().get("/explode")
    assert ACCESS_LINE.fullmatch(log_text(app).strip())["status"] == "500"


def test_public_responses_carry_no_cookie(client, clock):
    for path in ("/", "/robots.txt", "/no-such-page"):
        assert "Set-Cookie" not in client.get(path).headers


def test_a_new_file_each_utc_day(app, client, clock):
    client.get("/robots.txt")
    clock.now = NOW.replace(hour=23, minute=59, second=59)
    client.get("/robots.txt?late")
    clock.now = NOW + timedelta(days=1)
    client.get("/robots.txt?next-day")
    folder = usage_log.log_folder(app)
    assert sorted(p.name for p in folder.iterdir()) == [
        "access-2026-11-26.log",
        "access-2026-11-27.log",
    ]
    assert log_text(app).count("\n") == 2
    next_day = log_text(app, NOW + timedelta(days=1))
    assert next_day.count("\n") == 1 and "?next-day" in next_day


def test_delete_old_logs_keeps_one_year(tmp_path):
    now = NOW
    for age in (364, 365, 366, 800):
        day = (now - timedelta(days=age)).date()
        usage_log.log_file(tmp_path, day).write_text("line\n")
    (tmp_path / "notes.txt").write_text("not a log\n")
    deleted = usage_log.delete_old_logs(tmp_path, now)
    assert sorted(p.name for p in deleted) == [
        f"access-{(now - timedelta(days=age)).date()}.log" for age in (800, 366)
    ]
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert remaining == [
        f"access-{(now - timedelta(days=365)).date()}.log",
        f"access-{(now - timedelta(days=364)).date()}.log",
        "notes.txt",
    ]
    assert usage_log.delete_old_logs(tmp_path, now) == []
    assert usage_log.delete_old_logs(tmp_path / "missing", now) == []


def whole_tokens(app):
    """A real unsubscribe token and a real rights-request token."""
    with app.app_context():
        return [
            tokens.make_unsubscribe_token(1, 42),
            tokens.make_rights_token(7, NOW),
        ]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/privacy/request/{token}/", 404),  # no route: no view arguments
        ("PUT", "/unsubscribe/{token}", 405),  # a route, but not for this method
        ("GET", "/unsubscribe/{token}x", 400),  # a route, and a bad token
        ("GET", "/no-such-page/{token}/more", 404),
        ("GET", "/robots.txt?t={token}&next=/unsubscribe/{token}", 200),
        ("GET", "/no-such-page?confirm={token}", 404),
    ],
)
def test_tokens_are_cut_by_shape_on_every_path_whatever_the_route(
    app, client, clock, method, path, status
):
    """Issue 11, item 12: routing failures wrote whole tokens (no `view_args` to redact)."""
    for token in whole_tokens(app):
        response = client.open(path.format(token=token), method=method)
        assert response.status_code == status
        text = log_text(app)
        assert token not in text
        assert token[usage_log.TOKEN_PREFIX_LENGTH :][:12] not in text
        assert f"{token[:8]}..." in text


def test_short_segments_and_ordinary_queries_are_logged_as_they_are(app, client, clock):
    client.get("/static/css/site.css?v=2026-11-26")
    client.get("/privacy/request?lang=fr&utm_source=newsletter")
    paths = [ACCESS_LINE.fullmatch(line)["path"] for line in log_text(app).splitlines()]
    assert paths == [
        "/static/css/site.css?v=2026-11-26",
        "/privacy/request?lang=fr&utm_source=newsletter",
    ]


def test_addresses_and_search_text_never_reach_the_access_log(app, clock, staff_client):
    """Issue 11, item 6: `/admin/subscribers?q=<address>` kept the address for a year."""
    for path in (
        "/admin/subscribers?q=Jane.Doe%40example.org&status=active",
        "/admin/prospects?q=Quilliam&status=new",
        "/admin/subscribers/export.csv?q=jane.doe@example.org&language=fr",
        "/no-such-page/jane.doe@example.org",
        "/newsletter?email=jane.doe%40example.org&lang=fr",
        "/no-such-page?next=mailto:jane.doe@example.org",
    ):
        assert staff_client.get(path).status_code < 500
    text = log_text(app)
    assert "jane.doe" not in text.lower() and "quilliam" not in text.lower()
    paths = [m["path"] for m in map(ACCESS_LINE.fullmatch, text.splitlines()) if m]
    assert "/admin/subscribers?q=[withheld]&status=active" in paths
    assert "/admin/prospects?q=[withheld]&status=new" in paths
    assert "/no-such-page/[address]" in paths
    assert "/newsletter?email=[withheld]&lang=fr" in paths
    assert "/no-such-page?next=[address]" in paths  # an address in any value
    assert STAFF_EMAIL in text  # staff logins stay attributable (security events)


def test_audit_details_never_hold_addresses_or_search_text(app, db, staff_client):
    response = staff_client.get("/admin/subscribers/export.csv?q=jane.doe%40example.org")
    assert response.status_code == 200
    with app.app_context():
        audit.record(db, "cli:tester", "note", utcnow(), reason="asked by Jane.Doe@Example.org")
    details = [row["detail"] for row in db.query("SELECT detail FROM audit_log")]
    assert not any("jane.doe" in (detail or "").lower() for detail in details)
    export = json.loads(details[-2])
    assert export == {"query": "[withheld]", "status": "", "language": ""}
    assert json.loads(details[-1]) == {"reason": "asked by [address]"}


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("/x/jane.doe@example.org/y", "/x/[address]/y"),
        ("q=jane%40example.org&b=1", "q=[address]&b=1"),
        ("a@ @b @ a@b", "a@ @b @ [address]"),
        ("mail JANE%40EXAMPLE.ORG", "mail [address]"),
        ("no address here", "no address here"),
    ],
)
def test_hide_addresses_replaces_each_address_like_run(text, hidden):
    assert usage_log.hide_addresses(text) == hidden


def test_a_long_path_without_an_address_is_logged_as_it_is():
    """The old pattern backtracked over every start of such a run (quadratic): a path of
    this length would have held the request for minutes."""
    path = "/" + "a" * 200_000 + "@"
    assert usage_log.hide_addresses(path) == path
    assert usage_log.hide_addresses(path + "b") == "/[address]"
