"""Each sample in tests/samples/bounces/ is read as what it is, and classified right."""

from pathlib import Path

import pytest

from weprode.deliverability import reports, status_codes

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
    assert status_codes.severity(status) == severity
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
        ("4.7.0", "policy"),  # a provider deferring us till the mail expired
        ("5.1.7", "policy"),  # our sender address, not theirs
        ("5.1.8", "policy"),
        ("4.1.1", "soft"),
        ("5.0.0", "soft"),
        ("2.0.0", None),
        ("", None),
    ],
)
def test_enhanced_status_codes(code, severity):
    assert status_codes.severity(code) == severity


def test_status_in_smtp_replies():
    assert status_codes.status_in("550 5.1.1 <x@y>: user unknown") == "5.1.1"
    assert status_codes.status_in("550 no such user") == "5.1.1"  # the wording says it
    assert status_codes.status_in("550 User account is overquota") == "5.2.2"
    assert status_codes.status_in("550 requested action not taken") == "5.0.0"
    assert status_codes.status_in("Exim 2.0.13: 550 unknown user") == "5.1.1"  # 2.x.x never
    assert status_codes.status_in("451 try later", permanent=False) == "4.0.0"
    assert status_codes.status_in("", permanent=True) == "5.0.0"
    # Unspecific codes made precise by the words (La Poste, Yahoo, Orange, Office 365).
    assert status_codes.status_in("550 5.5.0 Adresse destinataire invalide.") == "5.1.1"
    assert (
        status_codes.status_in("554 delivery error: This user doesn't have a yahoo.com account")
        == "5.1.1"
    )
    assert (
        status_codes.refined("4.0.0", "550 ME Adresse IP source bloquee pour incident de spam")
        == "4.7.1"
    )
    assert (
        status_codes.status_in("550 5.1.0 192.0.2.1 is not allowed to send from <a@b.c>") == "5.7.1"
    )
    assert status_codes.status_in("550 5.1.10 RecipientNotFound; Recipient not found") == "5.1.10"


def test_a_plain_message_is_unrecognised():
    raw = b"From: a@example.org\r\nTo: bounces@weprode.com\r\nSubject: hello\r\n\r\nhi\r\n"
    assert reports.parse(raw).kind == "unrecognised"


REAL_WORLD = SAMPLES / "flufl"
# flufl.bounce's real-world corpus (see flufl/NOTICE): sample -> (kind, recipient, severity).
REAL_EXPECTED = {
    # Postfix: plain-text bounces of old versions, and RFC 3464 ones.
    "postfix_01.txt": ("bounce", "xxxxx@local.ie", "hard"),
    # "Host not found, try again": DNS failing, not a missing domain (Sisimai agrees).
    "postfix_02.txt": ("bounce", "yyyyy@digicool.com", "soft"),
    "dsn_10.txt": ("bounce", "anne.person@dom.ain", "hard"),
    "dsn_17.txt": ("delay", "xxx@example.fi", "soft"),
    # Exim.
    "exim_01.txt": ("bounce", "userx@its.example.nl", "hard"),
    "simple_08.txt": ("bounce", "userx@example.de", "hard"),
    "simple_40.txt": ("delay", "user@example.com", "soft"),
    # qmail: a permanent error with no reason is no proof the address is gone.
    "qmail_01.txt": ("bounce", "userx@example.de", "soft"),
    "qmail_02.txt": ("bounce", "userx@example.com", "soft"),  # mailbox full
    "qmail_03.txt": ("bounce", "userx@example.jp", "hard"),
    # Exchange / Outlook.
    "microsoft_01.txt": ("bounce", "userx@example.COM", "hard"),
    "dsn_13.txt": ("bounce", "userx@example.com", "hard"),
    "simple_45.txt": ("bounce", "subscriber@earthlink.net", "soft"),  # over quota
    # Gmail: failed without a reason, delayed, refused as unsolicited (5.7.1).
    "simple_17.txt": ("bounce", "userx@example.com", "soft"),
    "simple_28.txt": ("delay", "userx@example.com", "soft"),
    "simple_42.txt": ("bounce", "david...@gmail.com", "policy"),
    # Yahoo.
    "yahoo_01.txt": ("bounce", "userx@example.com", "soft"),  # gave up connecting (4.4.1)
    "yahoo_02.txt": ("bounce", "userx@example.es", "soft"),  # over quota
    "yahoo_11.txt": ("bounce", "bad_user@aol.com", "hard"),
    # AOL: "not accepting mail from" the sender is about us.
    "aol_01.txt": ("bounce", "screenname@aol.com", "policy"),
    # A French server: "L'adresse ... n'existe pas".
    "simple_13.txt": ("bounce", "userx@example.fr", "hard"),
    # An auto-reply (qmail's vacation): ignored.
    "qmail_08.txt": ("auto_reply", None, None),
}


