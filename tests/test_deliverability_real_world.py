"""Real reports from Sisimai's collection (tests/samples/bounces/sisimai/): each read as
what it is, and each doing to a subscriber what its class says, only once tied to a
delivery of ours."""

import re
from pathlib import Path

import pytest

from tests.campaign_helpers import add_subscribers, new_campaign
from weprode.campaigns import freeze
from weprode.db import utcnow
from weprode.deliverability import ingest, reports, status_codes, verp
from weprode.newsletter import subscribers

SISIMAI = Path(__file__).parent / "samples" / "bounces" / "sisimai"
BOUNCES = "bounces@weprode.com"

# sample: (kind, shape, recipient, status, severity), then what it does to the person
# once tied to a delivery: bounced, soft, policy (both stay active), churned, ignored.
EXPECTED = {
    # Orange: 550 5.1.1 unknown recipient.
    "rhost-franceptt-01.eml": (
        ("bounce", "dsn", "pseudo-local-part-kijitora-nyaaan@orange.fr", "5.1.1", "hard"),
        "bounced",
    ),
    # La Poste says an unknown recipient with 5.5.0: the words decide (was soft).
    "rhost-franceptt-02.eml": (
        ("bounce", "dsn", "pseudo-local-part-kijitora-nyaaan@laposte.net", "5.1.1", "hard"),
        "bounced",
    ),
    # Orange refusing our IP for spam, Status 4.0.0 over a 550: policy (was soft).
    "rhost-franceptt-06.eml": (("bounce", "dsn", "xxxx@orange.fr", "4.7.1", "policy"), "policy"),
    # Wanadoo's 421 "service refused", the boundary rewritten in the header only: was
    # read as an auto-reply, the delivery-status part lost.
    "rhost-franceptt-07.eml": (("bounce", "dsn", "xxxx@wanadoo.fr", "4.0.0", "soft"), "soft"),
    # Yahoo's feedback loop (ARF).
    "arf-02.eml": (
        ("complaint", "arf", "this-local-part-does-not-exist-on-yahoo@yahoo.com", "", None),
        "churned",
    ),
    # Feedback type opt-out: the person's wish to leave, passed on (was ignored).
    "arf-12.eml": (("complaint", "arf", "", "", None), "churned"),
    # A DMARC failure report is no complaint.
    "arf-18.eml": (("not_a_complaint", "arf", "kijitora@example.com", "", None), "ignored"),
    # Hotmail's complaint from before ARF (was unrecognised).
    "arf-22.eml": (("complaint", "hotmail", "kijitora@example.com", "", None), "churned"),
    # Exim: 550 5.7.0 refused.
    "lhost-exim-01.eml": (
        ("bounce", "heuristic", "kijitora@example.ed.jp", "5.7.0", "policy"),
        "policy",
    ),
    # Exim: our MAIL FROM refused with 553 5.1.0 "does not exist": about our sender,
    # not the recipient (was hard).
    "lhost-exim-51.eml": (
        ("bounce", "heuristic", "kijitora@example.org", "5.7.1", "policy"),
        "policy",
    ),
    # Office 365's text-only report, flagged Auto-Submitted (was an auto-reply).
    "lhost-office365-01.eml": (
        ("bounce", "heuristic", "kijitora@example.com", "5.1.10", "hard"),
        "bounced",
    ),
    "lhost-exchange2007-01.eml": (
        ("bounce", "dsn", "mikeneko@example.co.jp", "5.1.1", "hard"),
        "bounced",
    ),
    # Outlook.com deferring us till the mail expired: reputation, not the address (was soft).
    "rhost-microsoft-05.eml": (
        ("bounce", "dsn", "pseudo-local-part-of-microsoft@outlook.com", "4.7.650", "policy"),
        "policy",
    ),
    # Hotmail's "550 Requested action not taken: mailbox unavailable" (was 5.5.0, soft).
    "lhost-outlook-08.eml": (
        ("bounce", "dsn", "kijitora@hotmail.example.com", "5.1.1", "hard"),
        "bounced",
    ),
    # Gmail's unknown user, boundary rewritten (was an auto-reply).
    "rhost-google-02.eml": (
        ("bounce", "dsn", "neko-nyaan@example.org", "5.1.1", "hard"),
        "bounced",
    ),
    "lhost-gmail-16.eml": (
        ("bounce", "heuristic", "mailboxfull@bouncehammer.jp", "5.2.2", "soft"),
        "soft",
    ),
    # Gmail's 5.2.1 for a mailbox receiving mail too fast: not a dead one (was hard).
    "lhost-postfix-59.eml": (
        ("bounce", "dsn", "kijitora@ggl.example.org", "5.2.0", "soft"),
        "soft",
    ),
    # Sendmail's Status 5.1.1 over the remote's "550 5.7.1 IP address blacklisted" (was hard).
    "lhost-sendmail-33.eml": (
        ("bounce", "dsn", "mailboxfull@neko.example.org", "5.7.1", "policy"),
        "policy",
    ),
    # Yahoo's plain-text "Sorry, we were unable to deliver" (was unrecognised).
    "lhost-yahoo-01.eml": (
        ("bounce", "heuristic", "kijitora@example.org", "5.1.1", "hard"),
        "bounced",
    ),
    # Yahoo's TSS04 deferral, expired: reputation (was soft).
    "rhost-yahooinc-02.eml": (
        ("bounce", "dsn", "kijitora@y.example.ca", "4.7.0", "policy"),
        "policy",
    ),
    "rfc3834-01.eml": (("auto_reply", "Auto-Submitted", None, None, None), "ignored"),
    "not-is-not-bounce-01.eml": (("unrecognised", "", None, None, None), "ignored"),
}


