"""The pre-flight check against a real DNS server on 127.0.0.1 and the site served live."""

import threading

import pytest
import test_doctor
from campaign_helpers import add_subscribers, new_campaign, send
from contact_helpers import closed_port
from dns_helpers import DnsServer
from staff_helpers import speak
from werkzeug.serving import make_server

DOMAIN = "weprode.com"
SELECTOR = "mail2026"
DKIM_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"
# Two RSA key files and the DKIM record of the first: the doctor's tests make them.
dkim_keys = test_doctor.dkim_keys


@pytest.fixture
def dns_server(dkim_keys):
    """The domain's records as they should be."""
    records = {
        DOMAIN: ["google-site-verification=abc", "v=spf1 include:_spf.relay.example -all"],
        f"_dmarc.{DOMAIN}": [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}"],
        DKIM_NAME: [dkim_keys[1]],
    }
    with DnsServer(records) as server:
        yield server


def serve(application):
    """Serve `application` over HTTP on a free port in a thread; returns (url, stop)."""
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def good_app(app_config, dns_server, dkim_keys, request):
    """The test `app` with a configuration that passes, served live at its PUBLIC_URL."""
    app_config.update(
        CAMPAIGN_SENDER=f"Weprode <newsletter@{DOMAIN}>",
        BOUNCE_ADDRESS=f"bounces@{DOMAIN}",
        DKIM_PRIVATE_KEY_FILE=str(dkim_keys[0]),
        DKIM_SELECTOR=SELECTOR,
        DKIM_DOMAIN=DOMAIN,
        DNS_NAMESERVERS=[dns_server.address],
    )
    application = request.getfixturevalue("app")
    url, stop = serve(application)
    application.config["PUBLIC_URL"] = url
    yield application
    stop()


def preflight(application, *options):
    """(exit code, {check: (status, message)}) of the command."""
    result = application.test_cli_runner().invoke(args=["deliverability", "preflight", *options])
    found = {}
    for line in result.output.splitlines():
        status, _, rest = line.partition(" ")
        name, _, message = rest.strip().partition(": ")
        found[name] = (status, message)
    return result.exit_code, found


def test_good_records_pass_with_exit_0(good_app, dns_server):
    code, found = preflight(good_app)
    assert code == 0, found
    assert found["SPF"] == ("ok", f"SPF record found at {DOMAIN}.")
    assert found["DKIM"][0] == "ok" and DKIM_NAME in found["DKIM"][1]
    assert found["DMARC"] == ("ok", f"DMARC record found at _dmarc.{DOMAIN} (p=quarantine).")
    assert found["BOUNCE_ADDRESS"][0] == "ok"
    # Over http in tests: it answers, and the check says providers expect https.
    assert found["One-click unsubscribe"][0] == "WARNING"
    assert "answers, but over http" in found["One-click unsubscribe"][1]
    # The lookups went to the local server.
    assert {DOMAIN, f"_dmarc.{DOMAIN}", DKIM_NAME} <= set(dns_server.queries)


def test_broken_records_fail_each_with_what_to_fix(good_app, dns_server, dkim_keys):
    dns_server.records[DOMAIN] = ["v=spf1 +all"]
    del dns_server.records[f"_dmarc.{DOMAIN}"]
    good_app.config["DKIM_PRIVATE_KEY_FILE"] = str(dkim_keys[2])
    good_app.config["BOUNCE_ADDRESS"] = ""
    code, found = preflight(good_app)
    assert code == 1
    # Without BOUNCE_ADDRESS, SPF is judged on the From domain: the same one here.
    assert found["SPF"][0] == "FAILED" and "lets anybody send as you" in found["SPF"][1]
    assert found["DKIM"][0] == "FAILED"
    assert f"does not match {dkim_keys[2]}" in found["DKIM"][1]
    assert "openssl rsa -in" in found["DKIM"][1]
    assert found["DMARC"][0] == "FAILED" and "v=DMARC1; p=none" in found["DMARC"][1]
    assert found["BOUNCE_ADDRESS"][0] == "FAILED"


