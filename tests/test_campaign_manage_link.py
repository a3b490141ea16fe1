"""Every campaign mail carries the reader's own "Manage my subscription" link, in their
language; a staff test mail's is inert."""

import re

from campaign_helpers import add_subscribers, new_campaign, send
from newsletter_helpers import html_part, text_part

from weprode.newsletter import subscribers

MANAGE = re.compile(r"http://localhost(/newsletter/manage/[^\s\"<]+)")


def test_each_reader_gets_their_own_preference_link_in_their_language(app, db, client, mailbox):
    ann, luc = add_subscribers(
        app, db, [("ann@example.org", "Ann", "en"), ("luc@example.org", "Luc", "fr")]
    )
    send(app, db, new_campaign(db, language="all"))
    messages = {m["To"]: m for m in mailbox.wait_for(2)}
    english, french = messages["ann@example.org"], messages["luc@example.org"]
    assert (
        "Manage my subscription (topics, name, language): http://localhost/newsletter/manage/"
        in (text_part(english))
    )
    assert (
        "Gérer mon abonnement (thèmes, prénom, langue)\u00a0: http://localhost/newsletter/manage/"
        in (text_part(french))
    )
    [english_link] = set(MANAGE.findall(text_part(english)))
    [french_link] = set(MANAGE.findall(text_part(french)))
    assert french_link.endswith("?lang=fr") and "lang=" not in english_link
    assert french_link.replace("&amp;", "&") in html_part(french).replace("&amp;", "&")
    # Each link opens that reader's own page, and saving there changes only them.
    page = client.get(french_link).get_data(as_text=True)
    assert '<html lang="fr">' in page and 'value="Luc"' in page
    client.post(french_link, data={"first_name": "Lucien", "language": "fr", "topics": "1"})
    assert subscribers.get(db, luc)["first_name"] == "Lucien"
    assert subscribers.get(db, ann)["first_name"] == "Ann"
    assert 'value="Ann"' in client.get(english_link).get_data(as_text=True)
