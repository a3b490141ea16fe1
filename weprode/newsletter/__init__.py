"""The newsletter: double opt-in signup, one-click opt-out, churn and undo."""

from .views import bp

__all__ = ["bp"]
