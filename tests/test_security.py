"""No cookies for visitors, strict headers everywhere, the cross-origin check."""

import pytest
from werkzeug.routing import Rule

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
    """Fill the rule's variables with harmless values."""
    values = {name: "css/site.css" if name == "filename" else "x" for name in rule.arguments}
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


def test_hsts_follows_the_proxy_when_proxies_are_trusted(app_config, tmp_path):
    from weprode import create_app

    app_config["TRUSTED_PROXIES"] = 1
    app = create_app(app_config, instance_path=tmp_path / "i")
    response = app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in response.headers


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
