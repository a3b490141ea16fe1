"""Staff accounts: passwords, lockout, sessions and the TOTP second factor."""

from . import cli


def init_app(app):
    """Register the `staff` commands (the staff area's views live in admin/)."""
    cli.init_app(app)