def test_every_real_world_sample_is_listed():
    assert {path.name for path in REAL_WORLD.glob("*.txt")} == set(REAL_EXPECTED)
    assert (REAL_WORLD / "LICENSE").exists() and (REAL_WORLD / "NOTICE").exists()


@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_real_world_sample_is_classified(name):
    kind, recipient, severity = REAL_EXPECTED[name]
    report = reports.parse((REAL_WORLD / name).read_bytes())
    assert report.kind == kind
    if recipient is None:
        assert report.recipients == []
        return
    item = report.recipients[0]
    assert item.address == recipient
    assert status_codes.severity(item.status) == severity


def test_the_quoted_original_does_not_decide_the_failure():
    # Our own newsletter, returned inside the bounce, speaks of a "privacy policy".
    raw = (
        (REAL_WORLD / "qmail_01.txt")
        .read_bytes()
        .replace(b"Message removed", b"Read our privacy policy: https://weprode.com/privacy")
    )
    item = reports.parse(raw).recipients[0]
    assert (item.status, status_codes.severity(item.status)) == ("5.0.0", "soft")


def test_a_report_that_breaks_a_detector_is_unrecognised_not_a_crash():
    # An empty From: made flufl.bounce's Yale detector raise IndexError (found by the bench).
    raw = b"From: \r\nTo: bounces@weprode.com\r\nSubject: s\r\n\r\nbody\r\n"
    assert reports.parse(raw).kind == "unrecognised"


def test_a_plain_message_without_from_is_unrecognised_not_an_error():
    # flufl.bounce's Yale detector raises IndexError on it; anyone can send us that.
    raw = b"To: bounces@weprode.com\r\nSubject: hello\r\n\r\nhi\r\n"
    assert reports.parse(raw).kind == "unrecognised"


def test_the_remote_servers_own_code_and_words_come_first():
    # Sendmail translated the remote's 5.7.1 into Status 5.1.1: the person is not gone.
    assert status_codes.dsn_status("5.1.1", "550 5.7.1 IP blacklisted", True) == "5.7.1"
    assert status_codes.dsn_status("5.1.1", "550 User unknown", True) == "5.1.1"
    assert status_codes.dsn_status("", "", False) == "4.0.0"
    # A bare 553 naming a blocklist: Postfix's guess 5.1.3 is not the remote's word.
    spamhaus = "553 http://www.spamhaus.org/query/bl?ip=192.0.2.222"
    assert status_codes.dsn_status("5.1.3", spamhaus, True) == "5.7.1"
    assert status_codes.dsn_status("5.1.3", "553 sorry", True) == "5.1.3"  # no words: Status
    # A DNS lookup to try again is no missing domain.
    assert status_codes.status_in("Name service error: Host not found, try again") == "5.0.0"
    assert status_codes.status_in("Host or domain name not found") == "5.1.2"
    # Our MAIL FROM refused: an address code, but about our sender.
    refusal = "SMTP error from remote mail server after MAIL FROM: 553 5.1.0 does not exist"
    assert status_codes.severity(status_codes.status_in(refusal)) == "policy"
    # Gmail's 5.2.1 is a disabled mailbox, or one receiving mail too fast.
    assert status_codes.refined("5.2.1", "The email account is disabled") == "5.2.1"
    assert status_codes.refined("5.2.1", "is receiving mail at a rate that") == "5.2.0"
    assert status_codes.severity("5.7.13") == "hard"  # RFC 7372: account disabled


def test_a_text_part_in_an_unknown_charset_is_read_not_a_crash():
    raw = (
        b"From: MAILER-DAEMON@example.org\r\nTo: bounces@weprode.com\r\n"
        b"Subject: Failure Notice\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\n"
        b"Sorry, we were unable to deliver your message to the following address.\r\n\r\n"
        b"<jane@example.org>:\r\nRemote host said: 550 5.1.1 User unknown\r\n"
    )
    item = reports.parse(raw).recipients[0]
    assert (item.address, item.status) == ("jane@example.org", "5.1.1")
