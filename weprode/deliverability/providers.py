"""Which mailbox provider hosts an address: the unit that throttles us, and that we pace.

Providers accept, defer and count complaints per provider, not per domain: Gmail's
answer for gmail.com and googlemail.com is one. The map covers the providers most of
our readers use (France first); any other domain is its own provider.
"""

# Domain -> provider. Subdomains count too (mail.orange.fr is Orange).
PROVIDER_DOMAINS = {
    "gmail": ["gmail.com", "googlemail.com"],
    "microsoft": [
        "outlook.com",
        "outlook.fr",
        "hotmail.com",
        "hotmail.fr",
        "live.com",
        "live.fr",
        "msn.com",
        "windowslive.com",
    ],
    "yahoo": [
        "yahoo.com",
        "yahoo.fr",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aol.fr",
        "aim.com",
    ],
    "apple": ["icloud.com", "me.com", "mac.com"],
    "orange": ["orange.fr", "wanadoo.fr", "voila.fr"],
    "free": ["free.fr", "aliceadsl.fr", "libertysurf.fr", "freesbee.fr"],
    "sfr": ["sfr.fr", "neuf.fr", "cegetel.net", "club-internet.fr", "noos.fr", "9online.fr"],
    "laposte": ["laposte.net"],
    "bouygues": ["bbox.fr"],
}

DOMAIN_PROVIDERS = {
    domain: provider for provider, domains in PROVIDER_DOMAINS.items() for domain in domains
}


def provider_of(domain: str) -> str:
    """The provider hosting `domain` (or an address), or the domain itself when unknown."""
    domain = domain.rpartition("@")[2].strip().lower().rstrip(".")
    parts = domain.split(".")
    for start in range(len(parts) - 1):
        provider = DOMAIN_PROVIDERS.get(".".join(parts[start:]))
        if provider is not None:
            return provider
    return domain
