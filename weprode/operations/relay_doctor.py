"""`flask doctor`'s relay checks: each relay answers EHLO, over TLS that verifies, and
takes the login; said in the words of the settings the operator edits.

The MAIL_* relay (transactional mail, and campaigns without MAIL_RELAYS) and every
MAIL_RELAYS entry are checked alike.
"""

import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

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


MAIL_SETTINGS = SettingNames(
    "mail relay",
    "MAIL_SERVER and MAIL_PORT",
    "MAIL_SERVER",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_USERNAME/MAIL_PASSWORD",
)


def pool_setting_names(relay: Relay) -> SettingNames:
    """The words for one MAIL_RELAYS entry."""
    entry = f"MAIL_RELAYS entry {relay.name!r}"
    return SettingNames(
        f"mail relay {relay.name}",
        f"'host' and 'port' of {entry}",
        f"'host' of {entry}",
        f'"tls": "starttls" in {entry}',
        f'"tls": "ssl" in {entry}',
        f"'username'/'password' of {entry}",
    )


def relay_findings(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(check, verdict, message) for the MAIL_* relay and each MAIL_RELAYS entry."""
    found = [check_relay(relays.single_relay(config), MAIL_SETTINGS, config)]
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
            f"{where} is the development mail sink. Set {names.host_and_port} and "
            f"{names.starttls} (port 587) or {names.ssl} (port 465) to the relay.",
        )
    try:
        done = talk_to_relay(relay, config["MAIL_TIMEOUT"])
    except ssl.SSLCertVerificationError as error:
        problem = (
            f"its TLS certificate is not valid ({error.verify_message}). Use the relay's "
            f"own name in {names.host} (the one on its certificate), or fix its certificate"
        )
    except ssl.SSLError as error:
        problem = (
            f"TLS failed ({error.reason or error}). {names.ssl} is for ports that speak "
            f"TLS at once (465); ports 587 and 25 take STARTTLS ({names.starttls})"
        )
    except smtplib.SMTPNotSupportedError:
        problem = f"it does not offer STARTTLS. Use its TLS port with {names.ssl}, or another relay"
    except smtplib.SMTPAuthenticationError as error:
        problem = f"it refused {names.login} ({error.smtp_code}). Check them"
    except TimeoutError:
        problem = (
            f"no answer within MAIL_TIMEOUT ({config['MAIL_TIMEOUT']} s). Check the address "
            "and that the firewall lets this machine out to that port"
        )
    except ConnectionRefusedError:
        problem = f"nothing listens there. Check {names.host_and_port}"
    except (OSError, smtplib.SMTPException) as error:
        problem = f"{type(error).__name__}: {error}. Check {names.host_and_port}"
    else:
        if relay.tls == "none" and relay.host not in LOOPBACK:
            return (
                names.check,
                "WARN",
                f"{where} answers ({done}), but mail and any password cross the network "
                f"unencrypted: set {names.starttls} (port 587) or {names.ssl} (port 465).",
            )
        return names.check, "OK", f"{where} answers ({done})"
    return names.check, "FAIL", f"{where}: {problem}."


def talk_to_relay(relay: Relay, timeout: float) -> str:
    """Open a session like the app does, verifying TLS certificates; return what worked."""
    # Always verified here, with the CA the app trusts (tls_ca_file / MAIL_TLS_CA_FILE),
    # even where verification is off: the doctor reports what the relay really presents.
    context = ssl.create_default_context(cafile=relay.tls_ca_file or None)
    if relay.tls == "ssl":
        session = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
        done = ["TLS, certificate valid"]
    else:
        session = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
        done = ["plain SMTP"]
    try:
        code, reply = session.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        if relay.tls == "starttls":
            if not session.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("STARTTLS")
            session.starttls(context=context)
            session.ehlo()
            done = ["STARTTLS, certificate valid"]
        if relay.username and relay.password:
            session.login(relay.username, relay.password)
            done.append("login accepted")
    finally:
        session.close()
    return ", ".join(done)
