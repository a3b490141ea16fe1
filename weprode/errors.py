"""Styled error pages, in the site layout, without stack traces."""

import sqlite3

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from limits import RateLimitItem
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .usage_log import security_event

TITLES = {
    400: _l("This request could not be understood"),
    403: _l("This action is not allowed"),
    404: _l("Page not found"),
    405: _l("This method is not allowed here"),
    413: _l("What you sent is too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong on our side"),
    503: _l("Service temporarily unavailable"),
}

EXPLANATIONS = {
    400: _l("Please check the link or the form and try again."),
    403: _l("If you followed a link from another site, please start again from our pages."),
    404: _l("The page you asked for does not exist or has moved."),
    405: _l("Please use the page's own links and buttons."),
    413: _l("Please send a smaller request."),
    429: _l("Please wait a few minutes before trying again."),
    500: _l("We have been notified. Please try again in a moment."),
    503: _l("Please try again in a few minutes."),
}


def render_error(error: HTTPException) -> tuple[str, int]:
    """Render any HTTP error with its status code, its title and a short explanation."""
    code = error.code or 500
    # Only a description our own code set is shown; an unhandled exception reaches
    # here as a bare InternalServerError, so its message never leaks.
    default = type(error).description
    detail = error.description if error.description != default else None
    response = render_template(
        "errors/error.html",
        code=code,
        title=TITLES.get(code, error.name),
        explanation=EXPLANATIONS.get(code, ""),
        detail=detail,
    )
    return response, code


def reject_csrf(error: CSRFError) -> tuple[str, int]:
    """Log a missing or bad CSRF token in the security log, then the usual 400 page.

    Flask-WTF's reason ("The CSRF token is missing.") is English and technical: it goes
    to the log, and the page says what to do, in the page language.
    """
    security_event("csrf_rejected", reason=error.description)
    error.description = _l(
        "The form had expired or did not come from this site (CSRF check). Please go back, "
        "reload the page and try again."
    )
    return render_error(error)


def period_text(granularity: str, multiples: int) -> str:
    """`per minute`, `every 2 minutes`: a limit's period in the page language."""
    periods = {
        "second": lambda n: ngettext("per second", "every %(num)d seconds", n),
        "minute": lambda n: ngettext("per minute", "every %(num)d minutes", n),
        "hour": lambda n: ngettext("per hour", "every %(num)d hours", n),
        "day": lambda n: ngettext("per day", "every %(num)d days", n),
        "month": lambda n: ngettext("per month", "every %(num)d months", n),
        "year": lambda n: ngettext("per year", "every %(num)d years", n),
    }
    return periods[granularity](multiples)


def limit_text(item: RateLimitItem) -> str:
    """The limit that was reached, as a sentence in the page language.

    Flask-Limiter describes it as `10 per 1 minute`, in English whatever the page.
    """
    period = period_text(item.GRANULARITY.name, item.multiples)
    return ngettext(
        "This form accepts %(num)d request %(period)s from one Internet connection.",
        "This form accepts %(num)d requests %(period)s from one Internet connection.",
        item.amount,
        period=period,
    )


def rate_limited(error: RateLimitExceeded) -> tuple[str, int]:
    """Log a rate-limit hit in the security log, then the usual 429 page with the limit
    in the page's language."""
    security_event("rate_limited", limit=error.description)
    error.description = limit_text(error.limit.limit)
    return render_error(error)


# What SQLite says when a write cannot reach the disk (full, over quota, I/O failing).
STORAGE_FAILURES = ("database or disk is full", "disk i/o error")
STORAGE_RETRY_SECONDS = 120


def is_storage_failure(error: sqlite3.OperationalError) -> bool:
    """True when the database could not write, as opposed to a bug in a query."""
    return str(error).lower().startswith(STORAGE_FAILURES)


def storage_unavailable(error: sqlite3.OperationalError) -> tuple[str, int, dict[str, str]]:
    """A full or failing disk: 503 with a clear message; the transaction was rolled back.

    Every write runs in a transaction that a failure rolls back, so nothing half
    written remains, and the next request after space is back simply works.
    """
    if not is_storage_failure(error):
        raise error
    security_event("storage_unavailable", reason=str(error))
    page, code = render_error(
        ServiceUnavailable(
            _l(
                "We could not record your request because our storage is momentarily "
                "unavailable. Nothing was saved: please try again in a few minutes."
            )
        )
    )
    return page, code, {"Retry-After": str(STORAGE_RETRY_SECONDS)}


def init_app(app: Flask) -> None:
    """Register the handlers; Flask routes unhandled exceptions to them as a 500."""
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(CSRFError, reject_csrf)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.register_error_handler(sqlite3.OperationalError, storage_unavailable)
