"""What French law and the GDPR require the legal notice, the privacy policy and the
article 15 copy to say, and that the page and the copy say the same."""

import pytest

from weprode.db import utcnow
from weprode.privacy import policy, retention
from weprode.privacy.rights import export


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_legal_notice_shows_phone_and_vat_number_only_when_set(make_app):
    bare = page(make_app().test_client(), "/legal")
    assert "VAT" not in bare
    app = make_app(COMPANY_PHONE="+33 4 79 00 00 00", COMPANY_VAT_NUMBER="FR00908323652")
    html = page(app.test_client(), "/legal")
    assert '<a href="tel:+33479000000">+33 4 79 00 00 00</a>' in html
    assert "FR00908323652" in html
    french = page(app.test_client(), "/legal?lang=fr")
    assert "Numéro de TVA intracommunautaire" in french


@pytest.mark.parametrize("lang", ["", "?lang=fr"])
def test_no_page_claims_the_site_is_hosted_in_france(client, lang):
    for path in ("/legal", "/privacy"):
        html = page(client, path + lang).lower()
        for claim in ("hosted in france", "hébergé en france", "by ovh in france", "ovh en france"):
            assert claim not in html, (path, claim)


def test_privacy_policy_states_each_purpose_with_its_legal_basis(client):
    html = page(client, "/privacy")
    for item in policy.PURPOSES:
        assert str(item.purpose) in html and str(item.legal_basis) in html
    bases = " ".join(str(item.legal_basis) for item in policy.PURPOSES)
    for ground in ("6(1)(a)", "6(1)(b)", "6(1)(c)", "6(1)(f)", "consent", "legitimate interest"):
        assert ground in bases.lower() or ground in bases


def test_privacy_policy_states_rights_decisions_death_and_date(client):
    html = page(client, "/privacy")
    assert "Restriction:" in html
    assert str(policy.WITHDRAW_CONSENT) in html
    assert str(policy.AUTOMATED_DECISIONS) in html
    assert str(policy.POST_MORTEM) in html
    assert '<time datetime="2026-11-29">29 November 2026</time>' in html


def test_french_privacy_policy_is_french(client):
    html = page(client, "/privacy?lang=fr")
    assert "Dernière mise à jour\u00a0:" in html
    assert "29 novembre 2026" in html
    assert "Base légale\u00a0:" in html
    assert "Droit à la limitation du traitement\u00a0:" in html
    assert "article 85" in html


def test_retention_table_lists_the_fingerprint_of_addresses_that_left(client):
    html = page(client, "/privacy")
    rule = retention.RULES_BY_KEY["suppressions"]
    assert str(rule.data) in html and str(rule.period) in html


def test_the_copy_repeats_what_the_page_says(app, db):
    with app.test_request_context():
        document = export.document(db, "nobody@example.org", utcnow(), 1)
    about = document["about_this_processing"]
    assert about["purposes"] == [
        {"purpose": str(item.purpose), "legal_basis": str(item.legal_basis)}
        for item in policy.PURPOSES
    ]
    assert any(right.startswith("Restriction") for right in about["your_rights"])
    assert any("consent" in right for right in about["your_rights"])
    assert about["withdrawing_consent"] == str(policy.WITHDRAW_CONSENT)
    assert about["automated_decision_making"] == str(policy.AUTOMATED_DECISIONS)
    assert about["instructions_after_death"] == str(policy.POST_MORTEM)
    assert about["policy_last_updated"] == "2026-11-29"
    assert "in France" not in about["transfers_outside_the_eu"]
    kept = {row["data"]: row["kept_for"] for row in about["retention"]}
    assert len(kept) == len(retention.RULES)
    assert str(retention.RULES_BY_KEY["suppressions"].data) in kept
    assert kept[str(retention.RULES_BY_KEY["backups"].data)] == "30 days"


def test_the_copy_is_in_the_language_it_was_asked_in(app, db):
    with app.test_request_context("/?lang=fr"):
        about = export.document(db, "nobody@example.org", utcnow(), 1)["about_this_processing"]
    assert about["purposes"][0]["legal_basis"].startswith("Mesures")
    assert "%(days)s" not in str(about["retention"])
