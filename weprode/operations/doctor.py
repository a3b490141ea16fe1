"""`flask doctor`: is this configuration fit for production, and what to fix if not.

Each check returns a `Finding`: OK, WARN (worth knowing, not wrong) or FAIL (wrong:
the command exits 1). Production rules apply whatever mode the command runs in, so a
developer sees what production needs. A configuration that production refuses
outright (a weak key, an http `PUBLIC_URL`) stops `flask` before any command runs,
with the same advice; these checks then matter for `--debug` runs and fallback keys.
Checks and advice are worded in the current locale (the command runs in STAFF_LANGUAGE);
setting names, commands and DNS records stay as the operator types them.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import config as settings
from ..db import Database
from ..newsletter import importing
from . import doctor_dkim, health, relay_doctor
from .doctor_dkim import DnsUnavailable, TxtLookup, resolve_txt

# The command and the tests reach the DKIM module's lookup through this one.
__all__ = ["DnsUnavailable", "Finding", "TxtLookup", "Verdict", "resolve_txt", "run"]
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
            _("secret key"),
            Verdict.FAIL,
            _(
                "%(names)s: a key is shorter than %(length)s characters or a known default. "
                "Put a new key (%(command)s) in SECRET_KEY in instance/config.py, keeping the "
                "current one in SECRET_KEY_FALLBACKS while links signed with it may be "
                "clicked (README, Key rotation); drop a weak fallback once those links no "
                "longer matter.",
                names=either_and(sorted(set(weak))),
                length=settings.MIN_SECRET_KEY_LENGTH,
                command=NEW_KEY,
            ),
        )
    fallbacks = len(config["SECRET_KEY_FALLBACKS"])
    strong = ngettext("strong (%(num)s fallback key)", "strong (%(num)s fallback keys)", fallbacks)
    return Finding(_("secret key"), Verdict.OK, strong)


def either_and(words: list[str]) -> str:
    """`a and b` in the current language."""
    return (
        _("%(first)s and %(second)s", first=words[0], second=words[1])
        if len(words) == 2
        else words[0]
    )


def public_url(config: dict[str, Any]) -> Finding:
    """PUBLIC_URL is the site's https address."""
    url = str(config["PUBLIC_URL"]).rstrip("/")
    if url == settings.DEVELOPMENT_PUBLIC_URL:
        problem = _(
            "is the development default (%(url)s): links in mails would point there", url=url
        )
    elif not url.startswith("https://"):
        problem = _(
            "is %(url)s, not https: links in mails and the staff cookie need https", url=url
        )
    else:
        return Finding("PUBLIC_URL", Verdict.OK, url)
    return Finding(
        "PUBLIC_URL",
        Verdict.FAIL,
        _(
            '%(problem)s. Set PUBLIC_URL = "https://www.weprode.com" in instance/config.py.',
            problem=problem,
        ),
    )


def relays(config: dict[str, Any]) -> list[Finding]:
    """The MAIL_* relay and each MAIL_RELAYS entry (see `relay_doctor`)."""
    return [
        Finding(check, Verdict(verdict), message)
        for check, verdict, message in relay_doctor.relay_findings(config)
    ]


def dkim_key(config: dict[str, Any], lookup_txt: TxtLookup) -> Finding:
    """The DKIM key file and its published record (see `doctor_dkim`)."""
    check, verdict, message = doctor_dkim.dkim_key(config, lookup_txt)
    return Finding(check, Verdict(verdict), message)


# Facts the legal notice must state (LCEN art. 6 III) that FACTS.md did not give.
COMPANY_FACTS = {
    "COMPANY_PHONE": (_l("phone number"), '"+33 4 .. .. .. .."'),
    "COMPANY_VAT_NUMBER": (_l("intra-community VAT number"), '"FR.. 908323652"'),
}


def company_facts(config: dict[str, Any]) -> Finding:
    """The legal notice lacks none of the facts French law requires of the publisher."""
    missing = [name for name in COMPANY_FACTS if not str(config.get(name) or "").strip()]
    if not missing:
        return Finding(
            _("company facts"), Verdict.OK, _("the legal notice states every required fact")
        )
    what = either_and([str(COMPANY_FACTS[name][0]) for name in missing])
    lines = "; ".join(f"{name} = {COMPANY_FACTS[name][1]}" for name in missing)
    return Finding(
        _("company facts"),
        Verdict.FAIL,
        _(
            "the legal notice must give the publisher's %(what)s (LCEN art. 6 III). Ask the "
            "company, then set them in instance/config.py: %(lines)s",
            what=what,
            lines=lines,
        ),
    )


def site_health(db: Database, config: dict[str, Any], now: datetime) -> list[Finding]:
    """What /healthz would answer now; warnings only, since the configuration may be fine."""
    verdict = health.check(db, config, now)
    if verdict.ok:
        return [Finding(_("health"), Verdict.OK, _("/healthz answers ok"))]
    return [
        Finding(_("health"), Verdict.WARN, _("/healthz fails: %(reason)s", reason=reason))
        for reason in verdict.reasons
    ]


def stopped_imports(db: Database, now: datetime) -> list[Finding]:
    """Imports whose process died mid-way (their records are hidden until resolved)."""
    return [
        Finding(
            _("import"),
            Verdict.FAIL,
            _(
                "import %(id)s stopped mid-way (%(status)s, %(committed)s/%(entries)s "
                "addresses); none of it is visible. Run `flask --app app import resume "
                "%(id)s` or `import rollback %(id)s` (the campaign worker does one of them "
                "on its next pass).",
                id=record["id"],
                status=record["status"],
                committed=format_number(record["committed_entries"]),
                entries=format_number(record["entries"]),
            ),
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
