"""`flask doctor`: every check says OK, WARN or FAIL with the fix; exit 1 when one fails."""

import base64
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from contact_helpers import closed_port

from devtools.mailsink import MailSinkHandler
from weprode.operations import doctor
from weprode.operations.doctor_cli import TXT_LOOKUP_EXTENSION

FIT = {
    "PUBLIC_URL": "https://www.weprode.com",
    "COMPANY_PHONE": "+33 4 79 00 00 00",
    "COMPANY_VAT_NUMBER": "FR00908323652",
    "HEALTH_REQUIRE_WORKER": False,
}
DKIM = {"DKIM_SELECTOR": "mail2026", "DKIM_DOMAIN": "weprode.com"}
DKIM_NAME = "mail2026._domainkey.weprode.com"


def run_doctor(app, dns=None):
    """(exit code, {check: [(verdict, message)]}) of `flask doctor` on `app`."""
    if dns is not None:
        app.extensions[TXT_LOOKUP_EXTENSION] = dns
    result = app.test_cli_runner().invoke(args=["doctor"])
    findings = {}
    for line in result.output.splitlines()[1:-1]:
        verdict, _, rest = line.partition(" ")
        check, _, message = rest.strip().partition(": ")
        findings.setdefault(check, []).append((verdict, message))
    return result.exit_code, findings


def rsa_key(path):
    """A new 2048-bit RSA key at `path`; its DKIM TXT record."""
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


@pytest.fixture(scope="module")
def dkim_keys(tmp_path_factory):
    """Two key files and their records: (published key, its record, another key)."""
    folder = tmp_path_factory.mktemp("dkim")
    record = rsa_key(folder / "published.pem")
    rsa_key(folder / "other.pem")
    return folder / "published.pem", record, folder / "other.pem"


def test_a_fit_configuration_exits_0_with_the_relay_up(make_app, mailbox):
    code, findings = run_doctor(make_app(**FIT))
    assert code == 0, findings
    assert findings["secret key"][0][0] == "OK"
    assert findings["PUBLIC_URL"] == [("OK", "https://www.weprode.com")]
    assert findings["mail relay"] == [("OK", f"127.0.0.1:{mailbox.port} answers (plain SMTP)")]
    assert findings["DKIM"][0][0] == "WARN"  # not configured: worth knowing, not wrong
    assert findings["company facts"][0][0] == "OK"
    assert findings["health"] == [("OK", "/healthz answers ok")]


def test_a_relay_nobody_listens_on_fails(make_app):
    code, findings = run_doctor(make_app(**FIT, MAIL_PORT=closed_port()))
    assert code == 1
    [(verdict, message)] = findings["mail relay"]
    assert verdict == "FAIL"
    assert "nothing listens there. Check MAIL_SERVER and MAIL_PORT" in message


def test_each_pool_relay_is_checked_and_named(make_app, mailbox):
    down = closed_port()
    pool = [
        {"name": "up", "host": "127.0.0.1", "port": mailbox.port, "tls": "none"},
        {"name": "down", "host": "127.0.0.1", "port": down, "tls": "none"},
    ]
    code, findings = run_doctor(make_app(**FIT, MAIL_RELAYS=pool))
    assert code == 1
    assert findings["mail relay"][0][0] == "OK"  # transactional mail's relay
    assert findings["mail relay up"] == [("OK", f"127.0.0.1:{mailbox.port} answers (plain SMTP)")]
    [(verdict, message)] = findings["mail relay down"]
    assert verdict == "FAIL"
    assert "nothing listens there. Check 'host' and 'port' of MAIL_RELAYS entry 'down'" in message


def test_starttls_asked_of_a_plaintext_relay_fails(make_app, mailbox):
    code, findings = run_doctor(make_app(**FIT, MAIL_USE_TLS=True))
    assert code == 1
    assert findings["mail relay"][0][0] == "FAIL"
    assert "it does not offer STARTTLS" in findings["mail relay"][0][1]


def test_implicit_tls_to_a_plaintext_relay_fails(make_app, mailbox):
    code, findings = run_doctor(make_app(**FIT, MAIL_USE_SSL=True, MAIL_TIMEOUT=3))
    assert code == 1
    assert findings["mail relay"][0][0] == "FAIL"
    assert "TLS failed" in findings["mail relay"][0][1]


