"""MAIL_RELAYS: campaigns spread over several relays; one dies mid-send and its rows go
through the others, nobody lost or doubled; only all relays failing pauses the send.

Real SMTP: aiosmtpd relays that count per recipient, one stopped mid-campaign.
"""

import threading
import time

import pytest
from campaign_helpers import add_readers_in_bulk, new_campaign
from relay_helpers import free_port, start_counting_relay

from weprode import create_app
from weprode.campaigns import freeze, ledger, worker
from weprode.config import ConfigError
from weprode.db import connect, utcnow
from weprode.mail import relays
from weprode.mail.relay_pool import RelayPool

RECIPIENTS = 3000


def relay_entry(name, port, **extra):
    """A MAIL_RELAYS entry for a local relay without TLS."""
    return {"name": name, "host": "127.0.0.1", "port": port, "tls": "none", **extra}


def add_readers(db, count):
    """Active subscribers at a few domains (so several providers)."""
    addresses = [f"r{n:05d}@d{n % 3}.example" for n in range(count)]
    add_readers_in_bulk(db, addresses)
    return addresses


@pytest.fixture
def two_relays():
    started = [start_counting_relay(), start_counting_relay()]
    yield started
    for controller, _handler in started:
        try:
            controller.stop()
        except (AssertionError, RuntimeError):
            pass  # the test stopped it already


@pytest.mark.parametrize("processes", [1, 2])
def test_a_relay_killed_mid_campaign_loses_nobody_and_the_other_sends_the_rest(
    make_app, two_relays, processes
):
    (dying_controller, dying), (_, survivor) = two_relays
    app = make_app(
        MAIL_RELAYS=[relay_entry("dying", dying.port), relay_entry("survivor", survivor.port)],
        CAMPAIGN_SMTP_CONNECTIONS=4,
        CAMPAIGN_SENDER_PROCESSES=processes,
        RELAY_SET_ASIDE_SECONDS=600,
    )
    db = connect(app.config["DATABASE"])
    everyone = add_readers(db, RECIPIENTS)
    campaign_id = new_campaign(db)

    def kill_when_busy():
        deadline = time.monotonic() + 30
        while dying.total() < RECIPIENTS // 5 and time.monotonic() < deadline:
            time.sleep(0.002)
        dying_controller.stop()

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        status = worker.send_campaign(db, campaign_id)
    killer.join()
    assert status == "sent"
    assert RECIPIENTS // 5 <= dying.total() < RECIPIENTS // 2, "the kill landed mid-send"
    received = dying.received + survivor.received
    assert set(received) == set(everyone)  # nobody lost
    assert set(received.values()) == {1}  # nobody twice
    assert survivor.total() == RECIPIENTS - dying.total()
    assert ledger.figures(db, campaign_id)["sent"] == RECIPIENTS
    db.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_every_relay_failing_pauses_the_campaign_naming_each(make_app, processes):
    ports = [free_port(), free_port()]
    app = make_app(
        MAIL_RELAYS=[relay_entry("first", ports[0]), relay_entry("second", ports[1])],
        CAMPAIGN_SMTP_CONNECTIONS=2,
        CAMPAIGN_SENDER_PROCESSES=processes,
    )
    db = connect(app.config["DATABASE"])
    add_readers(db, 10)
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
        assert worker.send_campaign(db, campaign_id) == "paused"
    reason = ledger.get(db, campaign_id)["paused_reason"]
    assert reason.startswith(worker.PAUSED_BY_FAILURES)
    assert "every mail relay failed" in reason
    assert "first: cannot reach the mail relay" in reason and "second: " in reason
    figures = ledger.figures(db, campaign_id)
    assert (figures["queued"], figures["sent"], figures["failed"]) == (10, 0, 0)
    db.close()


