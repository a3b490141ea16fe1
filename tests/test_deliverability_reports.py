"""Each sample in tests/samples/bounces/ is read as what it is, and classified right."""

from pathlib import Path

import pytest

from weprode.deliverability import reports

SAMPLES = Path(__file__).parent / "samples" / "bounces"
EMAIL = "jane.doe@example.org"

# sample: (kind, shape, status of the recipient, severity)
EXPECTED = {
    "postfix_user_unknown.eml": ("bounce", "dsn", "5.1.1", "hard"),
    "postfix_expired_soft.eml": ("bounce", "dsn", "4.4.1", "soft"),
    "postfix_delayed.eml": ("delay", "dsn", "4.4.1", "soft"),
    "exim_user_unknown.eml": ("bounce", "heuristic", "5.1.1", "hard"),
    "qmail_user_unknown.eml": ("bounce", "heuristic", "5.1.1", "hard"),
    "exchange_recipient_not_found.eml": ("bounce", "dsn", "5.1.10", "hard"),
    "gmail_over_quota.eml": ("bounce", "dsn", "5.2.2", "soft"),
    "gmail_dmarc_policy.eml": ("bounce", "dsn", "5.7.26", "policy"),
    "orange_user_unknown.eml": ("bounce", "dsn", "5.1.1", "hard"),
    "yahoo_arf_complaint.eml": ("complaint", "arf", "", None),
    "outlook_jmrp_not_spam.eml": ("not_a_complaint", "arf", "", None),
    "auto_reply_rfc3834_fr.eml": ("auto_reply", "Auto-Submitted", None, None),
    "outlook_out_of_office.eml": ("auto_reply", "X-Auto-Response-Suppress", None, None),
}


def sample(name, verp="bounces+abc@weprode.com", message_id="<m@weprode.com>", email=EMAIL):
    """A sample with its placeholders filled in, as bytes."""
    text = (SAMPLES / name).read_text()
    text = text.replace("{VERP}", verp).replace("{MESSAGE_ID}", message_id)
    return text.replace("{EMAIL}", email).encode()


def test_every_sample_is_listed():
    assert {path.name for path in SAMPLES.glob("*.eml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_is_read_and_classified(name):
    kind, shape, status, severity = EXPECTED[name]
    report = reports.parse(sample(name))
    assert (report.kind, report.shape) == (kind, shape)
    if status is None:
        assert report.recipients == []
        return
    item = report.recipients[0]
    assert item.status == status
    assert reports.severity(status) == severity
    if report.kind in ("bounce", "delay") and report.shape == "dsn":
        assert item.address == EMAIL


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("5.1.1", "hard"),
        ("5.1.10", "hard"),
        ("5.2.1", "hard"),
        ("5.2.2", "soft"),
        ("5.7.1", "policy"),
        ("5.7.26", "policy"),
        ("4.2.2", "soft"),
        ("4.7.0", "soft"),
        ("5.0.0", "soft"),
        ("2.0.0", None),
        ("", None),
    ],
)
def test_enhanced_status_codes(code, severity):
    assert reports.severity(code) == severity


def test_status_in_smtp_replies():
    assert reports.status_in("550 5.1.1 <x@y>: user unknown") == "5.1.1"
    assert reports.status_in("550 no such user") == "5.0.0"
    assert reports.status_in("451 try later", permanent=False) == "4.0.0"
    assert reports.status_in("", permanent=True) == "5.0.0"


def test_a_plain_message_is_unrecognised():
    raw = b"From: a@example.org\r\nTo: bounces@weprode.com\r\nSubject: hello\r\n\r\nhi\r\n"
    assert reports.parse(raw).kind == "unrecognised"


def test_a_plain_message_without_from_is_unrecognised_not_an_error():
    # flufl.bounce's Yale detector raises IndexError on it; anyone can send us that.
    raw = b"To: bounces@weprode.com\r\nSubject: hello\r\n\r\nhi\r\n"
    assert reports.parse(raw).kind == "unrecognised"
