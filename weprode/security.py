"""Response headers, the cross-origin check for cookie-less forms, and rate limits."""

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request
from flask_limiter import Limiter

from .usage_log import security_event

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000; includeSubDomains"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CROSS_ORIGIN_EXEMPT_ATTR = "_cross_origin_exempt"

# An IPv6 client is given a whole /64 (2**64 addresses) by its provider, so counting per
# address would let it take a fresh one for every request: count its /64 instead.
IPV6_CLIENT_PREFIX = 64


def address_key(address: str | None) -> str:
    """What limits count against for `address`: IPv4 as is, IPv6 as its /64 network.

    An IPv4-mapped IPv6 address counts as the IPv4 address it carries; something that
    is not an address (a test client, a unix socket) is counted as given.
    """
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def client_key() -> str:
    """The current client's `address_key` (the proxy's view when TRUSTED_PROXIES is set)."""
    return address_key(request.remote_addr)


# Public forms have no session, so limits are per client address. The storage comes
# from RATELIMIT_STORAGE_URI (config.py defaults to memory://): passing one here would
# win over the config, leaving each gunicorn worker with its own count.
limiter = Limiter(client_key)


def public_form_limit() -> str:
    """The per-IP limit applied to each public form, from config."""
    return current_app.config["RATELIMIT_PUBLIC_FORMS"]


def cross_origin_exempt(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view whose own signed token protects it (RFC 8058 one-click posts)."""
    setattr(view, CROSS_ORIGIN_EXEMPT_ATTR, True)
    return view


def is_cross_origin_request() -> bool:
    """True when the browser tells us an unsafe request comes from another site.

    Requests carrying neither Sec-Fetch-Site nor Origin (curl, old clients, mailbox
    providers) are let through: the check exists to stop a visitor's browser being
    used by another site, and browsers send at least one of the two.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    if origin == "null":
        return True
    parts = urlsplit(origin)
    return (parts.scheme, parts.netloc) != (request.scheme, request.host)


def check_cross_origin() -> None:
    """Reject unsafe cross-origin requests before any view runs."""
    if request.method in SAFE_METHODS or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, CROSS_ORIGIN_EXEMPT_ATTR, False):
        return
    if is_cross_origin_request():
        security_event(
            "cross_origin_rejected",
            origin=request.headers.get("Origin", "-"),
            fetch_site=request.headers.get("Sec-Fetch-Site", "-"),
        )
        abort(403, description="This form can only be sent from our own pages.")


BODY_LIMIT_ATTR = "_body_limit_config_key"


def larger_body_allowed(config_key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let one view (an upload) accept bodies up to `config[config_key]` bytes."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, BODY_LIMIT_ATTR, config_key)
        return view

    return mark


def reject_oversized_body() -> None:
    """Answer 413 from the declared length, before routing or parsing anything."""
    view = current_app.view_functions.get(request.endpoint)
    config_key = getattr(view, BODY_LIMIT_ATTR, None)
    if config_key:
        request.max_content_length = current_app.config[config_key]
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def add_security_headers(response: Response) -> Response:
    """Every response gets the same strict headers; HSTS only over HTTPS.

    A view may set its own value first (the campaign preview's policy); one pass over
    the existing names instead of `setdefault` per header, which scans them each time.
    """
    present = {name.lower() for name in response.headers.keys()}
    response.headers.extend(
        [(name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present]
    )
    if request.is_secure and "strict-transport-security" not in present:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app: Flask) -> None:
    """Install the checks and headers, and bind the rate limiter."""
    app.before_request(reject_oversized_body)
    app.before_request(check_cross_origin)
    app.after_request(add_security_headers)
    # The limiter is module-level (the views' decorators register on it), and
    # Flask-Limiter keeps the default and application-wide limits of the first app that
    # set any for every later app of the process: forget them, so each app gets those of
    # its own config (one process builds many apps in the tests, and in mutmut's runs).
    limiter.limit_manager.set_default_limits([])
    limiter.limit_manager.set_application_limits([])
    limiter.init_app(app)
