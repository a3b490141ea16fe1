"""The public pages: reachable from the navigation, and stating the facts they must."""

import re

import pytest

from weprode.site.views import PAGE_CACHE

PAGES = ["/", "/services", "/about", "/legal", "/privacy"]


@pytest.mark.parametrize("path", PAGES)
def test_public_page_answers_with_title_description_and_open_graph(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r"<title>[^<]+</title>", html)
    assert re.search(r'<meta name="description" content="[^"]{20,}"', html)
    for prop in ("og:title", "og:description", "og:url", "og:image"):
        assert f'property="{prop}"' in html
    assert '<html lang="en"' in html
    assert 'href="#main"' in html  # the skip link


@pytest.mark.parametrize("path", ["/services", "/about", "/legal", "/privacy"])
def test_every_page_is_linked_from_navigation_or_footer(client, path):
    home = client.get("/").get_data(as_text=True)
    assert f'href="{path}"' in home


def test_legal_notice_names_publisher_and_host(client):
    # Thousands are grouped with a narrow no-break space (U+202F, &#8239; in HTML).
    html = client.get("/legal").get_data(as_text=True).replace("&#8239;", " ")
    for fact in (
        "908 323 652",
        "Chambéry",
        "50 000",
        "19 Boulevard de la mer Caspienne",
        "Alexandre Desoubeaux",
        "OVH",
        "2 rue Kellermann",
        "424 761 419",
        "09 72 10 10 07",
    ):
        assert fact in html, fact


def test_privacy_policy_states_retention_rights_and_cnil(client):
    html = client.get("/privacy").get_data(as_text=True)
    for fact in (
        "3 years",
        "10 years",
        "1 year",
        "privacy@weprode.com",
        "3 Place de Fontenoy",
        "<table",
    ):
        assert fact in html, fact
    assert re.search(r"cookie", html, re.IGNORECASE)


def test_robots_txt_points_to_sitemap_and_keeps_crawlers_out_of_private_urls(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "Sitemap: http://localhost/sitemap.xml" in text
    assert "Disallow: /admin" in text
    assert "Disallow: /unsubscribe/" in text
    assert "Disallow: /newsletter/manage/" in text


def test_sitemap_lists_public_pages_with_absolute_urls(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    xml = response.get_data(as_text=True)
    for path in PAGES:
        assert f"<loc>http://localhost{path}</loc>" in xml


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data[:4] == b"\x00\x00\x01\x00"  # the ICO signature


def test_unknown_page_gets_styled_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html
    assert 'href="/legal"' in html  # rendered inside the site layout


def test_wrong_method_gets_styled_405(client):
    response = client.post("/about")
    assert response.status_code == 405
    assert "not allowed" in response.get_data(as_text=True)


def test_oversized_body_gets_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = client.post("/about", data={"x": "y" * 500})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_unexpected_error_gets_500_page_without_traceback(app_config, tmp_path):
    from weprode import create_app

    app_config["TESTING"] = False
    app_config["DEBUG"] = False
    app_config["PUBLIC_URL"] = "https://localhost"  # production refuses http
    app = create_app(app_config, instance_path=tmp_path / "i")

    @app.get("/__boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/__boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "secret internal detail" not in html
    assert "Traceback" not in html


def test_page_cache_keeps_languages_apart(client):
    english = client.get("/about").get_data(as_text=True)
    french = client.get("/about?lang=fr").get_data(as_text=True)
    again = client.get("/about").get_data(as_text=True)
    assert '<html lang="en"' in english and '<html lang="fr"' in french
    assert again == english


def test_footer_form_of_a_cached_page_names_that_page(client):
    client.get("/about")
    html = client.get("/services").get_data(as_text=True)
    assert 'name="source_page" type="hidden" value="/services"' in html


def language_links(html):
    """The language switch's hrefs, by language."""
    return dict(
        (code, href) for href, code in re.findall(r'<a href="([^"]*)" lang="([a-z]+)"', html)
    )


def page_links(html):
    """Every URL the page gives: hrefs, canonical and alternates, og:url, form actions."""
    return re.findall(r'(?:href|content|action)="([^"]*)"', html)


def test_query_junk_is_never_echoed_nor_cached(app, client):
    pad = "x" * 3000
    poisoned = client.get(f"/about?lang=fr&utm_source=P0IS0N&pad={pad}").get_data(as_text=True)
    clean = client.get("/about?lang=fr").get_data(as_text=True)

    assert [url for _, url in app.extensions[PAGE_CACHE]] == ["/about?lang=fr"]

    for html in (poisoned, clean):
        assert not any("P0IS0N" in url or pad in url for url in page_links(html))
        assert language_links(html) == {"en": "/about", "fr": "/about?lang=fr"}
        assert '<link rel="canonical" href="http://localhost/about?lang=fr">' in html
    assert clean == poisoned


def test_page_cache_serves_the_canonical_page_to_non_canonical_urls(client):
    client.get("/about?lang=de&utm_campaign=P0IS0N")
    client.get("/about?utm_campaign=P0IS0N")
    english = client.get("/about").get_data(as_text=True)
    assert "P0IS0N" not in english
    assert language_links(english) == {"en": "/about", "fr": "/about?lang=fr"}


def test_language_switch_keeps_only_the_arguments_a_page_reads(client):
    html = client.get("/privacy/request?kind=erase&utm_source=P0IS0N").get_data(as_text=True)
    assert language_links(html) == {
        "en": "/privacy/request?kind=erase",
        "fr": "/privacy/request?kind=erase&amp;lang=fr",
    }
    junk = client.get("/privacy/request?kind=P0IS0N").get_data(as_text=True)
    assert language_links(junk) == {"en": "/privacy/request", "fr": "/privacy/request?lang=fr"}


@pytest.mark.parametrize(
    "path", ["/\\evil.example", "//evil.example", "/\\/evil.example", "/no-such-page"]
)
def test_language_switch_of_an_unknown_path_leads_home(client, path):
    response = client.get("/", environ_overrides={"PATH_INFO": path})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert language_links(html) == {"en": "/", "fr": "/?lang=fr"}
    assert not any("evil" in url or "no-such-page" in url for url in page_links(html))


def test_language_switch_of_a_wrong_method_leads_home(client):
    response = client.post("/about?lang=fr&utm_source=P0IS0N")
    assert response.status_code == 405
    assert language_links(response.get_data(as_text=True)) == {"en": "/", "fr": "/?lang=fr"}
