"""Staff accounts: password policy, login checks with throttling, sessions, TOTP.

Sessions live in the database, so logging out (or disabling an account) ends them
for real, and idle and absolute timeouts are enforced on the server.
"""

import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pyotp
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from ..db import Database, first_row, isoformat, parse_timestamp, write_transaction
from ..forms import has_forbidden_character
from . import preferences

MIN_PASSWORD_LENGTH = 12
PASSWORD_HASH_METHOD = "scrypt"
# Failed logins slow down the (login, address) pair that made them, never the account as
# a whole: a stranger's guesses must not lock the rightful user out (OWASP ASVS 2.2.1).
FREE_ATTEMPTS = 5  # failures of one pair before it has to wait
FIRST_WAIT = timedelta(minutes=1)  # after the FREE_ATTEMPTS-th failure, doubled for each next
LONGEST_WAIT = timedelta(hours=1)
PAIR_MEMORY = timedelta(days=1)  # older failures no longer count for a pair
# One address guessing across many logins (password spraying) is capped as a whole.
ADDRESS_MAX_FAILURES = 20
ADDRESS_WINDOW = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOTP_ISSUER = "Weprode staff"
COMMON_PASSWORDS_FILE = Path(__file__).parent / "common-passwords.txt"
# zxcvbn's score (0-4) a password must reach: 4 means at least 10**10 guesses. A staff
# password guards every subscriber's data, and 3 let "Weprode2026!!" through.
MIN_PASSWORD_SCORE = 4
# Words an attacker tries first here, besides the person's address: zxcvbn ranks them
# like its dictionaries. The xkcd 936 passphrase is in every cracking list, though
# zxcvbn alone scores it as strong.
SITE_WORDS = ("weprode", "weprode.com", "correcthorsebatterystaple")
# zxcvbn slows down steeply with length and refuses more than 72 characters by default;
# a longer password is judged on its start.
ESTIMATED_LENGTH = 72
# Stored instead of a login that is not an address: often a password typed in the wrong field.
NOT_AN_ADDRESS = "(not an address)"


class PasswordRejected(ValueError):
    """The password does not meet the policy; the message says why."""


class StaffError(ValueError):
    """A staff command cannot be done (unknown account, duplicate, ...)."""


