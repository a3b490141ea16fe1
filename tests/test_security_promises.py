"""Promises of `security`: the cross-origin check refuses exactly what it should, and
every response carries exactly the headers we publish.

Written against mutation-testing survivors (issue 17): a cross-site GET refused, a
`same-site` or `Origin: null` post accepted, a CSP directive dropped would each fail
a test here.
"""

from pathlib import Path

import pytest
from campaign_helpers import new_campaign
from flask import request
from newsletter_helpers import link_path, sign_up, unsubscribe_path

from weprode import security, tokens, usage_log
from weprode.db import parse_timestamp, utcnow
from weprode.newsletter import subscribers

EXPECTED_POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}
EXPECTED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000; includeSubDomains"

# A signup the form refuses (no consent): answered 400 when let through, 403 when refused,
# and never a mail either way.
INVALID_SIGNUP = {"email": "not-an-address"}

REFUSED = {
    "cross-site fetch": {"Sec-Fetch-Site": "cross-site"},
    "same-site fetch": {"Sec-Fetch-Site": "same-site"},
    "same-site fetch with our origin": {
        "Sec-Fetch-Site": "same-site",
        "Origin": "http://localhost",
    },
    "cross-site fetch with our origin": {
        "Sec-Fetch-Site": "cross-site",
        "Origin": "http://localhost",
    },
    "null origin": {"Origin": "null"},
    "another host": {"Origin": "http://evil.example"},
    "a subdomain": {"Origin": "http://www.localhost"},
    "another scheme": {"Origin": "https://localhost"},
    "another port": {"Origin": "http://localhost:8080"},
    "same-origin fetch but foreign origin": {
        "Sec-Fetch-Site": "same-origin",
        "Origin": "http://evil.example",
    },
}
ALLOWED = {
    "neither header (curl, old clients)": {},
    "our own origin": {"Origin": "http://localhost"},
    "same-origin fetch": {"Sec-Fetch-Site": "same-origin"},
    "same-origin fetch and origin": {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    "typed in the address bar": {"Sec-Fetch-Site": "none"},
}


def parse_policy(header):
    """A Content-Security-Policy header as {directive: [sources]}, refusing duplicates."""
    policy = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in policy, f"{name} twice in {header!r}"
        policy[name] = sources
    return policy


def security_lines(app):
    """The lines of the security log written so far."""
    folder = Path(usage_log.log_folder(app))
    files = sorted(folder.glob("*.log")) if folder.is_dir() else []
    return [line for path in files for line in path.read_text().splitlines() if "SECURITY" in line]


def confirm_path(client, mailbox):
    """A real double opt-in link, as the mail carries it."""
    sign_up(client)
    return link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/")


# The cross-origin check ---------------------------------------------------------------


@pytest.mark.parametrize("headers", REFUSED.values(), ids=REFUSED.keys())
def test_unsafe_request_from_another_origin_is_refused(app, client, db, headers):
    response = client.post("/newsletter", data={**INVALID_SIGNUP}, headers=headers)
    assert response.status_code == 403
    assert "only be sent from our own pages" in response.get_data(as_text=True)
    assert db["subscribers"].count == 0


@pytest.mark.parametrize("headers", ALLOWED.values(), ids=ALLOWED.keys())
def test_unsafe_request_from_our_pages_or_without_browser_headers_is_allowed(app, client, headers):
    response = client.post("/newsletter", data={**INVALID_SIGNUP}, headers=headers)
    assert response.status_code == 400  # reached the form, which refuses the address
    assert "only be sent from our own pages" not in response.get_data(as_text=True)


def test_refused_request_is_written_to_the_security_log(app, client):
    client.post("/newsletter", data=INVALID_SIGNUP, headers={"Origin": "null"})
    [line] = [line for line in security_lines(app) if "cross_origin_rejected" in line]
    assert 'origin="null"' in line and "method=POST" in line


@pytest.mark.parametrize(
    "headers, logged",
    [
        ({"Origin": "null"}, 'origin="null" fetch_site="-"'),
        ({"Sec-Fetch-Site": "cross-site"}, 'origin="-" fetch_site="cross-site"'),
    ],
)
def test_security_log_names_the_rejection_and_both_headers_with_a_dash_for_a_missing_one(
    app, client, headers, logged
):
    client.post("/newsletter", data=INVALID_SIGNUP, headers=headers)
    [line] = security_lines(app)
    assert " kind=cross_origin_rejected " in line
    assert line.endswith(logged)


def test_refusal_page_says_why_in_words(client):
    response = client.post("/newsletter", data=INVALID_SIGNUP, headers={"Origin": "null"})
    expected = '<p class="error-detail">This form can only be sent from our own pages.</p>'
    assert expected in response.get_data(as_text=True)


def test_a_valid_signup_from_our_own_page_goes_through(app, client, db, mailbox):
    headers = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    response = client.post(
        "/newsletter",
        data={
            "email": "ada@example.org",
            "language": "en",
            "topics": "1",
            "consent_version": "2026-12-v2",
        },
        headers=headers,
    )
    assert response.status_code == 200
    assert subscribers.find_by_email(db, "ada@example.org")["status"] == "pending"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_cross_site_get_of_a_confirm_link_is_not_refused(client, mailbox, method):
    """A confirm link opened from webmail is a cross-site navigation: it must work."""
    path = confirm_path(client, mailbox)
    response = client.open(
        path,
        method=method,
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://webmail.example"},
    )
    assert response.status_code == 200


def test_cross_site_get_of_a_confirm_link_shows_the_button_and_changes_nothing(client, db, mailbox):
    path = confirm_path(client, mailbox)
    response = client.get(path, headers={"Sec-Fetch-Site": "cross-site"})
    assert f'action="{path}"' in response.get_data(as_text=True)
    assert subscribers.find_by_email(db, "jane.doe@example.org")["status"] == "pending"


def test_head_of_a_confirm_link_changes_nothing(client, db, mailbox):
    """Mail scanners and link checkers fetch links (HEAD too); only the button confirms."""
    client.head(confirm_path(client, mailbox))
    subscriber = subscribers.find_by_email(db, "jane.doe@example.org")
    assert (subscriber["status"], subscriber["confirmed_at"]) == ("pending", None)


def test_head_of_an_erasure_link_erases_nothing(app, client, db, mailbox):
    with app.app_context():
        subscribers.add_confirmed(db, "jane.doe@example.org", "t", utcnow())
    client.post("/privacy/request", data={"email": "jane.doe@example.org", "kind": "erase"})
    client.head(link_path(mailbox.wait_for(1)[0], "/privacy/request/"))
    assert subscribers.find_by_email(db, "jane.doe@example.org") is not None


def test_cross_site_get_of_an_unsubscribe_link_is_not_refused(app, client, db):
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(db, "ada@example.org", "t", utcnow())
    response = client.get(
        unsubscribe_path(app, subscriber_id), headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 200
    assert "a***@example.org" in response.get_data(as_text=True)


def test_exempt_one_click_post_works_cross_site_but_undo_does_not(app, client, db):
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(db, "ada@example.org", "t", utcnow())
    cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": "https://mail.provider.example"}
    response = client.post(
        unsubscribe_path(app, subscriber_id),
        data={"List-Unsubscribe": "One-Click"},
        headers=cross_site,
    )
    assert response.status_code == 200
    churned = subscribers.get(db, subscriber_id)
    assert churned["status"] == "churned"
    # The undo button is an ordinary form: another site may not press it for the visitor.
    with app.app_context():
        token = tokens.make_undo_token(subscriber_id, parse_timestamp(churned["churned_at"]))
        undo = f"/unsubscribe/undo/{token}"
    assert client.post(undo, headers=cross_site).status_code == 403
    assert subscribers.get(db, subscriber_id)["status"] == "churned"
    assert client.post(undo, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert subscribers.get(db, subscriber_id)["status"] == "active"


def test_unknown_address_answers_404_whatever_the_origin(client):
    response = client.post("/no-such-form", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 404


# Headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("GET", "/", {}),
        ("GET", "/privacy", {}),
        ("GET", "/newsletter", {}),
        ("GET", "/no-such-page", {}),
        ("POST", "/newsletter", {"Origin": "null"}),  # the 403 page too
        ("POST", "/unsubscribe/forged.token", {}),  # and the 400 page
    ],
)
def test_every_response_has_exactly_the_published_headers(client, method, path, headers):
    response = client.open(path, method=method, headers=headers)
    [policy] = response.headers.getlist("Content-Security-Policy")
    assert parse_policy(policy) == EXPECTED_POLICY
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.getlist(name) == [value], name
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_over_https_exactly_once(client):
    response = client.get("/", base_url="https://localhost")
    assert response.headers.getlist("Strict-Transport-Security") == [HSTS]


def test_a_views_own_policy_replaces_the_default_instead_of_doubling_it(app, db, staff_client):
    campaign_id = new_campaign(db)
    preview = staff_client.get(f"/admin/campaigns/{campaign_id}/preview/en")
    [policy] = preview.headers.getlist("Content-Security-Policy")
    assert parse_policy(policy) == {**EXPECTED_POLICY, "frame-src": ["'self'"]}
    document = staff_client.get(f"/admin/campaigns/{campaign_id}/preview/en.html")
    assert len(document.headers.getlist("Content-Security-Policy")) == 1
    assert document.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert document.headers.getlist("X-Content-Type-Options") == ["nosniff"]


# What a view can be marked with ----------------------------------------------------------
# The marks are applied at import time to the real views; these views are marked here,
# during the test, so a change to the marking itself is seen.

DEFAULT_LIMIT = 100
UPLOAD_LIMIT = 1000
OWN_HSTS = "max-age=60"


@pytest.fixture
def marked_app(make_app):
    """An app with four extra views (none reads the body unless asked): plain, exempt
    from the cross-origin check, allowed a larger body, and one setting its own HSTS.
    The list `marked_app.ran` records the views that ran."""
    app = make_app(MAX_CONTENT_LENGTH=DEFAULT_LIMIT, TEST_UPLOAD_LIMIT=UPLOAD_LIMIT)
    app.ran = []

    def view(name, read_body=False):
        def run():
            app.ran.append(name)
            return f"{len(request.get_data())} bytes" if read_body else name

        run.__name__ = f"test_{name}"
        return run

    app.add_url_rule("/test/plain", view_func=view("plain"), methods=["GET", "POST"])
    exempt = security.cross_origin_exempt(view("exempt"))
    app.add_url_rule("/test/exempt", view_func=exempt, methods=["POST"])
    upload = security.larger_body_allowed("TEST_UPLOAD_LIMIT")(view("upload", read_body=True))
    app.add_url_rule("/test/upload", view_func=upload, methods=["POST"])

    def own_hsts():
        return "own", {"Strict-Transport-Security": OWN_HSTS}

    app.add_url_rule("/test/own-hsts", view_func=own_hsts)
    return app


def test_a_view_marked_cross_origin_exempt_takes_cross_site_posts_and_others_do_not(marked_app):
    client = marked_app.test_client()
    cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": "https://mail.provider.example"}
    assert client.post("/test/exempt", headers=cross_site).status_code == 200
    assert client.post("/test/plain", headers=cross_site).status_code == 403
    assert marked_app.ran == ["exempt"]


def test_a_body_over_the_limit_is_refused_before_the_view_runs(marked_app):
    client = marked_app.test_client()
    assert client.post("/test/plain", data=b"x" * (DEFAULT_LIMIT + 1)).status_code == 413
    assert marked_app.ran == []
    assert client.post("/test/plain", data=b"x" * DEFAULT_LIMIT).status_code == 200
    assert marked_app.ran == ["plain"]


def test_a_view_allowed_a_larger_body_takes_it_up_to_its_own_limit_only(marked_app):
    client = marked_app.test_client()
    response = client.post("/test/upload", data=b"x" * UPLOAD_LIMIT)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "1000 bytes")
    assert client.post("/test/upload", data=b"x" * (UPLOAD_LIMIT + 1)).status_code == 413
    assert client.post("/test/plain", data=b"x" * UPLOAD_LIMIT).status_code == 413
    assert marked_app.ran == ["upload"]


def test_a_request_without_a_body_is_never_refused_for_its_size(make_app):
    client = make_app(MAX_CONTENT_LENGTH=0).test_client()
    assert client.get("/").status_code == 200


def test_a_views_own_hsts_is_kept_over_https(marked_app):
    response = marked_app.test_client().get("/test/own-hsts", base_url="https://localhost")
    assert response.headers.getlist("Strict-Transport-Security") == [OWN_HSTS]
