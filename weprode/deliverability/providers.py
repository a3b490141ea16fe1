"""Which mailbox provider hosts an address: the unit that throttles us, that we pace,
and that the Deliverability page counts by.

Providers judge a sender across all their domains (Gmail's answer for gmail.com and
googlemail.com is one, Microsoft's covers every hotmail.* and outlook.*), so sending
rates and figures go by provider, not by domain. A domain nobody maps stands for
itself. Keep the table up to date when a provider merges or renames its domains.
"""

import re

# Provider id (PROVIDER_LIMITS' keys, `deliveries.provider`) -> (name shown to staff,
# domains). A domain ending in ".*" stands for that name under any country or generic
# top-level domain (hotmail.fr, hotmail.co.uk...); subdomains count too (mail.orange.fr).
PROVIDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gmail": ("Gmail", ("gmail.com", "googlemail.com")),
    "microsoft": ("Microsoft", ("outlook.*", "hotmail.*", "live.*", "msn.com", "windowslive.com")),
    "yahoo": ("Yahoo/AOL", ("yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com")),
    "apple": ("Apple", ("icloud.com", "me.com", "mac.com")),
    "orange": ("Orange/Wanadoo", ("orange.fr", "wanadoo.fr", "voila.fr")),
    # Alice and Liberty Surf mailboxes are hosted by Free since it bought them.
    "free": ("Free", ("free.fr", "aliceadsl.fr", "libertysurf.fr", "freesbee.fr")),
    "sfr": (
        "SFR",
        ("sfr.fr", "neuf.fr", "cegetel.net", "club-internet.fr", "noos.fr", "9online.fr"),
    ),
    "laposte": ("La Poste", ("laposte.net",)),
    "bouygues": ("Bouygues", ("bbox.fr",)),
}
# What may follow a ".*" name: a top-level domain, or a country's second level.
TOP_LEVEL = re.compile(r"(?:[a-z]{2,6}|(?:co|com|net|org)\.[a-z]{2})")

EXACT = {
    domain: provider
    for provider, (_name, domains) in PROVIDERS.items()
    for domain in domains
    if not domain.endswith(".*")
}
# "hotmail" -> "microsoft": the first label of each ".*" name.
ANY_TOP_LEVEL_NAMES = {
    domain[:-2]: provider
    for provider, (_name, domains) in PROVIDERS.items()
    for domain in domains
    if domain.endswith(".*")
}


def provider_of(domain: str) -> str:
    """The id of the provider hosting `domain` (or an address), else the domain itself."""
    domain = domain_of(domain).strip().rstrip(".")
    parts = domain.split(".")
    for start in range(len(parts) - 1):
        suffix = ".".join(parts[start:])
        if suffix in EXACT:
            return EXACT[suffix]
        name, _, rest = suffix.partition(".")
        if name in ANY_TOP_LEVEL_NAMES and TOP_LEVEL.fullmatch(rest):
            return ANY_TOP_LEVEL_NAMES[name]
    return domain


def provider_name(domain: str) -> str:
    """The provider's name for staff (`Gmail`), or the domain itself, lowercased."""
    provider = provider_of(domain)
    return PROVIDERS[provider][0] if provider in PROVIDERS else provider


def domain_of(address: str) -> str:
    """The part of an address after its last `@` (all of it if none), lowercased."""
    return address.rpartition("@")[2].lower()
