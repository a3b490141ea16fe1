"""One campaign, two languages: each reader gets their version, footer, `lang` and links.

Mails go through the real SMTP sink; the links in them are followed with the test
client, as a reader's click would.
"""

import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from campaign_helpers import BODY, FRENCH_BODY, add_subscribers, new_campaign, send
from mail_helpers import strict, wire_problems
from newsletter_helpers import html_part, sign_up, text_part

from weprode.campaigns import audiences, compose, freeze, ledger, worker
from weprode.db import connect, utcnow
from weprode.migrations import migrations

READERS = [("ann@example.org", "Ann", "en"), ("luc@example.org", None, "fr")]
BOTH = {"en": ("Weprode news", BODY), "fr": ("Nouvelles de Weprode", FRENCH_BODY)}
SAMPLE = Path(__file__).parent / "samples" / "campaigns_0019.sql"


def received(app, db, mailbox, versions, audience="all"):
    """Send a campaign with `versions` to the two readers; {reader language: (message, raw)}."""
    add_subscribers(app, db, READERS)
    campaign_id = new_campaign(db, language=audience, versions=versions)
    assert send(app, db, campaign_id) == "sent"
    mailbox.wait_for(2)
    by_address = {}
    for raw in mailbox.raw:
        message = strict(raw)
        by_address[message["To"]] = (message, raw)
    return {language: by_address[email] for email, _, language in READERS}


def links(message):
    """Every http link of the HTML part and of the text part, and List-Unsubscribe's."""
    html = html_part(message).replace("&amp;", "&")
    found = set(re.findall(r'href="(http[^"]+)"', html))
    found |= set(re.findall(r"http://localhost/\S+", text_part(message)))
    found.add(re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1))
    return found


def html_lang(message):
    return re.search(r'<html lang="([^"]+)">', html_part(message)).group(1)


def test_each_reader_gets_their_version_footer_lang_and_links(app, db, mailbox):
    mails = received(app, db, mailbox, BOTH)
    english, english_raw = mails["en"]
    french, french_raw = mails["fr"]
    assert english["Subject"] == "Weprode news"
    assert french["Subject"] == "Nouvelles de Weprode"
    assert "Hello Ann," in text_part(english) and "Bonjour à vous," in text_part(french)
    assert "<strong>nouveau guide</strong>" in html_part(french)
    assert "You receive this e-mail" in text_part(english)
    assert "Vous recevez cet e-mail" in text_part(french)
    assert "Se désabonner de ce thème en un clic" in html_part(french)
    assert "Unsubscribe from this topic in one click" not in html_part(french) + text_part(french)
    assert (html_lang(english), html_lang(french)) == ("en", "fr")
    assert ' lang="en"' not in html_part(french)  # the content is French too
    # Every link opens pages in the reader's language; English is the default (no ?lang=).
    assert links(english) and not any("lang=" in link for link in links(english))
    assert links(french) and all(link.endswith("?lang=fr") for link in links(french))
    assert any("/privacy?lang=fr" in link for link in links(french))
    assert wire_problems(english_raw) == [] and wire_problems(french_raw) == []