@cache
def dummy_hash() -> str:
    """Checked against when the account does not exist, so both cases cost the same time.

    Made on first use: scrypt costs ~50 ms, which every app start and command paid.
    """
    return generate_password_hash("not-a-real-password-0000", method=PASSWORD_HASH_METHOD)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def check_password_policy(password: str, email: str = "") -> None:
    """Raise `PasswordRejected` unless the password is long and not guessable.

    NFKC first, so full-width or compatibility forms ("ｗｅｐｒｏｄｅ") count as the
    plain letters they show; then the common-password list, the person's address,
    and zxcvbn's estimate with the address and SITE_WORDS as dictionary words.
    """
    password = unicodedata.normalize("NFKC", password)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(_("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH))
    lowered = password.lower()
    # "password1234!" is as weak as "password": strip the usual suffixes before looking up.
    core = re.sub(r"[\d\W_]+$", "", lowered)
    # A string found inside itself doubled (minus the ends) repeats a shorter one.
    repeats = lowered in (lowered + lowered)[1:-1]
    if repeats or lowered in common_passwords() or core in common_passwords():
        raise PasswordRejected(_("This password is too common; choose another one."))
    if len(set(lowered)) < 5:
        raise PasswordRejected(_("This password is too common; choose another one."))
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        raise PasswordRejected(_("The password must not contain your e-mail address."))
    personal = [email.lower(), local_part, *email.lower().rpartition("@")[2].split(".")]
    words = [word for word in (*personal, *SITE_WORDS) if word]
    estimate = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=words)
    if estimate["score"] < MIN_PASSWORD_SCORE:
        raise PasswordRejected(
            _(
                "This password is too easy to guess. Use a longer passphrase of unrelated "
                "words, without your name, Weprode or a date."
            )
        )


def normalise_login(email: str | None) -> str:
    """Logins are compared lower-cased and trimmed."""
    return (email or "").strip().lower()


def login_to_record(email: str | None) -> str:
    """The login as the audit log, `login_failures` and the security log keep it.

    The normalised login when it is a well-formed address, else NOT_AN_ADDRESS: people
    type their password into the e-mail field, and it must not be stored anywhere.
    """
    login = normalise_login(email)
    try:
        validate_email(login, check_deliverability=False)
    except EmailNotValidError:
        return NOT_AN_ADDRESS
    return login


def get_by_email(db: Database, email: str | None) -> dict | None:
    """The staff account with this e-mail, or None."""
    return first_row(db, "SELECT * FROM staff WHERE email = ?", [normalise_login(email)])


def get(db: Database, staff_id: int) -> dict | None:
    """The staff account by id, or None."""
    return first_row(db, "SELECT * FROM staff WHERE id = ?", [staff_id])


def create(
    db: Database,
    email: str,
    password: str,
    now: datetime,
    language: str = preferences.DEFAULT_LANGUAGE,
    time_zone: str = preferences.DEFAULT_TIME_ZONE,
) -> int:
    """Create an active account reading the staff area in `language` and `time_zone`."""
    email = normalise_login(email)
    if "@" not in email or has_forbidden_character(email) or " " in email:
        raise StaffError(_("%(email)s is not an e-mail address.", email=repr(email)))
    if get_by_email(db, email):
        raise StaffError(_("%(email)s already has an account.", email=email))
    check_password_policy(password, email)
    try:
        preferences.check(language, time_zone)
    except preferences.PreferenceRejected as error:
        raise StaffError(str(error)) from error
    row = {
        "email": email,
        "password_hash": generate_password_hash(password, method=PASSWORD_HASH_METHOD),
        "active": 1,
        "created_at": isoformat(now),
        "password_changed_at": isoformat(now),
        "language": language,
        "time_zone": time_zone,
    }
    return db["staff"].insert(row).last_pk


def list_accounts(db: Database) -> list[dict]:
    """Every account, without secrets."""
    return list(
        db.query(
            "SELECT id, email, active, created_at, last_login_at, language, time_zone, "
            "totp_secret IS NOT NULL AS has_totp FROM staff ORDER BY email"
        )
    )


def require(db: Database, email: str) -> dict:
    """The account or a `StaffError`."""
    account = get_by_email(db, email)
    if account is None:
        raise StaffError(_("No staff account for %(email)s.", email=normalise_login(email)))
    return account


def disable(db: Database, email: str, now: datetime) -> int:
    """Disable the account and end its sessions."""
    account = require(db, email)
    with write_transaction(db):
        db["staff"].update(account["id"], {"active": 0})
        end_all_sessions(db, account["id"], now)
    return account["id"]


def enable(db: Database, email: str) -> bool:
    """Re-enable a disabled account; False when it was active already (nothing changed).

    Sessions ended by the disabling stay ended: the person logs in again.
    """
    account = require(db, email)
    cursor = db.execute("UPDATE staff SET active = 1 WHERE id = ? AND active = 0", [account["id"]])
    return cursor.rowcount == 1


def reset_totp(db: Database, email: str, now: datetime) -> bool:
    """Remove the account's second factor and end its sessions; False when it had none.

    For a person who lost their authenticator: they log in with their password and
    enrol a new one (at once when STAFF_REQUIRE_TOTP is on). Ending the sessions also
    drops any enrolment left half-done.
    """
    account = require(db, email)
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE staff SET totp_secret = NULL, totp_last_step = NULL "
            "WHERE id = ? AND totp_secret IS NOT NULL",
            [account["id"]],
        )
        if cursor.rowcount != 1:
            return False
        end_all_sessions(db, account["id"], now)
    return True


def reset_password(db: Database, email: str, password: str, now: datetime) -> int:
    """Set a new password and end the account's sessions."""
    account = require(db, email)
    check_password_policy(password, account["email"])
    with write_transaction(db):
        db["staff"].update(
            account["id"],
            {
                "password_hash": generate_password_hash(password, method=PASSWORD_HASH_METHOD),
                "password_changed_at": isoformat(now),
            },
        )
        end_all_sessions(db, account["id"], now)
    return account["id"]


def retry_after(db: Database, login: str | None, address: str, now: datetime) -> timedelta:
    """How long this login from this address must wait before trying; zero when it may.

    `address` is the client's `security.client_key` (an IPv6 client's /64). A pair has
    FREE_ATTEMPTS failures, then waits FIRST_WAIT after its last one, twice as long
    after each further failure, up to LONGEST_WAIT. An address with
    ADDRESS_MAX_FAILURES failures in ADDRESS_WINDOW, whatever the logins, waits until
    the oldest of them leaves the window. The account itself is never locked: its
    owner at another address logs in as usual.
    """
    return max(pair_wait(db, login, address, now), address_wait(db, address, now), timedelta(0))


def pair_wait(db: Database, login: str | None, address: str, now: datetime) -> timedelta:
    """The wait the (login, address) pair's own failures impose (may be negative)."""
    row = first_row(
        db,
        "SELECT count(*) AS failures, max(at) AS last FROM login_failures "
        "WHERE login = ? AND ip = ? AND at > ?",
        [login_to_record(login), address, isoformat(now - PAIR_MEMORY)],
    )
    further = row["failures"] - FREE_ATTEMPTS
    if further < 0:
        return timedelta(0)
    # The exponent is bounded so that thousands of failures cannot overflow timedelta.
    wait = min(FIRST_WAIT * 2 ** min(further, 16), LONGEST_WAIT)
    return parse_timestamp(row["last"]) + wait - now


def address_wait(db: Database, address: str, now: datetime) -> timedelta:
    """The wait the address's failures on any login impose (may be negative)."""
    row = first_row(
        db,
        "SELECT at FROM login_failures WHERE ip = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
        [address, isoformat(now - ADDRESS_WINDOW), ADDRESS_MAX_FAILURES - 1],
    )
    return timedelta(0) if row is None else parse_timestamp(row["at"]) + ADDRESS_WINDOW - now


