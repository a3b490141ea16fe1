"""`flask --app app staff ...`: create, list, disable and enable staff accounts; reset a
password or a lost second factor. Speaks STAFF_LANGUAGE (see `cli.StaffCommand`)."""

import sys
from collections.abc import Callable
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit
from ..cli import CommandError, StaffGroup, prompt_new_password, staff_moment, staff_option
from ..db import Database, get_db, utcnow
from . import accounts, preferences


def read_new_password(password_stdin: bool) -> str:
    """A new password from stdin (scripts) or typed twice at a hidden prompt."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return prompt_new_password()


@click.group("staff", cls=StaffGroup, help=_l("Manage staff accounts."))
def staff_group():
    pass


PASSWORD_STDIN_OPTION = staff_option(
    "--password-stdin", is_flag=True, help=_l("Read the password from standard input.")
)
LANGUAGE_OPTION = staff_option(
    "--language",
    type=click.Choice(preferences.LANGUAGES),
    help=_l("Language of the staff area for this account (default for a new one: fr)."),
)
TIME_ZONE_OPTION = staff_option(
    "--time-zone",
    metavar="ZONE",
    help=_l("IANA time zone for dates on staff pages (default for a new one: Europe/Paris)."),
)


@staff_group.command(
    "create",
    help=_l("Create a staff account (password: 12+ characters, hard to guess, not a common one)."),
)
@click.argument("email")
@PASSWORD_STDIN_OPTION
@LANGUAGE_OPTION
@TIME_ZONE_OPTION
@with_appcontext
def staff_create_command(email, password_stdin, language, time_zone):
    db, now = get_db(), utcnow()
    try:
        # Checked before the password prompt: nobody types a password twice for nothing.
        preferences.check(
            language or preferences.DEFAULT_LANGUAGE, time_zone or preferences.DEFAULT_TIME_ZONE
        )
        accounts.create(
            db,
            email,
            read_new_password(password_stdin),
            now,
            language=language or preferences.DEFAULT_LANGUAGE,
            time_zone=time_zone or preferences.DEFAULT_TIME_ZONE,
        )
    except (
        accounts.StaffError,
        accounts.PasswordRejected,
        preferences.PreferenceRejected,
    ) as error:
        raise CommandError(str(error)) from error
    login = accounts.normalise_login(email)
    audit.record(db, audit.cli_actor(), "staff_created", now, target=login)
    click.echo(_("created %(email)s", email=login))


@staff_group.command("list", help=_l("List staff accounts."))
@with_appcontext
def staff_list_command():
    # One account a line, tab-separated: address, state, second factor, language, zone.
    for account in accounts.list_accounts(get_db()):
        state = _("active") if account["active"] else _("disabled")
        totp = _("totp") if account["has_totp"] else _("no-totp")
        last = staff_moment(account["last_login_at"], preferences.DEFAULT_TIME_ZONE) or _("never")
        click.echo(
            f"{account['email']}\t{state}\t{totp}\t{account['language']}\t"
            f"{account['time_zone']}\t" + _("last login: %(when)s", when=last)
        )


@staff_group.command(
    "set", help=_l("Change an account's language and/or time zone (from its next page on).")
)
@click.argument("email")
@LANGUAGE_OPTION
@TIME_ZONE_OPTION
@with_appcontext
def staff_set_command(email, language, time_zone):
    if not language and not time_zone:
        raise CommandError(_("Give --language, --time-zone or both."), exit_code=2)
    db = get_db()
    try:
        account = accounts.require(db, email)
        changed = preferences.change(db, account["id"], language, time_zone)
    except (accounts.StaffError, preferences.PreferenceRejected) as error:
        raise CommandError(str(error)) from error
    account = accounts.require(db, email)
    values = {
        "email": account["email"],
        "language": account["language"],
        "zone": account["time_zone"],
    }
    if changed:
        audit.record(db, audit.cli_actor(), "staff_preferences", utcnow(), target=account["email"])
        click.echo(_("%(email)s: set %(language)s, %(zone)s", **values))
    else:
        click.echo(_("%(email)s: already %(language)s, %(zone)s", **values))


@staff_group.command("disable", help=_l("Disable an account and end its sessions."))
@click.argument("email")
@with_appcontext
def staff_disable_command(email):
    db, now = get_db(), utcnow()
    try:
        accounts.disable(db, email, now)
    except accounts.StaffError as error:
        raise CommandError(str(error)) from error
    login = accounts.normalise_login(email)
    audit.record(db, audit.cli_actor(), "staff_disabled", now, target=login)
    click.echo(_("disabled %(email)s", email=login))


def change_account(
    change: Callable[[Database, str, datetime], bool],
    email: str,
    action: str,
    done: Callable[[str], str],
    unchanged: Callable[[str], str],
) -> bool:
    """Run `change(db, email, now)`, which may find nothing to do; audit it when it did.

    `done(login)` and `unchanged(login)` word the outcome. An unknown account is an
    error (exit 1) and changes nothing.
    """
    db, now = get_db(), utcnow()
    try:
        changed = change(db, email, now)
    except accounts.StaffError as error:
        raise CommandError(str(error)) from error
    login = accounts.normalise_login(email)
    if not changed:
        click.echo(unchanged(login))
        return False
    audit.record(db, audit.cli_actor(), action, now, target=login)
    click.echo(done(login))
    return True


@staff_group.command("enable", help=_l("Re-enable a disabled account (the person logs in again)."))
@click.argument("email")
@with_appcontext
def staff_enable_command(email):
    change_account(
        lambda db, email, _now: accounts.enable(db, email),
        email,
        "staff_enabled",
        done=lambda login: _("enabled %(email)s", email=login),
        unchanged=lambda login: _("%(email)s is already active; nothing changed", email=login),
    )


@staff_group.command(
    "reset-totp",
    help=_l("Remove a lost second factor (ends the account's sessions); the person enrols again."),
)
@click.argument("email")
@with_appcontext
def staff_reset_totp_command(email):
    removed = change_account(
        accounts.reset_totp,
        email,
        "staff_totp_reset",
        done=lambda login: _("second factor removed, sessions ended: %(email)s", email=login),
        unchanged=lambda login: _("%(email)s has no second factor; nothing changed", email=login),
    )
    if not removed:
        return
    if current_app.config["STAFF_REQUIRE_TOTP"]:
        click.echo(_("they enrol a new one right after their next login"))
    else:
        click.echo(
            _(
                "STAFF_REQUIRE_TOTP is off: their password alone opens the staff area "
                "until they enrol again (Account, /admin/account/totp)"
            )
        )


@staff_group.command("reset-password", help=_l("Set a new password (ends the account's sessions)."))
@click.argument("email")
@PASSWORD_STDIN_OPTION
@with_appcontext
def staff_reset_password_command(email, password_stdin):
    db, now = get_db(), utcnow()
    try:
        accounts.reset_password(db, email, read_new_password(password_stdin), now)
    except (accounts.StaffError, accounts.PasswordRejected) as error:
        raise CommandError(str(error)) from error
    login = accounts.normalise_login(email)
    audit.record(db, audit.cli_actor(), "staff_password_reset", now, target=login)
    click.echo(_("password changed for %(email)s", email=login))


def init_app(app: Flask) -> None:
    """Register the `staff` commands."""
    app.cli.add_command(staff_group)