def test_sessions_spread_by_weight_within_each_relays_limit():
    heavy, light = (
        relays.relay_from_entry(0, relay_entry("heavy", 1, weight=3, max_connections=4), CONFIG),
        relays.relay_from_entry(1, relay_entry("light", 2, weight=1, max_connections=1), CONFIG),
    )
    pool = RelayPool([heavy, light], set_aside_seconds=60, failures_to_set_aside=2)
    taken = [pool.reserve().name for _ in range(5)]
    assert taken == ["heavy", "heavy", "heavy", "light", "heavy"]
    assert pool.reserve() is None  # both full


def test_a_relay_is_set_aside_after_failures_in_a_row_and_comes_back():
    clock = [100.0]
    pool = RelayPool(
        [relays.relay_from_entry(0, relay_entry("only", 1), CONFIG)],
        set_aside_seconds=10,
        failures_to_set_aside=2,
        clock=lambda: clock[0],
    )
    [relay] = pool.relays
    pool.failed(relay, "refused")
    assert pool.reserve() is relay  # one failure is not enough
    pool.release(relay)
    pool.failed(relay, "refused")
    assert pool.all_aside() and pool.reserve() is None
    clock[0] += 10
    assert pool.reserve() is relay
    pool.release(relay)
    pool.failed(relay, "refused")
    pool.failed(relay, "refused")
    clock[0] += 10
    assert pool.all_aside()  # failing again on return: set aside twice as long
    clock[0] += 10
    assert not pool.all_aside()


CONFIG = {"MAIL_TLS_VERIFY": True, "MAIL_TLS_CA_FILE": ""}


def test_single_mail_server_is_a_pool_of_one(app):
    [relay] = relays.configured_relays(app.config)
    assert (relay.host, relay.port, relay.tls) == ("127.0.0.1", app.config["MAIL_PORT"], "none")
    assert relay.max_connections == app.config["CAMPAIGN_SMTP_CONNECTIONS"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("relay.example", "MAIL_RELAYS must be a list of dicts"),
        ([{"port": 587}], "MAIL_RELAYS[0] (no host): 'host' is required"),
        (
            [{"host": "a.example"}, {"host": "b.example", "tls": "yes"}],
            "MAIL_RELAYS[1] (b.example)",
        ),
        ([{"host": "a.example", "weight": 0}], "'weight' must be a positive number"),
        ([{"host": "a.example", "max_connections": 0}], "'max_connections' must be at least 1"),
        ([{"host": "a.example", "port": "587"}], "'port' must be a number"),
        ([{"host": "a.example", "username": "u"}], "give both 'username' and 'password'"),
        ([{"host": "a.example", "pasword": "x"}], "unknown key(s) pasword"),
        ([{"host": "a.example"}, {"host": "a.example"}], "two entries are named 'a.example:587'"),
    ],
)
def test_malformed_relays_stop_the_start_naming_the_entry(make_app, entries, message):
    with pytest.raises(ConfigError) as raised:
        make_app(MAIL_RELAYS=entries)
    assert message in str(raised.value)


def test_production_checks_each_relay(tmp_path):
    config = {
        "SECRET_KEY": "k" * 48,
        "PUBLIC_URL": "https://www.weprode.com",
        "MAIL_SERVER": "smtp.weprode.com",
        "MAIL_PORT": 587,
        "DATABASE": str(tmp_path / "db.sqlite3"),
        "MAIL_RELAYS": [
            {"name": "dev", "host": "127.0.0.1", "port": 8025, "tls": "none"},
            {"name": "blind", "host": "relay.example.net", "tls_verify": False},
            {
                "name": "clear",
                "host": "relay2.example.net",
                "tls": "none",
                "username": "u",
                "password": "p",
            },
            {"name": "fine", "host": "relay3.example.net", "tls": "ssl"},
        ],
    }
    with pytest.raises(ConfigError) as raised:
        create_app(config, instance_path=tmp_path)
    text = str(raised.value)
    assert "MAIL_RELAYS entry 'dev' is the development mail sink" in text
    assert "MAIL_RELAYS entry 'blind': tls_verify is off" in text
    assert "MAIL_RELAYS entry 'clear': credentials would cross the network in clear" in text
    assert "'fine'" not in text
