"""The nudges' operations (api/nudges.py), declared like every other (api/operations.py lists
them in OPERATIONS); apart only to keep each module short."""

from __future__ import annotations

from .body import Body, Field, Params
from .openapi import ADMIN, Operation, array, obj, ok

NUDGE_MAX = 200  # learners one request may remind (api/nudges.py reads it from here)
NUDGE = Body(
    Field(
        "userIds",
        help="the learners to remind: each must be stalled, and is reminded once a day at most",
        checked_by="nudges",
        shape={"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": NUDGE_MAX},
    ),
)
NUDGES_LOG = Params(Field("teamId", checked_by="insight"))

NUDGE_OPERATIONS = (
    Operation(
        "POST",
        "/api/admin/nudges",
        "Email stalled learners a reminder with a fresh one-time sign-in link (admin)",
        ADMIN,
        NUDGE,
        replies=ok(
            obj(results=array(obj(userId=str, name=str, status=str, reason=str, linkExpiresAt=str)))
        ),
        errors=(401, 403, 422, 503),
    ),
    Operation(
        "GET",
        "/api/admin/nudges",
        "Every reminder sent to a team's learners, newest first (admin)",
        ADMIN,
        query=NUDGES_LOG,
        replies=ok(
            obj(
                nudges=array(
                    obj(
                        id=str,
                        userId=str,
                        name=str,
                        stepId=(str, None),
                        sentAt=str,
                        sentBy=str,
                        status=str,
                        error=(str, None),
                    )
                )
            )
        ),
        errors=(401, 403, 422),
    ),
)
