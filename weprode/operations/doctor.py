"""`flask doctor`: is this configuration fit for production, and what to fix if not.

Each check returns a `Finding`: OK, WARN (worth knowing, not wrong) or FAIL (wrong:
the command exits 1). Production rules apply whatever mode the command runs in, so a
developer sees what production needs. A configuration that production refuses
outright (a weak key, an http `PUBLIC_URL`) stops `flask` before any command runs,
with the same advice; these checks then matter for `--debug` runs and fallback keys.
"""

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import dkim.crypto
import dns.exception
import dns.resolver

from .. import config as settings
from ..cli import counted
from ..db import Database
from ..newsletter import importing
from . import health, relay_doctor

DNS_TIMEOUT_SECONDS = 5.0
# RFC 8301: verifiers must ignore RSA keys shorter than this.
SHORTEST_DKIM_KEY_BITS = 1024
NEW_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


class Verdict(StrEnum):
    """How a check came out."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    """One check's verdict and, unless OK, what to do about it."""

    check: str
    verdict: Verdict
    message: str


class DnsUnavailable(Exception):
    """The DNS could not be asked (no network, no resolver, timeout)."""


TxtLookup = Callable[[str], str | None]


def resolve_txt(name: str) -> str | None:
    """The TXT record at `name` that holds a key (`p=`), None when there is none.

    Raises DnsUnavailable when the DNS gives no answer either way.
    """
    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=DNS_TIMEOUT_SECONDS)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.exception.DNSException as error:
        raise DnsUnavailable(str(error) or type(error).__name__) from error
    records = [b"".join(record.strings).decode("ascii", "replace") for record in answer]
    return next((record for record in records if "p=" in record), None)


def secret_keys(config: dict[str, Any]) -> Finding:
    """SECRET_KEY and every fallback are long and random-looking."""
    weak = [
        name
        for name, key in [("SECRET_KEY", config["SECRET_KEY"])]
        + [("SECRET_KEY_FALLBACKS", key) for key in config["SECRET_KEY_FALLBACKS"]]
        if settings.is_weak_secret_key(key)
    ]
    if weak:
        return Finding(
            "secret key",
            Verdict.FAIL,
            f"{' and '.join(sorted(set(weak)))}: a key is shorter than "
            f"{settings.MIN_SECRET_KEY_LENGTH} characters or a known default. Put a new "
            f"key ({NEW_KEY}) in SECRET_KEY in instance/config.py, keeping the current "
            "one in SECRET_KEY_FALLBACKS while links signed with it may be clicked "
            "(README, Key rotation); drop a weak fallback once those links no longer matter.",
        )
    fallbacks = len(config["SECRET_KEY_FALLBACKS"])
    return Finding("secret key", Verdict.OK, f"strong ({counted(fallbacks, 'fallback key')})")


def public_url(config: dict[str, Any]) -> Finding:
    """PUBLIC_URL is the site's https address."""
    url = str(config["PUBLIC_URL"]).rstrip("/")
    if url == settings.DEVELOPMENT_PUBLIC_URL:
        problem = f"is the development default ({url}): links in mails would point there"
    elif not url.startswith("https://"):
        problem = f"is {url}, not https: links in mails and the staff cookie need https"
    else:
        return Finding("PUBLIC_URL", Verdict.OK, url)
    return Finding(
        "PUBLIC_URL",
        Verdict.FAIL,
        f'{problem}. Set PUBLIC_URL = "https://www.weprode.com" in instance/config.py.',
    )


def relays(config: dict[str, Any]) -> list[Finding]:
    """The MAIL_* relay and each MAIL_RELAYS entry (see `relay_doctor`)."""
    return [
        Finding(check, Verdict(verdict), message)
        for check, verdict, message in relay_doctor.relay_findings(config)
    ]


def published_rsa_key(record: str) -> tuple[int, int]:
    """(modulus, exponent) of the RSA key in a DKIM TXT record; ValueError if none."""
    tags = {}
    for part in record.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            tags[name.strip()] = re.sub(r"\s", "", value)
    if tags.get("k", "rsa") != "rsa":
        raise ValueError(f"its key type is k={tags['k']}, not rsa")
    if not tags.get("p"):
        raise ValueError("its p= is empty, which revokes the key")
    try:
        key = dkim.crypto.parse_public_key(base64.b64decode(tags["p"], validate=True))
    except (binascii.Error, dkim.crypto.UnparsableKeyError) as error:
        raise ValueError(f"its p= is not an RSA public key ({error})") from error
    return key["modulus"], key["publicExponent"]


