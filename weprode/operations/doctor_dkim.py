"""`flask doctor`'s DKIM check: the key file is a readable RSA key of a size verifiers
accept, and the very key published in DNS for its selector.

Returns (check, "OK"/"WARN"/"FAIL", message) like `relay_doctor`, worded in the current
locale; records and commands stay as the operator types them.
"""

import base64
import binascii
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim.crypto
import dns.exception
import dns.resolver
from flask_babel import gettext as _

DNS_TIMEOUT_SECONDS = 5.0
# RFC 8301: verifiers must ignore RSA keys shorter than this.
SHORTEST_DKIM_KEY_BITS = 1024


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


def published_rsa_key(record: str) -> tuple[int, int]:
    """(modulus, exponent) of the RSA key in a DKIM TXT record; ValueError if none."""
    tags = {}
    for part in record.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            tags[name.strip()] = re.sub(r"\s", "", value)
    if tags.get("k", "rsa") != "rsa":
        raise ValueError(_("its key type is k=%(type)s, not rsa", type=tags["k"]))
    if not tags.get("p"):
        raise ValueError(_("its p= is empty, which revokes the key"))
    try:
        key = dkim.crypto.parse_public_key(base64.b64decode(tags["p"], validate=True))
    except (binascii.Error, dkim.crypto.UnparsableKeyError) as error:
        raise ValueError(_("its p= is not an RSA public key (%(error)s)", error=error)) from error
    return key["modulus"], key["publicExponent"]


def dkim_key(config: dict[str, Any], lookup_txt: TxtLookup) -> tuple[str, str, str]:
    """The DKIM key file is a readable RSA key, and the one published for its selector."""
    key_file = config["DKIM_PRIVATE_KEY_FILE"]
    if not key_file:
        return (
            "DKIM",
            "WARN",
            _(
                "not configured: campaigns go out unsigned, which mailbox providers trust "
                "less. See DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR, DKIM_DOMAIN in the README."
            ),
        )
    selector, domain = config["DKIM_SELECTOR"], config["DKIM_DOMAIN"]
    if not selector or not domain:
        return (
            "DKIM",
            "FAIL",
            _("set DKIM_SELECTOR and DKIM_DOMAIN with DKIM_PRIVATE_KEY_FILE."),
        )
    try:
        private = dkim.crypto.parse_pem_private_key(Path(key_file).read_bytes())
    except OSError as error:
        return (
            "DKIM",
            "FAIL",
            _(
                "cannot read %(file)s (%(error)s): the service user must be able to.",
                file=key_file,
                error=error.strerror,
            ),
        )
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError, TypeError):
        return (
            "DKIM",
            "FAIL",
            _(
                "%(file)s is not a PEM RSA private key (openssl genrsa -out FILE 2048).",
                file=key_file,
            ),
        )
    bits = private["modulus"].bit_length()
    if bits < SHORTEST_DKIM_KEY_BITS:
        return (
            "DKIM",
            "FAIL",
            _(
                "%(file)s is a %(bits)s-bit key; verifiers ignore keys under %(shortest)s "
                "bits. Make a 2048-bit one (openssl genrsa).",
                file=key_file,
                bits=bits,
                shortest=SHORTEST_DKIM_KEY_BITS,
            ),
        )
    name = f"{selector}._domainkey.{domain}"
    publish = _(
        'publish a TXT record "v=DKIM1; k=rsa; p=..." at %(name)s, where p= is the output '
        "of: openssl rsa -in %(file)s -pubout -outform DER | base64 -w0",
        name=name,
        file=key_file,
    )
    try:
        record = lookup_txt(name)
    except DnsUnavailable as error:
        return (
            "DKIM",
            "WARN",
            _(
                "%(file)s is a %(bits)s-bit RSA key, but %(name)s could not be looked up "
                "(%(error)s). Check by hand that the record matches: %(publish)s.",
                file=key_file,
                bits=bits,
                name=name,
                error=error,
                publish=publish,
            ),
        )
    if record is None:
        return (
            "DKIM",
            "FAIL",
            _("no DKIM key is published at %(name)s: %(publish)s.", name=name, publish=publish),
        )
    try:
        published = published_rsa_key(record)
    except ValueError as error:
        return (
            "DKIM",
            "FAIL",
            _(
                "the record at %(name)s is unusable: %(error)s. %(publish)s.",
                name=name,
                error=error,
                publish=publish,
            ),
        )
    if published != (private["modulus"], private["publicExponent"]):
        return (
            "DKIM",
            "FAIL",
            _(
                "the key published at %(name)s is not the public half of %(file)s: "
                "signatures would fail. Either %(publish)s, or point DKIM_PRIVATE_KEY_FILE "
                "and DKIM_SELECTOR at the key that is published.",
                name=name,
                file=key_file,
                publish=publish,
            ),
        )
    return (
        "DKIM",
        "OK",
        _("%(file)s (%(bits)s-bit RSA) matches %(name)s", file=key_file, bits=bits, name=name),
    )
