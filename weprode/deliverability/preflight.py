"""The pre-flight check before a campaign: would mailbox providers accept our mail?

Gmail and Yahoo require of bulk senders (February 2024) SPF and DKIM for the sending
domain, a DMARC record, and a working one-click unsubscribe (RFC 8058). We also need
BOUNCE_ADDRESS, without which no bounce comes back and the list rots. Each check says
ok, warning or failed, with a sentence in the reader's language saying what to fix.
Shown on a campaign's page before its first send and by
`flask --app app deliverability preflight` (exit 1 when a check failed).

DNS is asked through dnspython, of DNS_NAMESERVERS when set (`"127.0.0.1:5353"`, the
authoritative server to check records before they spread), else the system's resolvers.
"""

import http.client
import urllib.parse
from typing import Any

import dns.resolver
from flask_babel import gettext as _

from .. import tokens
from ..urls import absolute_url
from . import verp
from .preflight_dns import (
    FAILED,
    OK,
    WARNING,
    Check,
    dkim_check,
    dmarc,
    make_resolver,
    sender_domain,
    spf,
)

HTTP_TIMEOUT_SECONDS = 5.0
__all__ = ["FAILED", "OK", "WARNING", "Check", "failed", "run"]


def bounce_address(config: dict[str, Any]) -> Check:
    """BOUNCE_ADDRESS set: else nothing tells us which addresses died."""
    name = "BOUNCE_ADDRESS"
    if verp.bounce_address() is None:
        return Check(
            name,
            FAILED,
            _(
                "BOUNCE_ADDRESS is not set: bounces and complaints never come back, dead "
                "addresses stay on the list and hurt the domain. Set e.g. BOUNCE_ADDRESS = "
                '"bounces@%(domain)s" and pipe that mailbox to flask bounces ingest.',
                domain=sender_domain(config),
            ),
        )
    return Check(
        name, OK, _("Set: bounces come back to %(address)s.", address=config["BOUNCE_ADDRESS"])
    )


def one_click(config: dict[str, Any]) -> Check:
    """The unsubscribe URL of our mails answers 200 from outside, without a redirect.

    Asked with GET, which changes nothing (the POST unsubscribes), for a subscriber id
    that never exists: a 200 also proves the site runs with the key the links are
    signed with. Mailbox providers do not follow redirects on the one-click POST.
    """
    name = _("One-click unsubscribe")
    url = absolute_url("newsletter.unsubscribe", token=tokens.make_unsubscribe_token(0), lang=None)
    shown = url.rsplit("/", 1)[0] + "/…"
    parts = urllib.parse.urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    try:
        connection = connection_class(parts.netloc, timeout=HTTP_TIMEOUT_SECONDS)
        try:
            connection.request("GET", parts.path, headers={"User-Agent": "weprode-preflight"})
            status = connection.getresponse().status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as error:
        return Check(
            name,
            FAILED,
            _(
                "%(url)s cannot be reached (%(error)s): mailbox providers could not "
                "unsubscribe anybody. Check PUBLIC_URL and that the site is up.",
                url=shown,
                error=str(error) or type(error).__name__,
            ),
        )
    if status != 200:
        return Check(
            name,
            FAILED,
            _(
                "%(url)s answered %(status)s instead of 200: providers do not follow "
                "redirects, and a 400 means the site signs links with another key. Check "
                "PUBLIC_URL and SECRET_KEY.",
                url=shown,
                status=status,
            ),
        )
    if parts.scheme != "https":
        return Check(
            name,
            WARNING,
            _("%(url)s answers, but over http: providers expect https.", url=shown),
        )
    return Check(name, OK, _("%(url)s answers 200.", url=shown))


def run(config: dict[str, Any], resolver: dns.resolver.Resolver | None = None) -> list[Check]:
    """Every check, in the order to fix them; needs an app context (URLs, keys)."""
    resolver = resolver or make_resolver(config)
    return [
        spf(config, resolver),
        dkim_check(config, resolver),
        dmarc(config, resolver),
        bounce_address(config),
        one_click(config),
    ]


def failed(checks: list[Check]) -> bool:
    """True when any check failed."""
    return any(check.status == FAILED for check in checks)
