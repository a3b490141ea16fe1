"""The staff area speaks STAFF_LANGUAGE (French here), whatever `?lang=` says.

Public pages keep following `?lang=`; numbers use the language's separators (a narrow
no-break space between thousands in French) and dates its words.
"""

import pytest
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD, log_in

from weprode.config import ConfigError
from weprode.db import connect, utcnow
from weprode.newsletter import subscribers
from weprode.staff import accounts

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"  # no-break space: before French : ; ! ?
FRENCH_NAV = ["Tableau de bord", "Inscrits", "Campagnes", "Prospects", "Demandes"]


@pytest.fixture
def french_app(make_app):
    """An app whose staff area is in French."""
    return make_app(STAFF_LANGUAGE="fr")


@pytest.fixture
def french_db(french_app):
    connection = connect(french_app.config["DATABASE"])
    yield connection
    connection.close()


@pytest.fixture
def french_staff(french_app, french_db):
    """A client signed in to the French staff area."""
    with french_app.app_context():
        accounts.create(french_db, STAFF_EMAIL, STAFF_PASSWORD, utcnow())
    client = french_app.test_client()
    assert log_in(client).status_code == 302
    return client


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def add_subscriber(app, db, email, when, language="fr"):
    with app.app_context():
        subscriber_id, _ = subscribers.add_confirmed(db, email, "test", when, language=language)
    return subscriber_id


def test_staff_pages_use_the_staff_language_whatever_lang_says(french_app):
    client = french_app.test_client()
    for path in ("/admin/login", "/admin/login?lang=en"):
        assert '<html lang="fr">' in page(client, path)
    # Public pages still follow ?lang=, English by default.
    assert '<html lang="en">' in page(client, "/newsletter")
    assert '<html lang="fr">' in page(client, "/newsletter?lang=fr")


def test_english_staff_language_ignores_lang_too(app):
    html = page(app.test_client(), "/admin/login?lang=fr")
    assert '<html lang="en">' in html and "<h1>Staff login</h1>" in html


def test_staff_language_must_be_a_site_language(make_app):
    for wrong in ("de", "FR", "fr_FR", ""):
        with pytest.raises(ConfigError, match="STAFF_LANGUAGE must be one of 'en', 'fr'"):
            make_app(STAFF_LANGUAGE=wrong)