def record_failure(db: Database, email: str | None, address: str, now: datetime) -> None:
    """Remember a failed attempt (for throttling only; purged with usage logs)."""
    db["login_failures"].insert(
        {"login": login_to_record(email), "ip": address, "at": isoformat(now)}
    )


def forget_failures(db: Database, email: str | None, address: str) -> None:
    """A successful login clears its own pair's failures, not other addresses' ones."""
    db.execute(
        "DELETE FROM login_failures WHERE login = ? AND ip = ?", [login_to_record(email), address]
    )


def check_credentials(db: Database, email: str | None, password: str | None) -> dict | None:
    """The active account if the password matches, else None; constant work either way."""
    account = get_by_email(db, email)
    stored = account["password_hash"] if account else dummy_hash()
    matches = check_password_hash(stored, password or "")
    if account is None or not account["active"] or not matches:
        return None
    return account


def start_session(db: Database, staff_id: int, now: datetime) -> str:
    """Open a server-side session; returns its random id (kept in the cookie)."""
    session_id = secrets.token_urlsafe(32)
    stamp = isoformat(now)
    with write_transaction(db):
        db["staff_sessions"].insert(
            {"id": session_id, "staff_id": staff_id, "created_at": stamp, "last_seen_at": stamp}
        )
        db["staff"].update(staff_id, {"last_login_at": stamp})
    return session_id


def resume_session(db: Database, session_id: str, now: datetime) -> dict | None:
    """The account behind a live session, touching it; None if ended, idle or too old."""
    rows = list(
        db.query(
            "SELECT s.created_at, s.last_seen_at, staff.* FROM staff_sessions s "
            "JOIN staff ON staff.id = s.staff_id WHERE s.id = ? AND s.ended_at IS NULL",
            [session_id],
        )
    )
    if not rows or not rows[0]["active"]:
        return None
    row = rows[0]
    too_old = now - parse_timestamp(row["created_at"]) > ABSOLUTE_TIMEOUT
    idle = now - parse_timestamp(row["last_seen_at"]) > IDLE_TIMEOUT
    if too_old or idle:
        end_session(db, session_id, now)
        return None
    db["staff_sessions"].update(session_id, {"last_seen_at": isoformat(now)})
    return row


def end_session(db: Database, session_id: str, now: datetime) -> None:
    """Log out: the session id stops working even if the cookie is replayed."""
    db.execute(
        "UPDATE staff_sessions SET ended_at = ?, pending_totp_secret = NULL "
        "WHERE id = ? AND ended_at IS NULL",
        [isoformat(now), session_id],
    )


def end_all_sessions(db: Database, staff_id: int, now: datetime) -> None:
    """End every session of an account (disabled, or password changed)."""
    db.execute(
        "UPDATE staff_sessions SET ended_at = ?, pending_totp_secret = NULL "
        "WHERE staff_id = ? AND ended_at IS NULL",
        [isoformat(now), staff_id],
    )


def pending_totp_secret(db: Database, session_id: str) -> str:
    """The secret being enrolled in this session, made on first use.

    It waits on the session row, not in the cookie: the cookie is signed, not
    encrypted, so whoever sees it could read the secret. Ending the session drops it.
    """
    row = first_row(db, "SELECT pending_totp_secret FROM staff_sessions WHERE id = ?", [session_id])
    if row and row["pending_totp_secret"]:
        return row["pending_totp_secret"]
    secret = pyotp.random_base32()
    db["staff_sessions"].update(session_id, {"pending_totp_secret": secret})
    return secret


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def totp_step(secret: str | None, code: str | None, now: datetime) -> int | None:
    """The 30-second time step at which `code` is valid (one step of drift allowed), or None."""
    code = re.sub(r"\s", "", code or "")
    if not secret or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_totp_code(db: Database, staff_id: int, code: str | None, now: datetime) -> bool:
    """True if `code` is the account's valid code and no code of its step or a later one
    was used before; the step is then remembered, so the code works once.

    One conditional UPDATE decides, so two sessions sending the same code at once
    cannot both get in: the database, not Python, arbitrates.
    """
    account = get(db, staff_id)
    step = totp_step(account and account["totp_secret"], code, now)
    if step is None:
        return False
    cursor = db.execute(
        "UPDATE staff SET totp_last_step = ? WHERE id = ? "
        "AND (totp_last_step IS NULL OR totp_last_step < ?)",
        [step, staff_id, step],
    )
    return cursor.rowcount == 1


def enable_totp(db: Database, staff_id: int, secret: str, step: int) -> None:
    """Turn on the second factor; the enrolment code's `step` counts as used."""
    with write_transaction(db):
        db["staff"].update(staff_id, {"totp_secret": secret, "totp_last_step": step})
        db.execute(
            "UPDATE staff_sessions SET pending_totp_secret = NULL WHERE staff_id = ?", [staff_id]
        )
