"""`flask doctor`'s relay checks: each relay answers EHLO, over TLS that verifies, and
takes the login; said in the words of the settings the operator edits.

The MAIL_* relay (transactional mail, and campaigns without MAIL_RELAYS) and every
MAIL_RELAYS entry are checked alike. Worded in the current locale (the command runs in
STAFF_LANGUAGE); setting names stay as the operator types them.
"""

import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from .. import config as settings
from ..mail import relays
from ..mail.relays import Relay

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class SettingNames:
    """How the operator's settings name a relay's host, port, TLS modes and login."""

    check: str
    host_and_port: str
    host: str
    starttls: str
    ssl: str
    login: str


def mail_setting_names() -> SettingNames:
    """The words for the MAIL_* relay."""
    return SettingNames(
        _("mail relay"),
        _("MAIL_SERVER and MAIL_PORT"),
        "MAIL_SERVER",
        "MAIL_USE_TLS",
        "MAIL_USE_SSL",
        "MAIL_USERNAME/MAIL_PASSWORD",
    )


def pool_setting_names(relay: Relay) -> SettingNames:
    """The words for one MAIL_RELAYS entry."""
    entry = _("MAIL_RELAYS entry %(name)s", name=repr(relay.name))
    # The keys stay as the operator types them, out of the translated words.
    return SettingNames(
        _("mail relay %(name)s", name=relay.name),
        _("%(first)s and %(second)s of %(entry)s", first="'host'", second="'port'", entry=entry),
        _("%(key)s of %(entry)s", key="'host'", entry=entry),
        _("%(key)s in %(entry)s", key='"tls": "starttls"', entry=entry),
        _("%(key)s in %(entry)s", key='"tls": "ssl"', entry=entry),
        _("%(key)s of %(entry)s", key="'username'/'password'", entry=entry),
    )


def relay_findings(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(check, verdict, message) for the MAIL_* relay and each MAIL_RELAYS entry."""
    found = [check_relay(relays.single_relay(config), mail_setting_names(), config)]
    if config.get("MAIL_RELAYS"):
        found += [
            check_relay(relay, pool_setting_names(relay), config)
            for relay in relays.configured_relays(config)
        ]
    return found


def check_relay(relay: Relay, names: SettingNames, config: dict[str, Any]) -> tuple[str, str, str]:
    """(check, "OK"/"WARN"/"FAIL", message) for one relay."""
    where = relay.address
    if (relay.host, relay.port) == settings.DEVELOPMENT_RELAY:
        return (
            names.check,
            "FAIL",
            _(
                "%(where)s is the development mail sink. Set %(host_and_port)s and "
                "%(starttls)s (port 587) or %(ssl)s (port 465) to the relay.",
                where=where,
                host_and_port=names.host_and_port,
                starttls=names.starttls,
                ssl=names.ssl,
            ),
        )
    try:
        done = talk_to_relay(relay, config["MAIL_TIMEOUT"])
    except ssl.SSLCertVerificationError as error:
        problem = _(
            "its TLS certificate is not valid (%(error)s). Use the relay's own name in "
            "%(host)s (the one on its certificate), or fix its certificate",
            error=error.verify_message,
            host=names.host,
        )
    except ssl.SSLError as error:
        problem = _(
            "TLS failed (%(error)s). %(ssl)s is for ports that speak TLS at once (465); "
            "ports 587 and 25 take STARTTLS (%(starttls)s)",
            error=error.reason or error,
            ssl=names.ssl,
            starttls=names.starttls,
        )
    except smtplib.SMTPNotSupportedError:
        problem = _(
            "it does not offer STARTTLS. Use its TLS port with %(ssl)s, or another relay",
            ssl=names.ssl,
        )
    except smtplib.SMTPAuthenticationError as error:
        problem = _(
            "it refused %(login)s (%(code)s). Check them", login=names.login, code=error.smtp_code
        )
    except TimeoutError:
        problem = _(
            "no answer within MAIL_TIMEOUT (%(seconds)s s). Check the address and that the "
            "firewall lets this machine out to that port",
            seconds=config["MAIL_TIMEOUT"],
        )
    except ConnectionRefusedError:
        problem = _("nothing listens there. Check %(setting)s", setting=names.host_and_port)
    except (OSError, smtplib.SMTPException) as error:
        named = f"{type(error).__name__}: {error}"
        problem = _("%(error)s. Check %(setting)s", error=named, setting=names.host_and_port)
    else:
        if relay.tls == "none" and relay.host not in LOOPBACK:
            return (
                names.check,
                "WARN",
                _(
                    "%(where)s answers (%(done)s), but mail and any password cross the "
                    "network unencrypted: set %(starttls)s (port 587) or %(ssl)s (port 465).",
                    where=where,
                    done=done,
                    starttls=names.starttls,
                    ssl=names.ssl,
                ),
            )
        return names.check, "OK", _("%(where)s answers (%(done)s)", where=where, done=done)
    return names.check, "FAIL", _("%(where)s: %(problem)s.", where=where, problem=problem)


def talk_to_relay(relay: Relay, timeout: float) -> str:
    """Open a session like the app does, verifying TLS certificates; return what worked."""
    # Always verified here, with the CA the app trusts (tls_ca_file / MAIL_TLS_CA_FILE),
    # even where verification is off: the doctor reports what the relay really presents.
    context = ssl.create_default_context(cafile=relay.tls_ca_file or None)
    if relay.tls == "ssl":
        session = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
        done = [_("TLS, certificate valid")]
    else:
        session = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
        done = [_("plain SMTP")]
    try:
        code, reply = session.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        if relay.tls == "starttls":
            if not session.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("STARTTLS")
            session.starttls(context=context)
            session.ehlo()
            done = [_("STARTTLS, certificate valid")]
        if relay.username and relay.password:
            session.login(relay.username, relay.password)
            done.append(_("login accepted"))
    finally:
        session.close()
    return ", ".join(done)
