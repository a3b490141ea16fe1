"""No cookies for visitors, strict headers everywhere, the cross-origin check."""

from datetime import UTC, datetime

import pytest
from limits.storage import MemoryStorage
from werkzeug.routing import Rule

from weprode import tokens
from weprode.security import address_key, limiter

REQUIRED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def public_rules(app):
    """Every route outside the staff area."""
    return [r for r in app.url_map.iter_rules() if not r.rule.startswith("/admin")]


def example_url(rule: Rule):
    """Fill the rule's variables with harmless values (a number where the route wants one)."""
    values = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        if name == "filename":
            values[name] = "css/site.css"
        else:
            values[name] = "1" if "Integer" in converter or "RowId" in converter else "x"
    return rule.build(values)[1]


def test_no_public_route_sets_a_cookie_on_get_or_post(app, client):
    rules = public_rules(app)
    assert len(rules) >= 8
    for rule in rules:
        url = example_url(rule)
        for method in ("GET", "POST"):
            response = client.open(url, method=method, data={"email": "a@example.org"})
            assert "Set-Cookie" not in response.headers, (method, url)
    assert not client._cookies


@pytest.mark.parametrize("path", ["/", "/privacy", "/no-such-page", "/robots.txt"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    for name, value in REQUIRED_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for directive in (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ):
        assert directive in policy
    permissions = response.headers["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in permissions
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_is_sent_over_https(client):
    response = client.get("/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_hsts_follows_the_proxy_when_proxies_are_trusted(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    response = app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in response.headers


def database_snapshot(db):
    """Every row of every table, to show that a request changed nothing."""
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {table: db.execute(f"SELECT * FROM [{table}]").fetchall() for table in tables}


def test_head_never_acts_on_any_public_route_that_takes_a_post(app, client, db):
    """HEAD is routed to the GET view: link checkers and scanners must not act through it."""
    rules = [r for r in public_rules(app) if "POST" in r.methods and "GET" in r.methods]
    assert len(rules) >= 5
    before = database_snapshot(db)
    for rule in rules:
        url = example_url(rule)
        head = client.head(url, data={"email": "a@example.org", "kind": "erase"})
        get = client.get(url)
        assert head.status_code == get.status_code, url
    assert database_snapshot(db) == before


def test_public_routes_never_read_or_write_a_staff_session(app, staff_client, db):
    # A staff browser's cookie replayed outside /admin, from another User-Agent: what
    # Flask-Login's session protection reacts to when anything loads the session.
    cookie = staff_client.get_cookie("weprode_staff", path="/admin")
    sessions = list(db.query("SELECT id, last_seen_at, ended_at FROM staff_sessions"))
    visitor = app.test_client(use_cookies=False)
    headers = {"Cookie": f"weprode_staff={cookie.value}", "User-Agent": "another-browser/1.0"}
    for rule in public_rules(app):
        url = example_url(rule)
        for method in ("GET", "POST"):
            response = visitor.open(url, method=method, headers=headers)
            assert "Set-Cookie" not in response.headers, (method, url)
            assert "cookie" not in response.headers.get("Vary", "").lower(), (method, url)
    assert list(db.query("SELECT id, last_seen_at, ended_at FROM staff_sessions")) == sessions
    assert staff_client.get("/admin/").status_code == 200


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# Each purpose: a genuine token, and its check at NOW.
TOKEN_PURPOSES = {
    "confirm": (
        lambda: tokens.make_confirm_token(7, NOW),
        lambda token: tokens.check_confirm_token(token, NOW),
    ),
    "undo": (
        lambda: tokens.make_undo_token(7, NOW),
        lambda token: tokens.check_undo_token(token, NOW),
    ),
    "rights": (
        lambda: tokens.make_rights_token(7, NOW),
        lambda token: tokens.check_rights_token(token, NOW),
    ),
    "unsubscribe": (lambda: tokens.make_unsubscribe_token(7), tokens.check_unsubscribe_token),
    "unsubscribe for a campaign": (
        lambda: tokens.unsubscribe_token_maker(3)(7),
        tokens.check_unsubscribe_token,
    ),
}
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def same_bytes_other_spelling(part):
    """`part` with its last character changed only in bits base64 decoding drops."""
    unused_bits = {2: 4, 3: 2}.get(len(part) % 4, 0)  # 4 or 2 bits pad the last character
    last = BASE64URL.index(part[-1])
    return part[:-1] + BASE64URL[last ^ ((1 << unused_bits) - 1)] if unused_bits else None


def non_canonical_variants(token):
    """The same token spelled otherwise: junk, padding, whitespace, other base64 spellings."""
    payload, signature = token.split(".")
    middle = len(signature) // 2
    variants = [
        f"{payload}.{signature[:middle]}!!~~{signature[middle:]}",
        f"{payload}.{signature[:middle]}é€{signature[middle:]}",
        f"{payload}.{signature}==",
        f"{payload}==.{signature}",
        f"{payload}.{signature} ",
        f"{payload}.{signature}\n",
        f"{payload}.{signature[:middle]}\0{signature[middle:]}",
        f" {token}",
        f"{payload}..{signature}",
        f"{payload}.{signature.replace('-', '+').replace('_', '/')}",
        f"{payload}.{same_bytes_other_spelling(signature)}",
    ]
    if same_bytes_other_spelling(payload):
        variants.append(f"{same_bytes_other_spelling(payload)}.{signature}")
    return [v for v in variants if v != token]


@pytest.mark.parametrize("purpose", TOKEN_PURPOSES)
def test_only_the_exact_token_string_is_accepted(app, purpose):
    make, check = TOKEN_PURPOSES[purpose]
    with app.app_context():
        token = make()
        assert check(token).ok
        for variant in non_canonical_variants(token):
            assert check(variant).status == "invalid", repr(variant)


@pytest.mark.parametrize("encoded", ["%3D%3D", "%20", "%0A", "%00", "%C3%A9%E2%82%AC", "%21%7E"])
def test_percent_encoded_junk_in_a_token_url_gets_400(app, client, encoded):
    with app.app_context():
        token = tokens.make_unsubscribe_token(7)
    payload, signature = token.split(".")
    middle = len(signature) // 2
    for spelled in (
        f"{payload}.{signature}{encoded}",
        f"{payload}.{signature[:middle]}{encoded}{signature[middle:]}",
    ):
        response = client.get(f"/unsubscribe/{spelled}")
        assert response.status_code == 400, spelled
        assert "not valid" in response.get_data(as_text=True)


class SharedTestStorage(MemoryStorage):
    """A storage only reachable through its URI scheme, as redis:// or memcached:// are."""

    STORAGE_SCHEME = ["weprode-shared-test"]


def test_rate_limit_storage_comes_from_the_config(make_app):
    make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="weprode-shared-test://")
    assert isinstance(limiter.storage, SharedTestStorage)


@pytest.mark.parametrize("setting", ["RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION"])
def test_an_app_gets_the_limits_of_its_own_config_only(make_app, setting):
    # The limiter is module-level: a limit configured for one app must not follow the
    # process into the next app built (the tests, and mutmut, build many in a process).
    limited = make_app(RATELIMIT_ENABLED=True, **{setting: "1 per minute"}).test_client()
    assert [limited.get("/").status_code for _ in range(2)] == [200, 429]
    unlimited = make_app(RATELIMIT_ENABLED=True).test_client()
    assert [unlimited.get("/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(
    "address, key",
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:3::1", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("not-an-address", "not-an-address"),
        (None, "unknown"),
    ],
)
def test_limits_count_ipv4_per_address_and_ipv6_per_64(address, key):
    assert address_key(address) == key


def test_ipv6_clients_are_rate_limited_per_64(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORMS="2 per minute")
    client = app.test_client()

    def post_from(address):
        return client.post("/privacy/request", environ_base={"REMOTE_ADDR": address})

    # An empty form is refused (400) but still counted.
    codes = [post_from(f"2001:db8:7:7::{n}").status_code for n in (1, 2, 3)]
    assert codes == [400, 400, 429]
    assert post_from("2001:db8:7:8::1").status_code == 400  # another /64
    assert post_from("192.0.2.1").status_code == 400
