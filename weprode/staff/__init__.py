"""Staff accounts: passwords, lockout, sessions and the TOTP second factor."""
