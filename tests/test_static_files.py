"""Static URLs carry their content's fingerprint and are cached for a year; no cookie varies."""

import re

import pytest

from weprode.site.views import sitemap_endpoints
from weprode.static_files import EXTENSION_KEY, FINGERPRINT_LENGTH, file_fingerprint

STATIC_URL = re.compile(r"""["'](?:https?://[^/"']+)?(/static/[^"'\s]+)["']""")
IMMUTABLE = "public, max-age=31536000, immutable"


def static_urls(html):
    """Every /static/... URL quoted in a page, entities decoded."""
    return [url.replace("&amp;", "&") for url in STATIC_URL.findall(html)]


def public_pages(app):
    with app.test_request_context():
        from flask import url_for

        return [url_for(endpoint) for endpoint in sitemap_endpoints()]


def test_every_static_url_in_every_page_is_fingerprinted_and_cached_for_a_year(app, staff_client):
    pages = [page + suffix for page in public_pages(app) for suffix in ("", "?lang=fr")]
    pages += ["/admin/", "/admin/campaigns", "/does-not-exist"]
    seen = set()
    for page in pages:
        response = staff_client.get(page)
        urls = static_urls(response.get_data(as_text=True))
        assert urls, page
        for url in urls:
            assert re.search(rf"\?v=[0-9a-f]{{{FINGERPRINT_LENGTH}}}$", url), (page, url)
            seen.add(url)
    assert any("site.css" in url for url in seen)
    for url in seen:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == IMMUTABLE, url


def test_the_fingerprint_is_the_files_content(app):
    with app.test_request_context():
        from flask import url_for

        url = url_for("static", filename="css/site.css")
    expected = file_fingerprint(app.static_folder, "css/site.css")
    assert url == f"/static/css/site.css?v={expected}"


def test_new_bytes_make_a_new_url_and_the_old_one_is_no_longer_immutable(make_app, tmp_path):
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "site.css").write_text("body { color: black; }")

    def started_app():
        application = make_app()
        application.static_folder = str(folder)
        return application

    def css_url(application):
        with application.test_request_context():
            from flask import url_for

            return url_for("static", filename="site.css")

    before = started_app()
    old_url = css_url(before)
    (folder / "site.css").write_text("body { color: navy; }")
    # The fingerprint is computed once per process: a deployment restarts the app.
    assert css_url(before) == old_url
    after = started_app()
    new_url = css_url(after)

    assert new_url != old_url
    client = after.test_client()
    assert client.get(new_url).headers["Cache-Control"] == IMMUTABLE
    stale = client.get(old_url)
    assert stale.get_data(as_text=True) == "body { color: navy; }"
    assert stale.headers["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("query", ["", "?v=0000000000000000", "?v="])
def test_a_static_url_without_the_current_fingerprint_gets_a_short_cache(client, query):
    response = client.get(f"/static/css/site.css{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"


def test_a_missing_static_file_is_a_plain_404_without_a_fingerprint(app, client):
    with app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="css/nothing.css") == "/static/css/nothing.css"
    response = client.get("/static/css/nothing.css")
    assert response.status_code == 404
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_public_pages_and_static_files_never_vary_on_or_set_a_cookie(app, staff_client):
    # The staff client sends its session cookie everywhere (a replayed cookie would too).
    css = static_urls(staff_client.get("/").get_data(as_text=True))
    urls = [*public_pages(app), "/?lang=fr", "/static/css/site.css", *css, "/favicon.ico"]
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert "Cookie" not in response.headers.get("Vary", ""), url
        assert "Set-Cookie" not in response.headers, url


def test_staff_pages_still_vary_on_the_cookie(staff_client):
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    assert "Cookie" in response.headers.get("Vary", "")
    assert response.headers["Cache-Control"] == "no-store"


def test_other_spellings_of_a_file_name_are_not_remembered(app, client):
    fingerprint = file_fingerprint(app.static_folder, "css/site.css")
    for spelling in ("css//site.css", "css/./site.css", "img/../css/site.css"):
        response = client.get(f"/static/{spelling}?v={fingerprint}")
        assert response.status_code == 200, spelling
        assert response.headers["Cache-Control"] == IMMUTABLE
    assert set(app.extensions.get(EXTENSION_KEY, {})) <= {"css/site.css"}
