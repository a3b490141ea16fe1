"""The relays campaigns are handed to: `MAIL_RELAYS`, or the one `MAIL_*` relay.

One relay is a single point of failure and a ceiling on speed; a pool (several
Postfix hosts, or an EU sending service beside our own Postfix) removes both. Each
entry of `MAIL_RELAYS` is a dict:

    {"name": "postfix-a", "host": "10.0.0.5", "port": 587, "tls": "starttls",
     "username": "...", "password": "...", "weight": 2, "max_connections": 4}

`tls` is "starttls" (default), "ssl" (TLS at once, port 465) or "none"; `tls_verify`
and `tls_ca_file` default to MAIL_TLS_VERIFY and MAIL_TLS_CA_FILE. With no
MAIL_RELAYS, the MAIL_* relay is a pool of one. This module only reads and checks
the settings; `relay_pool` spreads sessions over them at send time.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

TLS_MODES = ("starttls", "ssl", "none")
ENTRY_KEYS = {
    "name",
    "host",
    "port",
    "tls",
    "username",
    "password",
    "weight",
    "max_connections",
    "tls_verify",
    "tls_ca_file",
}
DEFAULT_MAX_CONNECTIONS = 4


class RelayConfigError(ValueError):
    """A MAIL_RELAYS entry is malformed; the message names it."""


@dataclass(frozen=True)
class Relay:
    """One SMTP relay and how we may use it."""

    name: str
    host: str
    port: int
    tls: str
    username: str | None
    password: str | None
    weight: float
    max_connections: int
    tls_verify: bool
    tls_ca_file: str

    @property
    def address(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"


def single_relay(config: Mapping[str, Any]) -> Relay:
    """The MAIL_* relay as a pool of one, with every campaign session allowed on it (those
    of every sending process: CAMPAIGN_SMTP_CONNECTIONS each)."""
    tls = "ssl" if config["MAIL_USE_SSL"] else "starttls" if config["MAIL_USE_TLS"] else "none"
    return Relay(
        name=f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}",
        host=str(config["MAIL_SERVER"]),
        port=int(config["MAIL_PORT"]),
        tls=tls,
        username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"],
        weight=1.0,
        max_connections=max(1, int(config["CAMPAIGN_SMTP_CONNECTIONS"]))
        * max(1, int(config.get("CAMPAIGN_SENDER_PROCESSES", 1))),
        tls_verify=bool(config["MAIL_TLS_VERIFY"]),
        tls_ca_file=str(config["MAIL_TLS_CA_FILE"] or ""),
    )


def configured_relays(config: Mapping[str, Any]) -> list[Relay]:
    """The relays campaigns use; raises RelayConfigError naming a bad entry."""
    entries = config.get("MAIL_RELAYS") or []
    if not isinstance(entries, list | tuple):
        raise RelayConfigError(
            f"MAIL_RELAYS must be a list of dicts, not {type(entries).__name__}."
        )
    if not entries:
        return [single_relay(config)]
    relays = [relay_from_entry(index, entry, config) for index, entry in enumerate(entries)]
    names = [relay.name for relay in relays]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise RelayConfigError(f"MAIL_RELAYS: two entries are named {duplicate!r}.")
    return relays


def share_of(relays: list[Relay], member: int, processes: int) -> list[Relay]:
    """Process `member`'s part of each relay when `processes` send together: its
    `max_connections` shared out (the first processes take the remainder), so the
    relay never gets more sessions in all. A relay with no session left for this
    process is not in its list."""
    shares = []
    for relay in relays:
        room = relay.max_connections // processes + (member < relay.max_connections % processes)
        if room:
            shares.append(replace(relay, max_connections=room))
    return shares


def relay_from_entry(index: int, entry: object, config: Mapping[str, Any]) -> Relay:
    """One MAIL_RELAYS entry, checked."""
    where = f"MAIL_RELAYS[{index}]"
    if not isinstance(entry, Mapping):
        raise RelayConfigError(f"{where} must be a dict, not {entry!r}.")
    where = f"MAIL_RELAYS[{index}] ({entry.get('name') or entry.get('host') or 'no host'})"
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise RelayConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(ENTRY_KEYS))}."
        )
    host = entry.get("host")
    if not isinstance(host, str) or not host.strip():
        raise RelayConfigError(f"{where}: 'host' is required (a name or an address).")
    tls = entry.get("tls", "starttls")
    if tls not in TLS_MODES:
        modes = ", ".join(TLS_MODES)
        raise RelayConfigError(f"{where}: 'tls' must be one of {modes}, not {tls!r}.")
    port = entry.get("port", 465 if tls == "ssl" else 587)
    weight = entry.get("weight", 1)
    max_connections = entry.get("max_connections", DEFAULT_MAX_CONNECTIONS)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise RelayConfigError(f"{where}: 'port' must be a number from 1 to 65535, not {port!r}.")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise RelayConfigError(f"{where}: 'weight' must be a positive number, not {weight!r}.")
    if isinstance(max_connections, bool) or not isinstance(max_connections, int):
        raise RelayConfigError(f"{where}: 'max_connections' must be a whole number.")
    if max_connections < 1:
        raise RelayConfigError(f"{where}: 'max_connections' must be at least 1.")
    username, password = entry.get("username"), entry.get("password")
    if bool(username) != bool(password):
        raise RelayConfigError(f"{where}: give both 'username' and 'password', or neither.")
    return Relay(
        name=str(entry.get("name") or f"{host}:{port}"),
        host=host.strip(),
        port=port,
        tls=tls,
        username=username or None,
        password=password or None,
        weight=float(weight),
        max_connections=max_connections,
        tls_verify=bool(entry.get("tls_verify", config["MAIL_TLS_VERIFY"])),
        tls_ca_file=str(entry.get("tls_ca_file", config["MAIL_TLS_CA_FILE"]) or ""),
    )


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: a relay on this very host."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def production_problems(config: Mapping[str, Any], development_relay: tuple[str, int]) -> list[str]:
    """What makes MAIL_RELAYS unfit outside development, in plain words.

    The single MAIL_* relay is checked by `config.production_problems`; each pool
    entry gets the same checks: not the development sink, and TLS that verifies the
    relay (off only for a relay on this host), with credentials never sent in clear.
    """
    if not config.get("MAIL_RELAYS"):
        return []
    problems = []
    for relay in configured_relays(config):
        where = f"MAIL_RELAYS entry {relay.name!r}"
        if (relay.host, relay.port) == development_relay:
            problems.append(
                f"{where} is the development mail sink ({relay.address}). Set a real relay."
            )
        if is_loopback(relay.host):
            continue
        if relay.tls != "none" and not relay.tls_verify:
            problems.append(
                f"{where}: tls_verify is off for {relay.host}, which is not this host: anyone "
                "on the path could read every mail. Trust its CA with tls_ca_file instead."
            )
        if relay.tls == "none" and relay.username:
            problems.append(
                f"{where}: credentials would cross the network in clear; set 'tls' to "
                "'starttls' or 'ssl'."
            )
    return problems
