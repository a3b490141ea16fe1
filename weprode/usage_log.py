"""The usage and security log: one line per request in a daily file under instance/logs.

An access line reads

    2025-06-01T09:30:00.123456+00:00 203.0.113.9 GET "/robots.txt" 200 0.8ms "curl/8.5"

and a security event, in the same file,

    2025-06-01T09:30:01.000000+00:00 203.0.113.9 SECURITY kind=login_failed method=POST ...

Every field is neutralised (control characters, quotes and backslashes escaped as
`\\xNN`), so no request can forge a line. Tokens are cut to their first 8 characters,
in URLs (by shape, on every path) and in event details alike; addresses and search
text in URLs are replaced by a placeholder; passwords are never written.
"""

import os
import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request

FILE_PREFIX = "access-"
FILE_SUFFIX = ".log"
FILE_NAME = re.compile(r"access-(\d{4}-\d{2}-\d{2})\.log")
KEEP_DAYS = 365
TOKEN_PREFIX_LENGTH = 8
MAX_DETAIL_LENGTH = 200
SECURITY_MARKER = "SECURITY"
# Detail names never written, whatever a caller passes.
SECRET_DETAILS = ("password", "secret", "totp")
EXTENSION_KEY = "usage_log"

# Control characters (C0, DEL, C1), the Unicode line and paragraph separators that
# some readers split on, and the quote and backslash that delimit and escape fields.
UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029"\\]')
# Bare fields (address, method, event kind) must not contain spaces either.
UNSAFE_BARE = re.compile(r'[\x00-\x20\x7f-\x9f\u2028\u2029"\\]')
# Anything shaped like a token: a run of URL-safe base64 characters and dots (tokens.py
# makes `payload.signature`) at least this long. The shortest real token is 32
# characters and no route or static file has a segment over 20, so the run is cut
# wherever it stands (path segment or query value) and whichever route matched, if
# any: a 404 or 405 has no view arguments to tell us where a token is.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_.-]{24,}")
# Anything shaped like an e-mail address, `@` written plainly or percent-encoded: an
# erased person's address must not outlive the erasure in a log kept for a year.
# A run of characters between separators is address-like when an `@` (or `%40`) has
# something on both sides in it. Split first, then look inside each run: a single
# pattern `[^sep]+@[^sep]+` backtracked over every start of a long run without `@`
# (an 8,000-character path took over a second), which any visitor could send.
ADDRESS_SEPARATORS = re.compile(r"([\s/?&=#;\"'<>]+)")
AT_INSIDE = re.compile(r".(?:@|%40).", re.IGNORECASE | re.DOTALL)
ADDRESS = "[address]"
# Query parameters holding what staff typed to find someone (a name, an address):
# the log says a search was made, not for whom.
SEARCH_PARAMETERS = frozenset({"q", "query", "search", "email"})
WITHHELD = "[withheld]"


def clock() -> datetime:
    """The current UTC time; tests replace this attribute to move the date."""
    return datetime.now(UTC)


def _escape_char(match: re.Match[str]) -> str:
    """`\\xNN` (or `\\uNNNN`) for one unsafe character."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(value: object) -> str:
    """`value` as text that stays on one line and inside its quotes."""
    return UNSAFE.sub(_escape_char, str(value))


def bare(value: object) -> str:
    """`value` as one space-free word ("-" when empty)."""
    return UNSAFE_BARE.sub(_escape_char, str(value)) if value else "-"


def token_prefix(token: object) -> str:
    """The first characters of a token, enough to match it, too few to use it."""
    token = str(token or "")
    return token[:TOKEN_PREFIX_LENGTH] + "..." if len(token) > TOKEN_PREFIX_LENGTH else token


def log_folder(app: Flask) -> Path:
    """Where the daily files go: LOG_FOLDER, else `<instance>/logs`."""
    return Path(app.config.get("LOG_FOLDER") or Path(app.instance_path) / "logs")


def log_file(folder: str | os.PathLike[str], day: date) -> Path:
    """The file holding the lines of UTC date `day`."""
    return Path(folder) / f"{FILE_PREFIX}{day.isoformat()}{FILE_SUFFIX}"


class DailyFile:
    """Appends lines to the file of the current UTC day, reopening when the day changes.

    Each line is one `os.write` on a descriptor opened with O_APPEND, so the lines of
    several gunicorn workers sharing the file interleave but never mix.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.day = None
        self.fd = None
        self.lock = threading.Lock()

    def write(self, line: str, now: datetime) -> None:
        """Append one line (without its newline) to the file of `now`'s date."""
        day = now.date()
        data = (line + "\n").encode("utf-8", "backslashreplace")
        with self.lock:
            if day != self.day:
                self._reopen(day)
            os.write(self.fd, data)

    def _reopen(self, day: date) -> None:
        """Close yesterday's file and open (creating if needed) the one of `day`."""
        self.close()
        self.folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        # The lines hold IP addresses: personal data, not for every local user.
        self.fd = os.open(log_file(self.folder, day), flags, 0o640)
        self.day = day

    def close(self) -> None:
        """Release the file, if one is open."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd, self.day = None, None


def redact(text: str) -> str:
    """`text` with every token-shaped run cut to its prefix."""
    return TOKEN_LIKE.sub(lambda match: token_prefix(match.group()), text)


def hide_addresses(text: str) -> str:
    """`text` with everything shaped like an e-mail address replaced by `[address]`.

    Each run of characters between separators holding an `@` with something on both
    sides goes whole; time grows with the text's length, whatever its shape.
    """
    if "@" not in text and "%40" not in text:  # no letters: case cannot matter
        return text
    parts = ADDRESS_SEPARATORS.split(text)  # runs at even indexes, separators at odd
    for index in range(0, len(parts), 2):
        if AT_INSIDE.search(parts[index]):
            parts[index] = ADDRESS
    return "".join(parts)


def withhold_searches(query_string: str) -> str:
    """A raw query string with the values of search parameters replaced by `[withheld]`."""
    parts = []
    for part in query_string.split("&"):
        name, equals, value = part.partition("=")
        if value and unquote_plus(name).strip().lower() in SEARCH_PARAMETERS:
            value = WITHHELD
        parts.append(name + equals + value)
    return "&".join(parts)


def request_path() -> str:
    """The path and query string as logged: no token, no address, no search text.

    Tokens are cut to their prefix by shape; a matched route's `token` variable is
    cut too, even when too short to look like one (junk typed by a prober is no
    token, but still not worth a whole line).
    """
    path = request.path
    if request.query_string:
        path += "?" + withhold_searches(request.query_string.decode("utf-8", "replace"))
    path = redact(hide_addresses(path))
    token = (request.view_args or {}).get("token")
    if token:
        path = path.replace(str(token), token_prefix(token))
    return path


def access_line(now: datetime, status: int, duration_ms: float) -> str:
    """The access-log line of the current request."""
    return (
        f"{now.isoformat()} {bare(request.remote_addr)} {bare(request.method)} "
        f'"{neutralise(request_path())}" {status} {duration_ms:.1f}ms '
        f'"{neutralise(request.headers.get("User-Agent", ""))}"'
    )


def write_line(line: str, now: datetime) -> None:
    """Append `line` to the app's log; a full disk never turns a page into an error."""
    try:
        current_app.extensions[EXTENSION_KEY].write(line, now)
    except OSError as error:
        current_app.logger.error("usage log not written: %s", error)


