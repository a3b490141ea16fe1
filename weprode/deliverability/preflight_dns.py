"""The pre-flight check's DNS part: SPF, DKIM and DMARC records of the sending domain.

Asked through dnspython, of DNS_NAMESERVERS when set, else the system's resolvers.
Each check returns a `Check`: ok, warning or failed, with what to fix in the reader's
language.
"""

from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import dkim.crypto
import dns.exception
import dns.nameserver
import dns.resolver
from flask_babel import gettext as _

from ..operations.doctor_dkim import SHORTEST_DKIM_KEY_BITS, published_rsa_key

DNS_TIMEOUT_SECONDS = 4.0
OK, WARNING, FAILED = "ok", "warning", "failed"


@dataclass(frozen=True)
class Check:
    """One check's outcome: which, ok/warning/failed, and what to do."""

    name: str
    status: str
    message: str


class DnsUnavailable(Exception):
    """The DNS gave no answer either way (timeout, no server)."""


def make_resolver(config: dict[str, Any]) -> dns.resolver.Resolver:
    """The system's resolver, or one asking DNS_NAMESERVERS (`host` or `host:port` each)."""
    servers = config.get("DNS_NAMESERVERS") or []
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [nameserver(text) for text in servers]
    resolver.lifetime = DNS_TIMEOUT_SECONDS
    # A 2048-bit DKIM key does not fit a plain 512-byte answer.
    resolver.use_edns(0, 0, 1232)
    return resolver


def nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    """`127.0.0.1`, `127.0.0.1:5353` or `[::1]:53` as a nameserver."""
    host, colon, port = text.rpartition(":")
    if not colon or "]" in port or (host.count(":") and not host.startswith("[")):
        return dns.nameserver.Do53Nameserver(text.strip("[]"), 53)
    return dns.nameserver.Do53Nameserver(host.strip("[]"), int(port))


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT records at `name` (each one's strings joined); [] when there are none."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as error:
        raise DnsUnavailable(str(error) or type(error).__name__) from error
    return [b"".join(record.strings).decode("ascii", "replace") for record in answer]


def sender_domain(config: dict[str, Any]) -> str:
    """The domain in the campaigns' `From` (what DMARC judges)."""
    sender = config.get("CAMPAIGN_SENDER") or config["MAIL_DEFAULT_SENDER"]
    return parseaddr(sender)[1].rpartition("@")[2].lower()


def envelope_domain(config: dict[str, Any]) -> str:
    """The domain of the envelope sender (what SPF judges): BOUNCE_ADDRESS's, else From's."""
    address = parseaddr(config.get("BOUNCE_ADDRESS") or "")[1]
    return address.rpartition("@")[2].lower() or sender_domain(config)


def aligned(domain: str, sender: str) -> bool:
    """Relaxed DMARC alignment, approximated: one domain is the other or a parent of it."""
    return domain == sender or sender.endswith("." + domain) or domain.endswith("." + sender)


def unreachable(name: str, domain: str, error: DnsUnavailable) -> Check:
    """A check that could not ask the DNS."""
    return Check(
        name,
        WARNING,
        _(
            "The DNS did not answer for %(domain)s (%(error)s). Check the network or "
            "DNS_NAMESERVERS, then run the check again.",
            domain=domain,
            error=str(error),
        ),
    )


def spf(config: dict[str, Any], resolver: dns.resolver.Resolver) -> Check:
    """One SPF record at the envelope domain, and not one letting anybody send."""
    name, domain = "SPF", envelope_domain(config)
    try:
        records = [r for r in txt_records(resolver, domain) if r.lower().startswith("v=spf1")]
    except DnsUnavailable as error:
        return unreachable(name, domain, error)
    if not records:
        return Check(
            name,
            FAILED,
            _(
                "No SPF record at %(domain)s. Publish a TXT record naming the relay that "
                'sends for you, e.g. "v=spf1 include:<your relay> -all".',
                domain=domain,
            ),
        )
    if len(records) > 1:
        return Check(
            name,
            FAILED,
            _(
                "%(domain)s has %(count)s SPF records; receivers then treat SPF as broken. "
                "Merge them into one.",
                domain=domain,
                count=len(records),
            ),
        )
    terms = records[0].lower().split()
    if "+all" in terms or "all" in terms:
        return Check(
            name,
            FAILED,
            _(
                "The SPF record at %(domain)s ends in +all, which lets anybody send as you. "
                "End it with -all or ~all.",
                domain=domain,
            ),
        )
    return Check(name, OK, _("SPF record found at %(domain)s.", domain=domain))


def dmarc(config: dict[str, Any], resolver: dns.resolver.Resolver) -> Check:
    """A DMARC record for the From domain (Gmail and Yahoo require one, p=none at least)."""
    name, domain = "DMARC", sender_domain(config)
    record_name = f"_dmarc.{domain}"
    try:
        records = [
            r for r in txt_records(resolver, record_name) if r.lower().startswith("v=dmarc1")
        ]
    except DnsUnavailable as error:
        return unreachable(name, record_name, error)
    if len(records) != 1:
        return Check(
            name,
            FAILED,
            _(
                "No usable DMARC record at %(name)s. Publish one TXT record such as "
                '"v=DMARC1; p=none; rua=mailto:dmarc@%(domain)s".',
                name=record_name,
                domain=domain,
            ),
        )
    tags = dict(
        (key.strip().lower(), value.strip().lower())
        for key, _eq, value in (part.partition("=") for part in records[0].split(";"))
    )
    if tags.get("p") not in ("none", "quarantine", "reject"):
        return Check(
            name,
            FAILED,
            _(
                "The DMARC record at %(name)s has no valid policy (p=none, quarantine or "
                "reject). Add one.",
                name=record_name,
            ),
        )
    return Check(
        name,
        OK,
        _("DMARC record found at %(name)s (p=%(policy)s).", name=record_name, policy=tags["p"]),
    )


def dkim_check(config: dict[str, Any], resolver: dns.resolver.Resolver) -> Check:
    """A DKIM key configured, aligned with From, and its public half published."""
    name = "DKIM"
    key_file, selector = config.get("DKIM_PRIVATE_KEY_FILE"), config.get("DKIM_SELECTOR")
    domain = (config.get("DKIM_DOMAIN") or "").lower()
    if not key_file or not selector or not domain:
        return Check(
            name,
            FAILED,
            _(
                "Campaigns are not signed: Gmail and Yahoo require DKIM of bulk senders. Set "
                "DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR and DKIM_DOMAIN (see the README)."
            ),
        )
    try:
        private = dkim.crypto.parse_pem_private_key(Path(key_file).read_bytes())
    except OSError as error:
        return Check(
            name,
            FAILED,
            _("Cannot read %(file)s (%(error)s).", file=key_file, error=error.strerror),
        )
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError, TypeError):
        return Check(name, FAILED, _("%(file)s is not a PEM RSA private key.", file=key_file))
    if private["modulus"].bit_length() < SHORTEST_DKIM_KEY_BITS:
        return Check(
            name, FAILED, _("%(file)s is too short a key: make a 2048-bit one.", file=key_file)
        )
    record_name = f"{selector}._domainkey.{domain}"
    publish = _(
        'Publish a TXT record "v=DKIM1; k=rsa; p=..." at %(name)s, where p= is the output '
        "of: openssl rsa -in %(file)s -pubout -outform DER | base64 -w0",
        name=record_name,
        file=key_file,
    )
    try:
        records = [r for r in txt_records(resolver, record_name) if "p=" in r]
    except DnsUnavailable as error:
        return unreachable(name, record_name, error)
    if not records:
        return Check(name, FAILED, _("No DKIM key at %(name)s.", name=record_name) + " " + publish)
    try:
        published = published_rsa_key(records[0])
    except ValueError as error:
        return Check(
            name,
            FAILED,
            _("The record at %(name)s is unusable (%(error)s).", name=record_name, error=error)
            + " "
            + publish,
        )
    if published != (private["modulus"], private["publicExponent"]):
        return Check(
            name,
            FAILED,
            _(
                "The key published at %(name)s does not match %(file)s: every signature "
                "would fail.",
                name=record_name,
                file=key_file,
            )
            + " "
            + publish,
        )
    if not aligned(domain, sender_domain(config)):
        return Check(
            name,
            WARNING,
            _(
                "The key at %(name)s matches, but DKIM_DOMAIN (%(domain)s) is not the From "
                "domain (%(sender)s) or a parent of it, so DMARC cannot rely on it.",
                name=record_name,
                domain=domain,
                sender=sender_domain(config),
            ),
        )
    return Check(
        name, OK, _("The key at %(name)s matches %(file)s.", name=record_name, file=key_file)
    )
