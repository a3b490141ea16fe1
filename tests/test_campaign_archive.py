"""The public archive: staff publish a sent campaign; anyone reads it without a name, a
token or a cookie, per language, in pages, an Atom feed and the sitemap."""

import re
import xml.etree.ElementTree as ET

import pytest
from campaign_helpers import add_subscribers, new_campaign, send
from staff_helpers import csrf_token

from weprode.campaigns import archive
from weprode.db import utcnow

ATOM = "{http://www.w3.org/2005/Atom}"
ISSUE_LINK = re.compile(r'href="/newsletter/archive/\d+"')
PERSONAL_BODY = """# Autumn news

Hello {{ first_name | default("reader") }} ({{ email }}),

Read [our hosting choices](https://weprode.com/privacy) & more <script>alert(1)</script>.
"""


def sent_campaign(
    app, db, language="en", subject="Autumn news", body=PERSONAL_BODY, french_subject=None
):
    """A campaign sent through the sink to one subscriber named Zoé.

    Its one version is in `language` ('en' or 'fr'); with `french_subject`, it goes to
    all subscribers with an English version (`subject`) and a French one.
    """
    add_subscribers(app, db, [(f"zoe-{subject[:3]}-{language}@example.org", "Zoé", "fr")])
    versions = None
    if french_subject:
        language, versions = "all", {"en": (subject, body), "fr": (french_subject, body)}
    campaign_id = new_campaign(db, language, subject, body, versions=versions)
    send(app, db, campaign_id)
    return campaign_id


def publish(app, db, campaign_id):
    with app.app_context():
        return archive.publish(db, campaign_id, "marketing@weprode.com", utcnow())


