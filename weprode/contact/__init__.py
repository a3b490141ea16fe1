"""Contact and meeting-request forms; what they send becomes prospect data."""

from .views import bp

__all__ = ["bp"]