def test_the_opt_out_page_opened_from_a_french_mail_is_french(app, db, mailbox, client):
    french, _ = received(app, db, mailbox, {"en": BOTH["en"]})["fr"]
    url = re.fullmatch(r"<http://localhost(/unsubscribe/\S+)>", french["List-Unsubscribe"])
    page = client.get(url.group(1))
    assert page.status_code == 200
    assert '<html lang="fr"' in page.get_data(as_text=True)
    # The page's button posts in French and the result page is French too.
    action = re.search(r'<form[^>]*action="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert action.replace("&amp;", "&") == url.group(1)
    done = client.post(action.replace("&amp;", "&"))
    assert done.status_code == 200 and '<html lang="fr"' in done.get_data(as_text=True)
    assert db.execute("SELECT status FROM subscribers WHERE language = 'fr'").fetchone()[0] == (
        "churned"
    )


def test_a_reader_gets_the_other_version_when_theirs_is_not_written(app, db, mailbox):
    french, _ = received(app, db, mailbox, {"en": BOTH["en"]})["fr"]
    assert french["Subject"] == "Weprode news"
    html, text = html_part(french), text_part(french)
    assert "Hello there," in text  # the English version's own default
    # Their frame, footer and links stay French; the content says it is English.
    assert html_lang(french) == "fr" and '<td class="content" lang="en"' in html
    assert "Vous recevez cet e-mail" in text
    assert all(link.endswith("?lang=fr") for link in links(french))


def test_an_english_reader_of_a_french_only_campaign_gets_it_with_an_english_footer(
    app, db, mailbox
):
    english, raw = received(app, db, mailbox, {"fr": BOTH["fr"]})["en"]
    assert english["Subject"] == "Nouvelles de Weprode"
    assert "Bonjour Ann," in text_part(english)
    assert html_lang(english) == "en" and '<td class="content" lang="fr"' in html_part(english)
    assert "You receive this e-mail" in text_part(english)
    assert wire_problems(raw) == []


def test_confirmation_mails_link_to_pages_in_the_requested_language(client, mailbox):
    sign_up(client, email="new@example.org", first_name="Luc", language="fr")
    [message] = mailbox.wait_for(1)
    found = set(re.findall(r"http://localhost/\S+", text_part(message)))
    assert found and all(link.endswith("?lang=fr") for link in found)


def test_audience_counts_say_who_gets_which_version(app, db):
    add_subscribers(
        app,
        db,
        [
            ("e1@example.org", None, "en"),
            ("e2@example.org", None, "en"),
            ("f1@example.org", None, "fr"),
        ],
    )
    db.execute("UPDATE subscribers SET status = 'churned' WHERE email = 'e2@example.org'")
    assert audiences.counts(db, "all", ("en", "fr")) == {
        "en": {"own": 1, "fallback": 0, "total": 1},
        "fr": {"own": 1, "fallback": 0, "total": 1},
        "all": {"total": 2},
    }
    only_english = audiences.counts(db, "all", ("en",))
    assert only_english["en"] == {"own": 1, "fallback": 1, "total": 2}
    assert only_english["fr"]["total"] == 0
    assert audiences.counts(db, "fr", ("en",))["en"] == {"own": 0, "fallback": 1, "total": 1}
    assert audiences.counts(db, "en", ("en", "fr"))["all"] == {"total": 1}


def test_a_campaign_without_an_audience_is_never_sent(app, db, mailbox):
    add_subscribers(app, db, READERS)
    campaign_id = new_campaign(db, language=None, versions={"en": ("News", BODY)})
    with pytest.raises(ledger.AudienceNotChosen, match="Choose the audience"):
        freeze.start(db, campaign_id, utcnow())
    with pytest.raises(ledger.AudienceNotChosen):
        ledger.schedule(db, campaign_id, utcnow().replace(year=2999), utcnow())
    assert ledger.get(db, campaign_id)["status"] == "draft"
    assert db["deliveries"].count == 0
    with pytest.raises(compose.CampaignInvalid) as refused:
        compose.set_audience(db, campaign_id, "everyone", utcnow())
    assert "Unknown audience" in refused.value.errors["audience"]


def test_versions_are_validated_each_beside_its_own_fields(db):
    with pytest.raises(compose.CampaignInvalid) as refused:
        compose.create(
            db,
            versions={
                "en": compose.Version("", "", "Hello {{ nom }}"),
                "fr": compose.Version("Bonjour", "", ""),
            },
            audience="all",
            author="t",
            now=utcnow(),
        )
    errors = refused.value.errors
    assert set(errors) == {"en-subject", "en-body_markdown", "fr-body_markdown"}
    assert "Unknown placeholder nom" in errors["en-body_markdown"]
    with pytest.raises(compose.CampaignInvalid) as refused:
        compose.create(
            db, versions={"en": compose.Version()}, audience="all", author="t", now=utcnow()
        )
    assert set(refused.value.errors) == {"versions"}
    assert db["campaigns"].count == 0


def test_cli_needs_an_audience_and_says_how_to_give_one(app, db, runner, mailbox, tmp_path):
    add_subscribers(app, db, READERS)
    body = tmp_path / "body.md"
    body.write_text(FRENCH_BODY, encoding="utf-8")
    missing = runner.invoke(
        args=["campaigns", "create", "--fr-subject", "x", "--fr-body-file", body]
    )
    assert missing.exit_code == 2 and "--audience" in missing.output
    # A draft without one (made in the staff area) is refused at send, with the fix.
    campaign_id = new_campaign(db, language=None, versions={"fr": ("Nouvelles", FRENCH_BODY)})
    refused = runner.invoke(args=["campaigns", "send", str(campaign_id)])
    assert refused.exit_code == 1
    assert "Choose the audience" in refused.output and "--audience all|fr|en" in refused.output
    sent = runner.invoke(args=["campaigns", "send", str(campaign_id), "--audience", "all"])
    assert sent.exit_code == 0, sent.output
    assert "2 get the French version (1 in their language, 1 as a fallback)" in sent.output
    assert len(mailbox.wait_for(2)) == 2


def load_sample(path):
    """A database file holding the sample made by the code before campaign versions."""
    connection = sqlite3.connect(path)
    connection.executescript(SAMPLE.read_text(encoding="utf-8"))
    connection.close()
    return connect(path)


def test_migration_keeps_each_campaign_as_the_version_of_its_language(tmp_path):
    db = load_sample(tmp_path / "old.sqlite3")
    before = {row["id"]: row for row in db.query("SELECT * FROM campaigns")}
    assert {row["language"] for row in before.values()} == {"all", "en", "fr"}
    # The lead's migrations of the same time (archive, deliverability, imports, pacing,
    # bounces) come first; versions come last and drop the campaign columns.
    migrations.apply(db, stop_before="0025_campaign_versions")
    assert [m.name for m in migrations.pending(db)][0] == "0025_campaign_versions"
    migrations.apply(db, stop_before="0026_topics")
    assert [m.name for m in migrations.pending(db)][0] == "0026_topics"
    versions = {
        (row["campaign_id"], row["language"]): row
        for row in db.query("SELECT * FROM campaign_versions")
    }
    assert set(versions) == {
        (campaign_id, "fr" if row["language"] == "fr" else "en")
        for campaign_id, row in before.items()
    }
    for (campaign_id, _), version in versions.items():
        old = before[campaign_id]
        assert (version["subject"], version["preheader"], version["body_markdown"]) == (
            old["subject"],
            old["preheader"],
            old["body_markdown"],
        )
    after = {row["id"]: row for row in db.query("SELECT * FROM campaigns")}
    for campaign_id, row in after.items():
        old = before[campaign_id]
        kept = {k: v for k, v in old.items() if k not in ("subject", "preheader", "body_markdown")}
        del kept["language"]
        assert {k: v for k, v in row.items() if k not in ("audience", "topic_id")} == kept
        # A draft to 'all' was the old editor's default: staff now choose.
        expected = None if (old["status"], old["language"]) == ("draft", "all") else old["language"]
        assert row["audience"] == expected, old
    assert db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 2
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_migrated_campaigns_render_and_the_sent_one_keeps_its_figures(tmp_path, make_app, mailbox):
    path = tmp_path / "old.sqlite3"
    load_sample(path).close()
    app = make_app(DATABASE=str(path))
    db = connect(path)
    scheduled = db.execute("SELECT id FROM campaigns WHERE status = 'scheduled'").fetchone()[0]
    sent = db.execute("SELECT id FROM campaigns WHERE status = 'sent'").fetchone()[0]
    assert ledger.figures(db, sent)["sent"] == 2
    with app.app_context():
        db.execute(
            "UPDATE campaigns SET scheduled_at = NULL, status = 'draft' WHERE id = ?", [scheduled]
        )
        assert freeze.start(db, scheduled, utcnow()) == 4  # 'all' kept: every active reader
    assert send(app, db, scheduled, start=False) == "sent"
    mails = {message["To"]: message for message in mailbox.wait_for(4)}
    zoe = mails["zoe@example.org"]
    assert zoe["Subject"] == "Scheduled for all" and html_lang(zoe) == "fr"
    assert all(link.endswith("?lang=fr") for link in links(zoe))
    db.close()


def test_a_scheduled_campaign_whose_audience_is_gone_goes_back_to_draft(app, db, mailbox):
    add_subscribers(app, db, READERS)
    gone, kept = new_campaign(db), new_campaign(db)
    for campaign_id in (gone, kept):
        ledger.schedule(db, campaign_id, utcnow() + timedelta(minutes=1), utcnow())
    db.execute("UPDATE campaigns SET audience = 'topic:removed' WHERE id = ?", [gone])
    with app.app_context():
        assert worker.run_once(db, utcnow() + timedelta(minutes=2)) is True
    assert ledger.get(db, gone)["status"] == "draft"
    assert ledger.recipients(db, gone) == 0
    assert ledger.get(db, kept)["status"] == "sent"
    assert len(mailbox.wait_for(2)) == 2


LINKS_BODY = """Read [our services](http://localhost/services), [the French page](http://localhost/about?lang=fr),
the [logo](http://localhost/static/img/logo.svg), [a partner](https://example.org/page)
and <http://localhost/contact?topic=cloud>.
"""


def test_links_to_our_pages_in_the_body_open_them_in_the_readers_language(app, db, mailbox):
    mails = received(app, db, mailbox, {"en": ("News", LINKS_BODY)})
    english, french = mails["en"][0], mails["fr"][0]
    for part in (html_part(french).replace("&amp;", "&"), text_part(french)):
        assert "http://localhost/services?lang=fr" in part
        assert "http://localhost/contact?topic=cloud&lang=fr" in part
        assert "http://localhost/about?lang=fr" in part and "lang=fr&lang" not in part
        assert "http://localhost/static/img/logo.svg" in part and "logo.svg?" not in part
        assert "https://example.org/page" in part and "page?lang" not in part
    for part in (html_part(english), text_part(english)):
        assert "http://localhost/services" in part and "services?lang" not in part
        assert "cloud&amp;lang" not in part and "cloud&lang" not in part
