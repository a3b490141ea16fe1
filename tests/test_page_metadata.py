"""What pages tell crawlers and link previews, and a few texts people saw wrong:
one-time links stay private, the rights form is in the sitemap, an error is said once,
the 429 page speaks the page's language."""

import re

import pytest
from newsletter_helpers import VALID_SIGNUP, link_path, unsubscribe_path

from weprode.db import utcnow
from weprode.newsletter import subscribers

HEAD_URLS = re.compile(r"<(?:link|meta)\b[^>]*>")


def head_tags(html):
    """The `<link>` and `<meta>` tags of a page's head."""
    head = html.split("</head>", 1)[0]
    return HEAD_URLS.findall(head)


def assert_private(response, token):
    """No canonical, alternate or og:url carries the token; the page is noindex."""
    html = response.get_data(as_text=True)
    tags = head_tags(html)
    assert not [tag for tag in tags if token in tag], tags
    assert not [tag for tag in tags if 'rel="canonical"' in tag or "hreflang=" in tag]
    assert not [tag for tag in tags if 'property="og:url"' in tag]
    assert '<meta name="robots" content="noindex">' in tags


@pytest.fixture
def subscriber_id(app, db):
    with app.app_context():
        return subscribers.add_confirmed(db, "reader@example.org", "test", utcnow())[0]


@pytest.mark.parametrize("lang", ["", "?lang=fr"])
def test_unsubscribe_pages_do_not_advertise_their_token(app, client, subscriber_id, lang):
    path = unsubscribe_path(app, subscriber_id) + lang
    token = path.split("/")[-1].split("?")[0]
    assert_private(client.get(path), token)
    done = client.post(path)
    assert done.status_code == 200
    assert_private(done, token)
    assert_private(client.put(path), token)  # 405 on a token URL


@pytest.mark.parametrize("lang", ["", "?lang=fr"])
def test_confirmation_pages_do_not_advertise_their_token(client, mailbox, lang):
    client.post("/newsletter" + lang, data=VALID_SIGNUP)
    [message] = mailbox.wait_for(1)
    path = link_path(message, "/newsletter/confirm/")
    token = path.split("/")[-1].split("?")[0]
    assert_private(client.get(path), token)
    assert_private(client.post(path), token)


def test_rights_link_pages_do_not_advertise_their_token(client, mailbox):
    client.post("/privacy/request?lang=fr", data={"email": "a@example.org", "kind": "access"})
    [message] = mailbox.wait_for(1)
    path = link_path(message, "/privacy/request/")
    token = path.split("/")[-1].split("?")[0]
    assert_private(client.get(path), token)
    bad = client.get("/privacy/request/" + token[:-2] + "xx")
    assert bad.status_code == 400
    assert_private(bad, token[:-2])


def test_public_pages_keep_canonical_alternates_and_og_url(client):
    html = client.get("/privacy/request?lang=fr").get_data(as_text=True)
    assert '<link rel="canonical" href="http://localhost/privacy/request?lang=fr">' in html
    assert 'hreflang="x-default" href="http://localhost/privacy/request"' in html
    assert '<meta property="og:url" content="http://localhost/privacy/request?lang=fr">' in html
    assert "noindex" not in html


def test_robots_keeps_crawlers_out_of_rights_links_but_not_the_form(client):
    lines = client.get("/robots.txt").get_data(as_text=True).splitlines()
    assert "Disallow: /privacy/request/" in lines
    assert "Disallow: /privacy/request" not in lines


def test_sitemap_lists_the_rights_form_in_both_languages(client):
    xml = client.get("/sitemap.xml").get_data(as_text=True)
    assert "<loc>http://localhost/privacy/request</loc>" in xml
    assert "<loc>http://localhost/privacy/request?lang=fr</loc>" in xml


@pytest.mark.parametrize("email", ["not an address", "a@b", "jane@example..org"])
def test_rights_form_says_a_bad_address_is_wrong_once(client, email):
    response = client.post("/privacy/request", data={"email": email, "kind": "access"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = re.findall(r'<p class="field-error">.*?</p>', html)
    assert len(errors) == 1, errors


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("", "This form accepts 1 request per minute from one Internet connection."),
        (
            "?lang=fr",
            "Ce formulaire accepte 1\u00a0demande par minute depuis une même connexion Internet.",
        ),
    ],
)
def test_429_page_states_the_limit_in_the_page_language(make_app, lang, expected):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORMS="1 per minute")
    client = app.test_client()
    client.post("/privacy/request" + lang)
    response = client.post("/privacy/request" + lang)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert expected in html
    assert "per 1 minute" not in html


def test_429_period_with_several_units(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORMS="2 per 3 hours")
    client = app.test_client()
    for _ in range(2):
        client.post("/privacy/request?lang=fr")
    html = client.post("/privacy/request?lang=fr").get_data(as_text=True)
    assert "Ce formulaire accepte 2\u00a0demandes toutes les 3\u00a0heures" in html
