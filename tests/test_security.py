"""No cookies for visitors, strict headers everywhere, the cross-origin check."""

import pytest
from limits.storage import MemoryStorage
from werkzeug.routing import Rule

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


class SharedTestStorage(MemoryStorage):
    """A storage only reachable through its URI scheme, as redis:// or memcached:// are."""

    STORAGE_SCHEME = ["weprode-shared-test"]


def test_rate_limit_storage_comes_from_the_config(make_app):
    make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="weprode-shared-test://")
    assert isinstance(limiter.storage, SharedTestStorage)


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