@pytest.fixture
def self_signed_relay(tmp_path):
    """An SMTP server offering STARTTLS with a certificate nobody trusts; its port."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = closed_port()
    controller = Controller(MailSinkHandler(), hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    yield port
    controller.stop()


def test_a_relay_certificate_that_does_not_verify_fails(make_app, self_signed_relay):
    app = make_app(**FIT, MAIL_PORT=self_signed_relay, MAIL_USE_TLS=True)
    code, findings = run_doctor(app)
    assert code == 1
    [(verdict, message)] = findings["mail relay"]
    assert verdict == "FAIL"
    assert "its TLS certificate is not valid (self-signed certificate)" in message


@pytest.mark.parametrize(
    "settings",
    [{"SECRET_KEY": "dev"}, {"SECRET_KEY_FALLBACKS": ["short-old-key"]}],
    ids=["weak key", "weak fallback"],
)
def test_a_weak_key_fails(make_app, mailbox, settings):
    code, findings = run_doctor(make_app(**FIT, **settings))
    assert code == 1
    [(verdict, message)] = findings["secret key"]
    assert verdict == "FAIL"
    assert "secrets.token_urlsafe(48)" in message


def test_an_http_public_url_fails(make_app, mailbox):
    code, findings = run_doctor(make_app(**{**FIT, "PUBLIC_URL": "http://www.weprode.com"}))
    assert code == 1
    assert findings["PUBLIC_URL"][0][0] == "FAIL"
    assert "is http://www.weprode.com, not https" in findings["PUBLIC_URL"][0][1]


def test_missing_company_facts_fail_until_set(make_app, mailbox):
    code, findings = run_doctor(make_app(**{**FIT, "COMPANY_PHONE": "", "COMPANY_VAT_NUMBER": ""}))
    assert code == 1
    [(verdict, message)] = findings["company facts"]
    assert verdict == "FAIL"
    assert "phone number and intra-community VAT number" in message
    assert "COMPANY_PHONE = " in message and "COMPANY_VAT_NUMBER = " in message


def test_the_legal_notice_shows_the_facts_once_set(make_app):
    client = make_app(**FIT).test_client()
    page = client.get("/legal?lang=fr").get_data(as_text=True)
    assert 'href="tel:+33479000000"' in page
    assert "Numéro de TVA intracommunautaire" in page and "FR00908323652" in page
    bare = make_app(COMPANY_PHONE="", COMPANY_VAT_NUMBER="").test_client()
    assert "tel:+334" not in bare.get("/legal").get_data(as_text=True)


def test_a_dkim_key_matching_its_published_record_passes(make_app, mailbox, dkim_keys):
    key, record, _ = dkim_keys
    asked = []
    app = make_app(**FIT, **DKIM, DKIM_PRIVATE_KEY_FILE=str(key))
    code, findings = run_doctor(app, dns=lambda name: asked.append(name) or record)
    assert code == 0
    assert asked == [DKIM_NAME]
    assert findings["DKIM"] == [("OK", f"{key} (2048-bit RSA) matches {DKIM_NAME}")]


def test_a_dkim_key_that_is_not_the_published_one_fails(make_app, mailbox, dkim_keys):
    _, record, other = dkim_keys
    app = make_app(**FIT, **DKIM, DKIM_PRIVATE_KEY_FILE=str(other))
    code, findings = run_doctor(app, dns=lambda name: record)
    assert code == 1
    [(verdict, message)] = findings["DKIM"]
    assert verdict == "FAIL"
    assert f"the key published at {DKIM_NAME} is not the public half of {other}" in message
    assert f"openssl rsa -in {other} -pubout -outform DER | base64 -w0" in message


def test_an_unanswered_dns_lookup_is_a_warning(make_app, mailbox, dkim_keys):
    key, _, _ = dkim_keys

    def no_dns(name):
        raise doctor.DnsUnavailable("no nameservers")

    code, findings = run_doctor(make_app(**FIT, **DKIM, DKIM_PRIVATE_KEY_FILE=str(key)), no_dns)
    assert code == 0
    [(verdict, message)] = findings["DKIM"]
    assert verdict == "WARN"
    assert f"{DKIM_NAME} could not be looked up (no nameservers)" in message


@pytest.mark.parametrize(
    "record, expected",
    [
        (None, f"no DKIM key is published at {DKIM_NAME}"),
        ("v=DKIM1; k=rsa; p=", "its p= is empty, which revokes the key"),
        ("v=DKIM1; k=ed25519; p=AAAA", "its key type is k=ed25519, not rsa"),
        ("v=DKIM1; p=bm90IGEga2V5", "its p= is not an RSA public key"),
    ],
)
def test_a_missing_or_unusable_record_fails(make_app, mailbox, dkim_keys, record, expected):
    key, _, _ = dkim_keys
    app = make_app(**FIT, **DKIM, DKIM_PRIVATE_KEY_FILE=str(key))
    code, findings = run_doctor(app, dns=lambda name: record)
    assert code == 1
    assert findings["DKIM"][0][0] == "FAIL"
    assert expected in findings["DKIM"][0][1]


def test_an_unreadable_or_invalid_key_file_fails(make_app, mailbox, tmp_path):
    not_a_key = tmp_path / "notes.pem"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    for path, expected in [
        (tmp_path / "missing.pem", f"cannot read {tmp_path / 'missing.pem'}"),
        (not_a_key, f"{not_a_key} is not a PEM RSA private key"),
    ]:
        app = make_app(**FIT, **DKIM, DKIM_PRIVATE_KEY_FILE=str(path))
        code, findings = run_doctor(app, dns=lambda name: pytest.fail("no lookup expected"))
        assert code == 1
        assert findings["DKIM"][0][0] == "FAIL"
        assert expected in findings["DKIM"][0][1]


def test_health_problems_are_shown_as_warnings(make_app, mailbox):
    code, findings = run_doctor(make_app(**{**FIT, "HEALTH_REQUIRE_WORKER": True}))
    assert code == 0
    assert findings["health"] == [("WARN", "/healthz fails: no campaign worker has ever run")]
