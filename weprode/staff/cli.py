"""`flask --app app staff ...`: create, list, disable and enable staff accounts; reset a
password or a lost second factor."""

import sys
from collections.abc import Callable
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .. import audit
from ..db import Database, get_db, utcnow
from . import accounts, preferences


def read_new_password(password_stdin: bool) -> str:
    """A new password from stdin (scripts) or typed twice at a hidden prompt."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("staff")
def staff_group():
    """Manage staff accounts."""


LANGUAGE_OPTION = click.option(
    "--language",
    type=click.Choice(preferences.LANGUAGES),
    help="Language of the staff area for this account (default for a new one: fr).",
)
TIME_ZONE_OPTION = click.option(
    "--time-zone",
    metavar="ZONE",
    help="IANA time zone for dates on staff pages (default for a new one: Europe/Paris).",
)


@staff_group.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@LANGUAGE_OPTION
@TIME_ZONE_OPTION
@with_appcontext
def staff_create_command(email, password_stdin, language, time_zone):
    """Create a staff account (password: 12+ characters, hard to guess, not a common one)."""
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
        raise click.ClickException(str(error)) from error
    audit.record(
        db, audit.cli_actor(), "staff_created", now, target=accounts.normalise_login(email)
    )
    click.echo(f"created {accounts.normalise_login(email)}")


@staff_group.command("list")
@with_appcontext
def staff_list_command():
    """List staff accounts."""
    for account in accounts.list_accounts(get_db()):
        state = "active" if account["active"] else "disabled"
        totp = "totp" if account["has_totp"] else "no-totp"
        last = account["last_login_at"] or "never"
        click.echo(
            f"{account['email']}\t{state}\t{totp}\t{account['language']}\t"
            f"{account['time_zone']}\tlast login: {last}"
        )


@staff_group.command("set")
@click.argument("email")
@LANGUAGE_OPTION
@TIME_ZONE_OPTION
@with_appcontext
def staff_set_command(email, language, time_zone):
    """Change an account's language and/or time zone (from its next page on)."""
    if not language and not time_zone:
        raise click.UsageError("Give --language, --time-zone or both.")
    db = get_db()
    try:
        account = accounts.require(db, email)
        changed = preferences.change(db, account["id"], language, time_zone)
    except (accounts.StaffError, preferences.PreferenceRejected) as error:
        raise click.ClickException(str(error)) from error
    account = accounts.require(db, email)
    if changed:
        audit.record(db, audit.cli_actor(), "staff_preferences", utcnow(), target=account["email"])
    state = "set" if changed else "already"
    click.echo(f"{account['email']}: {state} {account['language']}, {account['time_zone']}")


@staff_group.command("disable")
@click.argument("email")
@with_appcontext
def staff_disable_command(email):
    """Disable an account and end its sessions."""
    db, now = get_db(), utcnow()
    try:
        accounts.disable(db, email, now)
    except accounts.StaffError as error:
        raise click.ClickException(str(error)) from error
    audit.record(
        db, audit.cli_actor(), "staff_disabled", now, target=accounts.normalise_login(email)
    )
    click.echo(f"disabled {accounts.normalise_login(email)}")


def change_account(
    change: Callable[[Database, str, datetime], bool],
    email: str,
    action: str,
    done: str,
    unchanged: str,
) -> bool:
    """Run `change(db, email, now)`, which may find nothing to do; audit it when it did.

    An unknown account is an error (exit 1) and changes nothing.
    """
    db, now = get_db(), utcnow()
    try:
        changed = change(db, email, now)
    except accounts.StaffError as error:
        raise click.ClickException(str(error)) from error
    login = accounts.normalise_login(email)
    if not changed:
        click.echo(f"{login} {unchanged}; nothing changed")
        return False
    audit.record(db, audit.cli_actor(), action, now, target=login)
    click.echo(f"{done} {login}")
    return True


@staff_group.command("enable")
@click.argument("email")
@with_appcontext
def staff_enable_command(email):
    """Re-enable a disabled account (the person logs in again)."""
    change_account(
        lambda db, email, _now: accounts.enable(db, email),
        email,
        "staff_enabled",
        done="enabled",
        unchanged="is already active",
    )


@staff_group.command("reset-totp")
@click.argument("email")
@with_appcontext
def staff_reset_totp_command(email):
    """Remove a lost second factor (ends the account's sessions); the person enrols again."""
    removed = change_account(
        accounts.reset_totp,
        email,
        "staff_totp_reset",
        done="second factor removed, sessions ended:",
        unchanged="has no second factor",
    )
    if not removed:
        return
    if current_app.config["STAFF_REQUIRE_TOTP"]:
        click.echo("they enrol a new one right after their next login")
    else:
        click.echo(
            "STAFF_REQUIRE_TOTP is off: their password alone opens the staff area "
            "until they enrol again (Account, /admin/account/totp)"
        )


@staff_group.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_reset_password_command(email, password_stdin):
    """Set a new password (ends the account's sessions)."""
    db, now = get_db(), utcnow()
    try:
        accounts.reset_password(db, email, read_new_password(password_stdin), now)
    except (accounts.StaffError, accounts.PasswordRejected) as error:
        raise click.ClickException(str(error)) from error
    audit.record(
        db, audit.cli_actor(), "staff_password_reset", now, target=accounts.normalise_login(email)
    )
    click.echo(f"password changed for {accounts.normalise_login(email)}")


def init_app(app: Flask) -> None:
    """Register the `staff` commands."""
    app.cli.add_command(staff_group)
