"""Which mailbox provider an address's domain belongs to.

Providers judge a sender across all their domains (Gmail's reputation covers
googlemail.com too, Microsoft's every hotmail.* and outlook.*), so figures and, later,
sending rates are grouped by provider, not by domain. A domain nobody maps stands for
itself. Keep the table up to date when a provider merges or renames its domains.
"""

import re

# Provider -> domains. A name ending in ".*" stands for that name under any country or
# generic top-level domain (hotmail.fr, hotmail.co.uk, outlook.com...).
PROVIDERS: dict[str, tuple[str, ...]] = {
    "Gmail": ("gmail.com", "googlemail.com"),
    "Microsoft": ("outlook.*", "hotmail.*", "live.*", "msn.com", "windowslive.com"),
    "Yahoo/AOL": ("yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com"),
    "Apple": ("icloud.com", "me.com", "mac.com"),
    "Orange/Wanadoo": ("orange.fr", "wanadoo.fr", "voila.fr"),
    # Alice and Liberty Surf mailboxes are hosted by Free since it bought them.
    "Free": ("free.fr", "aliceadsl.fr", "libertysurf.fr"),
    "SFR": ("sfr.fr", "neuf.fr", "cegetel.net", "club-internet.fr"),
    "La Poste": ("laposte.net",),
    "Bouygues": ("bbox.fr",),
}
# What may follow a ".*" name: a top-level domain, or a country's second level.
ANY_TOP_LEVEL = r"(?:[a-z]{2,6}|(?:co|com|net|org)\.[a-z]{2})"

EXACT = {
    domain: provider
    for provider, domains in PROVIDERS.items()
    for domain in domains
    if not domain.endswith(".*")
}
# "hotmail" -> "Microsoft": the first label of each ".*" name.
ANY_TOP_LEVEL_NAMES = {
    domain[:-2]: provider
    for provider, domains in PROVIDERS.items()
    for domain in domains
    if domain.endswith(".*")
}
TOP_LEVEL = re.compile(ANY_TOP_LEVEL)


def provider_of(domain: str) -> str:
    """The provider's name for `domain` (`Gmail`), or the domain itself, lowercased."""
    domain = domain.strip().rstrip(".").lower()
    if domain in EXACT:
        return EXACT[domain]
    name, _, rest = domain.partition(".")
    if name in ANY_TOP_LEVEL_NAMES and TOP_LEVEL.fullmatch(rest):
        return ANY_TOP_LEVEL_NAMES[name]
    return domain


def domain_of(address: str) -> str:
    """The part of an address after its last `@`, lowercased."""
    return address.rpartition("@")[2].lower()
