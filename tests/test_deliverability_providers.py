"""The provider map, and the provider table's folding of small domains."""

import pytest
from campaign_helpers import add_readers_in_bulk, new_campaign

from weprode.campaigns import freeze
from weprode.db import utcnow
from weprode.deliverability import figures
from weprode.deliverability.providers import PROVIDERS, provider_name, provider_of


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("gmail.com", "Gmail"),
        ("GoogleMail.com.", "Gmail"),
        ("hotmail.fr", "Microsoft"),
        ("hotmail.co.uk", "Microsoft"),
        ("outlook.com", "Microsoft"),
        ("live.fr", "Microsoft"),
        ("msn.com", "Microsoft"),
        ("yahoo.fr", "Yahoo/AOL"),
        ("aol.com", "Yahoo/AOL"),
        ("icloud.com", "Apple"),
        ("me.com", "Apple"),
        ("mac.com", "Apple"),
        ("wanadoo.fr", "Orange/Wanadoo"),
        ("orange.fr", "Orange/Wanadoo"),
        ("free.fr", "Free"),
        ("sfr.fr", "SFR"),
        ("neuf.fr", "SFR"),
        ("laposte.net", "La Poste"),
        ("bbox.fr", "Bouygues"),
        # Others stand for themselves, even when they start like a provider's name.
        ("ac-grenoble.fr", "ac-grenoble.fr"),
        ("live.example.org", "live.example.org"),
        ("livemail.fr", "livemail.fr"),
        ("gmail.com.evil.example", "gmail.com.evil.example"),
    ],
)
def test_provider_name(domain, provider):
    assert provider_name(domain) == provider


def test_every_listed_domain_maps_to_its_provider():
    for provider, (name, domains) in PROVIDERS.items():
        for domain in domains:
            assert provider_of(domain.replace(".*", ".fr")) == provider
            assert provider_of("someone@mail." + domain.replace(".*", ".com")) == provider
            assert provider_name(domain.replace(".*", ".co.uk")) == name


def test_long_tails_fold_into_other_domains():
    rows = {f"school{n:02d}.fr": figures.Figures(attempted=100 - n, hard=1) for n in range(40)}
    rows[figures.OTHER_DOMAINS] = figures.Figures(attempted=5, complaint=1)
    folded = figures.fold_small(rows, 30)
    assert [label for label, _ in folded[:29]] == [f"school{n:02d}.fr" for n in range(29)]
    label, other = folded[-1]
    assert (label, len(folded)) == (figures.OTHER_DOMAINS, 30)
    assert (other.attempted, other.hard, other.complaint) == (5 + sum(range(61, 72)), 11, 1)
    short = figures.fold_small({"Gmail": figures.Figures(attempted=3)}, 30)
    assert [label for label, _ in short] == ["Gmail"]


def test_live_counts_group_by_the_provider_noted_at_freeze(app, db):
    """Counted from `deliveries.provider` alone: a reader who changes address after the
    freeze stays counted where the mail went; rows frozen before providers were noted
    ('') fall back to their subscriber's domain."""
    emails = [f"g{n}@gmail.com" for n in range(3)] + [f"s{n}@ac-lyon.fr" for n in range(12)]
    add_readers_in_bulk(db, emails)
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    db.execute("UPDATE subscribers SET email = 'moved@yahoo.fr' WHERE email = 'g0@gmail.com'")
    db.execute(
        "UPDATE deliveries SET provider = '' WHERE subscriber_id = "
        "(SELECT id FROM subscribers WHERE email = 's0@ac-lyon.fr')"
    )
    db.execute(
        "UPDATE deliveries SET status = 'sent', attempts = 1 WHERE campaign_id = ?", [campaign_id]
    )
    assert figures.count_deliveries(db, campaign_id) == {
        "Gmail": (3, 3, 0),
        "ac-lyon.fr": (12, 12, 0),
    }
