"""`flask --app app staff ...`: create, list, disable staff accounts, reset a password."""

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from .. import audit
from ..db import get_db, utcnow
from . import accounts


def read_new_password(password_stdin: bool) -> str:
    """A new password from stdin (scripts) or typed twice at a hidden prompt."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("staff")
def staff_group():
    """Manage staff accounts."""


@staff_group.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_create_command(email, password_stdin):
    """Create a staff account (password: 12+ characters, hard to guess, not a common one)."""
    db, now = get_db(), utcnow()
    try:
        accounts.create(db, email, read_new_password(password_stdin), now)
    except (accounts.StaffError, accounts.PasswordRejected) as error:
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
        click.echo(f"{account['email']}\t{state}\t{totp}\tlast login: {last}")


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