def test_two_spf_records_and_a_dmarc_without_policy_fail(good_app, dns_server):
    dns_server.records[DOMAIN] = ["v=spf1 -all", "v=spf1 include:relay.example -all"]
    dns_server.records[f"_dmarc.{DOMAIN}"] = ["v=DMARC1; rua=mailto:x@weprode.com"]
    code, found = preflight(good_app)
    assert code == 1
    assert "has 2 SPF records" in found["SPF"][1]
    assert "no valid policy" in found["DMARC"][1]


def test_missing_dkim_record_and_key_settings_fail(good_app, dns_server):
    del dns_server.records[DKIM_NAME]
    code, found = preflight(good_app)
    assert code == 1
    assert found["DKIM"] == (
        "FAILED",
        found["DKIM"][1],
    ) and found["DKIM"][1].startswith(f"No DKIM key at {DKIM_NAME}. Publish a TXT record")
    good_app.config["DKIM_PRIVATE_KEY_FILE"] = ""
    code, found = preflight(good_app)
    assert "Gmail and Yahoo require DKIM" in found["DKIM"][1]


def test_a_dns_server_that_does_not_answer_is_a_warning(good_app):
    good_app.config["DNS_NAMESERVERS"] = [f"127.0.0.1:{closed_port()}"]
    code, found = preflight(good_app)
    assert found["SPF"][0] == "WARNING" and "The DNS did not answer" in found["SPF"][1]
    assert found["DMARC"][0] == "WARNING"


def test_one_click_url_unreachable_or_signed_with_another_key_fails(good_app, make_app):
    good_app.config["PUBLIC_URL"] = f"http://127.0.0.1:{closed_port()}"
    code, found = preflight(good_app)
    assert code == 1
    assert found["One-click unsubscribe"][0] == "FAILED"
    assert "cannot be reached" in found["One-click unsubscribe"][1]

    # A site running with another secret key answers the link with 400.
    other = make_app(SECRET_KEY="another-secret-key-that-is-long-enough-0123456789")
    url, stop = serve(other)
    try:
        good_app.config["PUBLIC_URL"] = url
        code, found = preflight(good_app)
    finally:
        stop()
    assert found["One-click unsubscribe"][0] == "FAILED"
    assert "answered 400 instead of 200" in found["One-click unsubscribe"][1]


def test_advice_in_french(good_app, dns_server):
    del dns_server.records[f"_dmarc.{DOMAIN}"]
    code, found = preflight(good_app, "--language", "fr")
    assert code == 1
    # French puts a no-break space before the colon: the check's name keeps it.
    assert found["DMARC\u00a0"][0] == "ÉCHEC"
    assert found["DMARC\u00a0"][1].startswith(
        f"Aucun enregistrement DMARC utilisable à _dmarc.{DOMAIN}"
    )
    assert "Désabonnement en un clic\u00a0" in found


def test_the_campaign_page_runs_the_check_before_the_first_send(good_app, db, staff_client):
    client = staff_client
    campaign_id = new_campaign(db)
    page = client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Run the pre-flight check" in page and "SPF record found" not in page

    page = client.get(f"/admin/campaigns/{campaign_id}?preflight=1").get_data(as_text=True)
    assert f"SPF record found at {DOMAIN}." in page
    assert "<strong>OK</strong> — DMARC" in page

    speak(good_app, "fr")
    french = client.get(f"/admin/campaigns/{campaign_id}?preflight=1")
    assert "Enregistrement SPF trouvé" in french.get_data(as_text=True)
    speak(good_app, "en")

    # Once sent, the page no longer offers it.
    add_subscribers(good_app, db, [("reader@example.org", None, "en")])
    send(good_app, db, campaign_id)
    page = client.get(f"/admin/campaigns/{campaign_id}?preflight=1").get_data(as_text=True)
    assert "Pre-flight check" not in page
