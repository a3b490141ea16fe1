"""People's GDPR rights: self-service requests verified by e-mail, and their records."""

from .views import bp

__all__ = ["bp"]
