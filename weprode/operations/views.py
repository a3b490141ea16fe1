"""`GET /healthz`: for load balancers and monitoring, not for people.

No cookie, no personal data, never cached, never rate limited (a monitor polls it
from one address); JSON whatever the outcome, 503 when the site cannot do its job.
"""

from flask import Blueprint, current_app, jsonify
from flask_babel import force_locale

from ..db import get_db, utcnow
from ..security import limiter
from . import health

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """200 with {"status": "ok"}, or 503 with {"status": "failing", "reasons": [...]}."""
    # English whatever ?lang= says: monitors match these words.
    with force_locale("en"):
        verdict = health.check(get_db(), current_app.config, utcnow())
    response = jsonify(verdict.as_json())
    response.status_code = 200 if verdict.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
