"""Staff accounts: passwords, lockout, sessions and the TOTP second factor."""

from flask import Flask

from . import cli


def init_app(app: Flask) -> None:
    """Register the `staff` commands (the staff area's views live in admin/)."""
    cli.init_app(app)