def test_every_sample_is_listed_with_its_licence():
    assert {path.name for path in SISIMAI.glob("*.eml")} == set(EXPECTED)
    assert (SISIMAI / "LICENSE").exists() and "BSD 2-Clause" in (SISIMAI / "NOTICE").read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_is_read_and_classified(name):
    (kind, shape, recipient, status, severity), _ = EXPECTED[name]
    report = reports.parse((SISIMAI / name).read_bytes())
    assert (report.kind, report.shape) == (kind, shape)
    if recipient is None:
        assert report.recipients == []
        return
    item = report.recipients[0]
    assert (item.address, item.status) == (recipient, status)
    assert status_codes.severity(status) == severity


def addressed_to(raw, address):
    """The report as it reaches us: sent to the envelope sender of our message."""
    head, separator, body = raw.partition(b"\n\n")
    head = re.sub(rb"(?im)^To:[^\n]*(\n[ \t][^\n]*)*", b"To: <" + address.encode() + b">", head)
    return head + separator + body


def sent_to(app, db, email):
    """One subscriber sent one campaign (as far as the ledger knows); their id and the
    VERP envelope sender of that mail."""
    app.config["BOUNCE_ADDRESS"] = BOUNCES
    (subscriber_id,) = add_subscribers(app, db, [(email, None, "en")])
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        sender = verp.envelope_sender("campaign", subscriber_id, campaign_id)
    db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", [campaign_id])
    return subscriber_id, sender


def person(app, db, subscriber_id):
    with app.app_context():
        status = subscribers.get(db, subscriber_id)["status"]
    events = [row[0] for row in db.execute("SELECT severity FROM bounce_events")]
    return status, events


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_untouched_sample_names_no_delivery_and_changes_nothing(app, db, name):
    (kind, _, recipient, _, _), effect = EXPECTED[name]
    # The person the report names is ours, but nothing ties the report to a mail we
    # sent them: anyone could write it.
    subscriber_id, _ = sent_to(app, db, recipient or "jane@example.org")
    with app.app_context():
        result = ingest.ingest(db, (SISIMAI / name).read_bytes(), utcnow())
    assert result.stored
    if effect == "ignored":
        assert result.line.endswith(": ignored")
    else:
        assert result.line.startswith(kind)
        assert "not attributed (no VERP tag or Message-ID of ours" in result.line
    assert person(app, db, subscriber_id) == ("active", [])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_sample_sent_to_our_verp_address_acts_by_its_class(app, db, name):
    _, effect = EXPECTED[name]
    subscriber_id, sender = sent_to(app, db, "jane@example.org")
    raw = addressed_to((SISIMAI / name).read_bytes(), sender)
    with app.app_context():
        result = ingest.ingest(db, raw, utcnow())
    assert result.stored
    expected = {
        "bounced": ("bounced", ["hard"]),
        "soft": ("active", ["soft"]),
        "policy": ("active", ["policy"]),
        "churned": ("churned", ["complaint"]),
        "ignored": ("active", []),
    }[effect]
    assert person(app, db, subscriber_id) == expected, result.line
    if effect != "ignored":
        assert "via VERP tag" in result.line