def test_staff_publish_a_sent_campaign_and_take_it_off_again(app, db, staff_client, mailbox):
    campaign_id = sent_campaign(app, db)
    page = f"/admin/campaigns/{campaign_id}"
    assert "Publish on the archive" in staff_client.get(page).get_data(as_text=True)
    token = csrf_token(staff_client, page)
    response = staff_client.post(f"{page}/publish", data={"csrf_token": token})
    assert response.status_code == 302
    assert archive.is_published(db, campaign_id)
    html = staff_client.get(page).get_data(as_text=True)
    assert "Published on the public archive." in html
    assert "Take it off the archive" in html
    actions = [row["action"] for row in db.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "campaign_publish"
    staff_client.post(f"{page}/unpublish", data={"csrf_token": token})
    assert not archive.is_published(db, campaign_id)
    assert staff_client.get(f"/newsletter/archive/{campaign_id}").status_code == 404


def test_a_campaign_not_sent_cannot_be_published(app, db, staff_client):
    draft = new_campaign(db, language="en")
    page = f"/admin/campaigns/{draft}"
    response = staff_client.post(
        f"{page}/publish", data={"csrf_token": csrf_token(staff_client, page)}
    )
    assert response.status_code == 302
    assert "Only a sent campaign can be published." in staff_client.get(page).get_data(as_text=True)
    assert not archive.is_published(db, draft)
    with pytest.raises(archive.NotPublishable):
        publish(app, db, draft)


def test_publishing_needs_the_csrf_token(app, db, staff_client, mailbox):
    campaign_id = sent_campaign(app, db)
    response = staff_client.post(f"/admin/campaigns/{campaign_id}/publish")
    assert response.status_code == 400
    assert not archive.is_published(db, campaign_id)


def test_publishing_twice_keeps_the_first_date(app, db, mailbox):
    campaign_id = sent_campaign(app, db)
    assert publish(app, db, campaign_id)
    first = db.execute("SELECT published_at FROM archived_campaigns").fetchone()[0]
    assert not publish(app, db, campaign_id)
    assert db.execute("SELECT published_at FROM archived_campaigns").fetchone()[0] == first


def test_the_public_page_names_nobody_and_carries_no_link_of_anyone(app, db, client, mailbox):
    campaign_id = sent_campaign(app, db)
    publish(app, db, campaign_id)
    response = client.get(f"/newsletter/archive/{campaign_id}")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert "Hello reader ()," in html
    assert "Zoé" not in html and "zoe-" not in html
    assert "/unsubscribe/" not in html and "/newsletter/manage/" not in html
    assert '<a href="https://weprode.com/privacy"' in html
    assert "<script>alert" not in html  # raw HTML in the Markdown stays text
    assert "<title>Autumn news – Weprode</title>" in html
    assert '<link rel="alternate" hreflang="fr"' not in html  # English only: no French URL


def test_each_language_lists_what_it_can_read(app, db, client, mailbox):
    english = sent_campaign(app, db, "en", subject="English only")
    french = sent_campaign(app, db, "fr", subject="Seulement en français")
    everyone = sent_campaign(app, db, subject="For everyone", french_subject="Pour tous")
    unpublished = sent_campaign(app, db, subject="Never published", french_subject="Jamais")
    for campaign_id in (english, french, everyone):
        publish(app, db, campaign_id)
    en = client.get("/newsletter/archive").get_data(as_text=True)
    fr = client.get("/newsletter/archive?lang=fr").get_data(as_text=True)
    assert "English only" in en and "For everyone" in en and "Seulement" not in en
    assert "Pour tous" not in en
    assert "Seulement en français" in fr and "Pour tous" in fr and "English only" not in fr
    assert "For everyone" not in fr  # each page language lists its own version's subject
    assert "Never published" not in en + fr and "Jamais" not in en + fr
    # An issue in both languages reads in the page's language, each with its alternates.
    both = client.get(f"/newsletter/archive/{everyone}?lang=fr").get_data(as_text=True)
    assert "<title>Pour tous – Weprode</title>" in both
    assert '<link rel="alternate" hreflang="en"' in both
    assert '<link rel="alternate" hreflang="fr"' in both
    # The language switch on a French-only issue shows it in an English page (as the
    # mail showed it to English readers), not indexed: the French page is canonical.
    switched = client.get(f"/newsletter/archive/{french}").get_data(as_text=True)
    assert "This issue was written in French only." in switched
    assert '<meta name="robots" content="noindex">' in switched
    assert (
        f'rel="canonical" href="http://localhost/newsletter/archive/{french}?lang=fr"' in switched
    )
    assert client.get(f"/newsletter/archive/{french}?lang=fr").status_code == 200
    assert client.get(f"/newsletter/archive/{unpublished}").status_code == 404


def test_the_list_pages_by_twenty_newest_first(app, db, client, mailbox):
    ids = [sent_campaign(app, db, "en", subject=f"Issue {n:02d}") for n in range(23)]
    for campaign_id in ids:
        publish(app, db, campaign_id)
    first = client.get("/newsletter/archive").get_data(as_text=True)
    assert len(ISSUE_LINK.findall(first)) == 20
    assert first.index("Issue 22") < first.index("Issue 21")
    assert "Issue 02" not in first
    next_link = first.split('href="/newsletter/archive?after=', 1)[1].split('"', 1)[0]
    second = client.get("/newsletter/archive?after=" + next_link.replace("&amp;", "&"))
    html = second.get_data(as_text=True)
    assert len(ISSUE_LINK.findall(html)) == 3
    assert "Issue 00" in html and "Issue 03" not in html
    # A malformed cursor is the first page, never an error.
    assert client.get("/newsletter/archive?after=nonsense|x").status_code == 200


def test_the_atom_feed_is_well_formed_and_per_language(app, db, client, mailbox):
    english = sent_campaign(app, db, "en", subject="Rock & roll <news>")
    publish(app, db, english)
    publish(app, db, sent_campaign(app, db, "fr", subject="Nouvelles"))
    response = client.get("/newsletter/archive/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert "Set-Cookie" not in response.headers
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Rock & roll <news>"]
    entry = entries[0]
    assert entry.find(f"{ATOM}id").text == f"http://localhost/newsletter/archive/{english}"
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert "<h1>Autumn news</h1>" in content.text  # HTML carried as escaped text
    french = ET.fromstring(client.get("/newsletter/archive/feed.atom?lang=fr").data)
    assert [e.find(f"{ATOM}title").text for e in french.findall(f"{ATOM}entry")] == ["Nouvelles"]
    assert "Zoé" not in response.get_data(as_text=True)


def test_an_empty_archive_has_a_valid_feed_and_says_so(client):
    feed = ET.fromstring(client.get("/newsletter/archive/feed.atom").data)
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.find(f"{ATOM}updated").text
    assert "No issue has been published yet." in client.get("/newsletter/archive").get_data(
        as_text=True
    )


def test_the_sitemap_lists_each_issue_in_its_languages(app, db, client, mailbox):
    english = sent_campaign(app, db, "en", subject="English only")
    everyone = sent_campaign(app, db, subject="For everyone", french_subject="Pour tous")
    publish(app, db, english)
    publish(app, db, everyone)
    xml = client.get("/sitemap.xml").get_data(as_text=True)
    assert "<loc>http://localhost/newsletter/archive</loc>" in xml
    assert f"<loc>http://localhost/newsletter/archive/{english}</loc>" in xml
    assert f"<loc>http://localhost/newsletter/archive/{english}?lang=fr</loc>" not in xml
    assert f"<loc>http://localhost/newsletter/archive/{everyone}?lang=fr</loc>" in xml
    ET.fromstring(xml)  # still well-formed
