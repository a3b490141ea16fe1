"""People's GDPR rights: self-service requests verified by e-mail, and their records."""
