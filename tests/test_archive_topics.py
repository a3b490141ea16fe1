"""The archive per topic: the list names each issue's topic and filters by it, an Atom
feed per topic and language (read by an independent parser, feedparser), and each
topic's archive page in the sitemap."""

import xml.etree.ElementTree as ET

import feedparser
import pytest
from campaign_helpers import add_subscribers, new_campaign, send

from weprode.campaigns import archive
from weprode.db import utcnow
from weprode.newsletter import subscriptions, topics

EVENTS = {
    "slug": "events",
    "name_en": "Events and webinars",
    "name_fr": "Événements et webinaires",
    "description_en": "",
    "description_fr": "",
    "public": True,
}


@pytest.fixture
def issues(app, db, mailbox):
    """Published: a main-topic issue in both languages, an English and a French events
    issue; a fourth events issue sent but not published. Returns {name: id}."""
    with app.test_request_context():
        events = topics.create(db, EVENTS, "staff@weprode.com", utcnow())
    people = add_subscribers(
        app, db, [("ann@example.org", "Ann", "en"), ("zoe@example.org", "Zoé", "fr")]
    )
    with app.app_context():
        for person in people:
            subscriptions.join(db, person, [events], utcnow())
    made = {
        "main": new_campaign(
            db,
            subject="Autumn news",
            versions={
                "en": ("Autumn news", '# Autumn\n\nHello {{ first_name | default("reader") }}.'),
                "fr": ("Nouvelles d’automne", "# Automne\n\nBonjour."),
            },
        ),
        "webinar": new_campaign(db, "en", "Webinar on 3 March", topic_id=events),
        "salon": new_campaign(db, "fr", "Salon Educatice", topic_id=events),
        "hidden": new_campaign(db, "en", "Not published", topic_id=events),
    }
    for name, campaign_id in made.items():
        send(app, db, campaign_id)
        if name != "hidden":
            with app.app_context():
                archive.publish(db, campaign_id, "staff@weprode.com", utcnow())
    return made


def parsed(client, path):
    """The feed at `path`, parsed by feedparser, which must find nothing wrong with it."""
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    assert "Set-Cookie" not in response.headers
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_each_entry_names_its_topic_and_the_filter_keeps_one(client, issues):
    html = client.get("/newsletter/archive").get_data(as_text=True)
    assert "Autumn news" in html and "Webinar on 3 March" in html
    assert "Salon Educatice" not in html and "Not published" not in html
    listed = html.split('class="archive-list"')[1]
    assert listed.count('<span class="archive-topic">Newsletter</span>') == 1
    assert listed.count('<span class="archive-topic">Events and webinars</span>') == 1
    assert 'href="/newsletter/archive?topic=events"' in html  # the topic filter
    only = client.get("/newsletter/archive?topic=events").get_data(as_text=True)
    assert "Webinar on 3 March" in only and "Autumn news" not in only
    assert "<h1>Newsletter archive: Events and webinars</h1>" in only
    assert '<link rel="canonical" href="http://localhost/newsletter/archive?topic=events">' in only
    assert 'href="/newsletter/archive/feed.atom?topic=events"' in only
    french = client.get("/newsletter/archive?topic=events&lang=fr").get_data(as_text=True)
    assert "Salon Educatice" in french and "Webinar" not in french
    assert '<span class="archive-topic">Événements et webinaires</span>' in french
    page = client.get(f"/newsletter/archive/{issues['salon']}?lang=fr").get_data(as_text=True)
    assert (
        'href="/newsletter/archive?topic=events&amp;lang=fr">Événements et webinaires</a>' in page
    )


def test_an_unknown_topic_is_a_404_with_a_message(client, issues):
    for path in ("/newsletter/archive?topic=nothing", "/newsletter/archive/feed.atom?topic=x"):
        response = client.get(path)
        assert response.status_code == 404
        assert "No topic of our newsletter has this name." in response.get_data(as_text=True)


def test_every_feed_per_topic_and_language_parses_with_feedparser(client, issues):
    expected = {
        "": ["Webinar on 3 March", "Autumn news"],
        "?lang=fr": ["Salon Educatice", "Nouvelles d’automne"],
        "?topic=events": ["Webinar on 3 March"],
        "?topic=events&lang=fr": ["Salon Educatice"],
        "?topic=newsletter": ["Autumn news"],
        "?topic=newsletter&lang=fr": ["Nouvelles d’automne"],
    }
    for query, titles in expected.items():
        feed = parsed(client, f"/newsletter/archive/feed.atom{query}")
        assert [entry.title for entry in feed.entries] == titles, query
        assert feed.feed.updated_parsed is not None
        assert feed.feed.language == ("fr" if "lang=fr" in query else "en")
        self_link = next(link.href for link in feed.feed.links if link.rel == "self")
        assert self_link == "http://localhost/newsletter/archive/feed.atom" + query
        for entry in feed.entries:
            assert entry.link.startswith("http://localhost/newsletter/archive/")
            assert entry.id == entry.link
            assert entry.updated_parsed is not None and entry.published_parsed is not None
            assert entry.tags[0].term in ("events", "newsletter")
            assert (
                "Ann" not in entry.content[0].value
                and "/unsubscribe/" not in entry.content[0].value
            )
    events = parsed(client, "/newsletter/archive/feed.atom?topic=events&lang=fr")
    assert events.feed.title == "Lettre d’information de Weprode – Événements et webinaires"
    assert events.entries[0].tags[0].label == "Événements et webinaires"
    assert (
        events.entries[0].link == f"http://localhost/newsletter/archive/{issues['salon']}?lang=fr"
    )


def test_an_empty_topic_feed_still_parses(app, db, client):
    with app.test_request_context():
        topics.create(db, EVENTS, "staff@weprode.com", utcnow())
    feed = parsed(client, "/newsletter/archive/feed.atom?topic=events")
    assert feed.entries == [] and feed.feed.updated_parsed is not None


def test_the_sitemap_lists_each_topic_page_in_the_languages_it_has(client, issues):
    xml = client.get("/sitemap.xml").get_data(as_text=True)
    ET.fromstring(xml)
    for loc in (
        "http://localhost/newsletter/archive?topic=events",
        "http://localhost/newsletter/archive?topic=events&amp;lang=fr",
        "http://localhost/newsletter/archive?topic=newsletter",
        "http://localhost/newsletter/archive?topic=newsletter&amp;lang=fr",
    ):
        assert f"<loc>{loc}</loc>" in xml
