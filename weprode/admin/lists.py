"""What the staff list pages share: filters from the query string, page links, CSV export."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, abort, current_app, request
from flask_login import current_user

from .. import audit
from ..db import Database, connect, get_db, utcnow


def filters_or_400(make_filters: Callable[..., Any], **values: str) -> Any:
    """The list's filters built from `values`; 400 with the reason if they are malformed."""
    try:
        return make_filters(**values)
    except ValueError as error:
        abort(400, description=str(error))


def args_without_cursor() -> dict[str, str]:
    """The query string minus the page cursor, so page and export links keep the filters."""
    return {k: v for k, v in request.args.items() if k != "after"}


def csv_download(
    target: str, csv_lines_from: Callable[[Database], Iterable[str]], **filters: str
) -> Response:
    """Stream `csv_lines_from(db)` as `<target>-<time>.csv`, recording the export first.

    The audit entry names the list and the `filters` applied, so the log says what
    personal data left the site, not only that some did.
    """
    db, now = get_db(), utcnow()
    audit.record(db, current_user.email, "export", now, target=target, **filters)
    filename = f"{target}-{now:%Y%m%d-%H%M}.csv"
    return Response(
        lines_over_own_connection(current_app.config["DATABASE"], csv_lines_from),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def lines_over_own_connection(
    database: str, csv_lines_from: Callable[[Database], Iterable[str]]
) -> Iterator[str]:
    """CSV lines over a connection of its own: the response outlives the request's."""
    db = connect(database)
    try:
        yield from csv_lines_from(db)
    finally:
        db.close()