def start_timer() -> None:
    """Note when the request started, before any other check can refuse it."""
    g.usage_log_start = time.perf_counter()


def log_response(response: Response) -> Response:
    """Write the access line once the response is final."""
    log_request(response.status_code)
    return response


def log_unhandled(error: BaseException | None) -> None:
    """Log requests that ended in an exception no handler turned into a response."""
    if error is not None and not g.get("usage_log_done"):
        log_request(500)


def log_request(status: int) -> None:
    """Write the current request's access line (only once per request)."""
    g.usage_log_done = True
    started = g.get("usage_log_start")
    duration_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    now = clock()
    write_line(access_line(now, status, duration_ms), now)


def security_event(kind: str, **details: object) -> None:
    """Log a security event (login failure, CSRF or cross-origin rejection...).

    Details named like a token are cut to their prefix, token-shaped runs in the
    others too; details named like a password, secret or TOTP code are dropped.
    """
    if not has_app_context():
        return
    now = clock()
    parts = [now.isoformat()]
    if has_request_context():
        parts += [bare(request.remote_addr), SECURITY_MARKER, f"kind={bare(kind)}"]
        parts += [f"method={bare(request.method)}", f'path="{neutralise(request_path())}"']
    else:
        parts += ["-", SECURITY_MARKER, f"kind={bare(kind)}"]
    for name, value in details.items():
        if any(secret in name.lower() for secret in SECRET_DETAILS):
            continue
        text = token_prefix(value) if "token" in name.lower() else redact(str(value))
        parts.append(f'{bare(name)}="{neutralise(text[:MAX_DETAIL_LENGTH])}"')
    write_line(" ".join(parts), now)


def as_date(moment: datetime | date) -> date:
    """The UTC date of a datetime (a date passes through)."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    return moment


def old_logs(
    folder: str | os.PathLike[str], now: datetime | date, keep_days: int = KEEP_DAYS
) -> list[Path]:
    """The daily files whose date is more than `keep_days` days before `now`."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    oldest_kept = as_date(now) - timedelta(days=keep_days)
    due = []
    for path in sorted(folder.iterdir()):
        match = FILE_NAME.fullmatch(path.name)
        if match and date.fromisoformat(match.group(1)) < oldest_kept:
            due.append(path)
    return due


def delete_old_logs(
    folder: str | os.PathLike[str], now: datetime | date, keep_days: int = KEEP_DAYS
) -> list[Path]:
    """Delete the daily files older than `keep_days` days; return the paths deleted."""
    deleted = []
    for path in old_logs(folder, now, keep_days):
        path.unlink(missing_ok=True)
        deleted.append(path)
    return deleted


def init_app(app: Flask) -> None:
    """Log every request: timer first among the checks, line written last."""
    app.extensions[EXTENSION_KEY] = DailyFile(log_folder(app))
    # Inserted first so a request refused by an earlier check is still timed, and its
    # line (after_request functions run in reverse) written after all other changes.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)
    app.after_request_funcs.setdefault(None, []).insert(0, log_response)
    app.teardown_request(log_unhandled)
