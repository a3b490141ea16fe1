"""Staff screen for rights requests: every request with its due date, newest first."""

from flask import abort, render_template, request

from ..db import get_db, utcnow
from ..privacy.rights import records
from . import bp, lists


@bp.get("/requests")
def rights_request_list():
    """Requests by status, 50 a page (keyset pagination); overdue ones stand out."""
    status = request.args.get("status", "")
    try:
        rows, next_cursor = records.search(
            get_db(), utcnow(), status=status, cursor=request.args.get("after")
        )
    except ValueError as error:
        abort(400, description=str(error))
    return render_template(
        "admin/rights.html",
        rows=rows,
        next_cursor=next_cursor,
        status=status,
        status_labels=records.STATUS_LABELS,
        kind_labels=records.KIND_LABELS,
        channel_labels=records.CHANNEL_LABELS,
        list_args=lists.args_without_cursor(),
    )