def dkim_key(config: dict[str, Any], lookup_txt: TxtLookup) -> Finding:
    """The DKIM key file is a readable RSA key, and the one published for its selector."""
    key_file = config["DKIM_PRIVATE_KEY_FILE"]
    if not key_file:
        return Finding(
            "DKIM",
            Verdict.WARN,
            "not configured: campaigns go out unsigned, which mailbox providers trust "
            "less. See DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR, DKIM_DOMAIN in the README.",
        )
    selector, domain = config["DKIM_SELECTOR"], config["DKIM_DOMAIN"]
    if not selector or not domain:
        return Finding(
            "DKIM", Verdict.FAIL, "set DKIM_SELECTOR and DKIM_DOMAIN with DKIM_PRIVATE_KEY_FILE."
        )
    try:
        private = dkim.crypto.parse_pem_private_key(Path(key_file).read_bytes())
    except OSError as error:
        return Finding(
            "DKIM",
            Verdict.FAIL,
            f"cannot read {key_file} ({error.strerror}): the service user must be able to.",
        )
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError, TypeError):
        return Finding(
            "DKIM",
            Verdict.FAIL,
            f"{key_file} is not a PEM RSA private key (openssl genrsa -out FILE 2048).",
        )
    bits = private["modulus"].bit_length()
    if bits < SHORTEST_DKIM_KEY_BITS:
        return Finding(
            "DKIM",
            Verdict.FAIL,
            f"{key_file} is a {bits}-bit key; verifiers ignore keys under "
            f"{SHORTEST_DKIM_KEY_BITS} bits. Make a 2048-bit one (openssl genrsa).",
        )
    name = f"{selector}._domainkey.{domain}"
    publish = (
        f'publish a TXT record "v=DKIM1; k=rsa; p=..." at {name}, where p= is the '
        f"output of: openssl rsa -in {key_file} -pubout -outform DER | base64 -w0"
    )
    try:
        record = lookup_txt(name)
    except DnsUnavailable as error:
        return Finding(
            "DKIM",
            Verdict.WARN,
            f"{key_file} is a {bits}-bit RSA key, but {name} could not be looked up "
            f"({error}). Check by hand that the record matches: {publish}.",
        )
    if record is None:
        return Finding("DKIM", Verdict.FAIL, f"no DKIM key is published at {name}: {publish}.")
    try:
        published = published_rsa_key(record)
    except ValueError as error:
        return Finding(
            "DKIM", Verdict.FAIL, f"the record at {name} is unusable: {error}. {publish}."
        )
    if published != (private["modulus"], private["publicExponent"]):
        return Finding(
            "DKIM",
            Verdict.FAIL,
            f"the key published at {name} is not the public half of {key_file}: "
            f"signatures would fail. Either {publish}, or point DKIM_PRIVATE_KEY_FILE "
            "and DKIM_SELECTOR at the key that is published.",
        )
    return Finding("DKIM", Verdict.OK, f"{key_file} ({bits}-bit RSA) matches {name}")


# Facts the legal notice must state (LCEN art. 6 III) that FACTS.md did not give.
COMPANY_FACTS = {
    "COMPANY_PHONE": ("phone number", '"+33 4 .. .. .. .."'),
    "COMPANY_VAT_NUMBER": ("intra-community VAT number", '"FR.. 908323652"'),
}


def company_facts(config: dict[str, Any]) -> Finding:
    """The legal notice lacks none of the facts French law requires of the publisher."""
    missing = [name for name in COMPANY_FACTS if not str(config.get(name) or "").strip()]
    if not missing:
        return Finding("company facts", Verdict.OK, "the legal notice states every required fact")
    what = " and ".join(COMPANY_FACTS[name][0] for name in missing)
    lines = "; ".join(f"{name} = {COMPANY_FACTS[name][1]}" for name in missing)
    return Finding(
        "company facts",
        Verdict.FAIL,
        f"the legal notice must give the publisher's {what} (LCEN art. 6 III). Ask the "
        f"company, then set them in instance/config.py: {lines}",
    )


def site_health(db: Database, config: dict[str, Any], now: datetime) -> list[Finding]:
    """What /healthz would answer now; warnings only, since the configuration may be fine."""
    verdict = health.check(db, config, now)
    if verdict.ok:
        return [Finding("health", Verdict.OK, "/healthz answers ok")]
    return [
        Finding("health", Verdict.WARN, f"/healthz fails: {reason}") for reason in verdict.reasons
    ]


def stopped_imports(db: Database, now: datetime) -> list[Finding]:
    """Imports whose process died mid-way (their records are hidden until resolved)."""
    return [
        Finding(
            "import",
            Verdict.FAIL,
            f"import {record['id']} stopped mid-way ({record['status']}, "
            f"{record['committed_entries']}/{record['entries']} addresses); none of it is "
            f"visible. Run `flask --app app import resume {record['id']}` or `import "
            f"rollback {record['id']}` (the campaign worker does one of them on its next pass).",
        )
        for record in importing.recovery.abandoned(db, now)
    ]


def run(
    config: dict[str, Any], db: Database, now: datetime, lookup_txt: TxtLookup = resolve_txt
) -> list[Finding]:
    """Every check, in the order an operator would fix them."""
    return [
        secret_keys(config),
        public_url(config),
        *relays(config),
        dkim_key(config, lookup_txt),
        company_facts(config),
        *site_health(db, config, now),
        *stopped_imports(db, now),
    ]
