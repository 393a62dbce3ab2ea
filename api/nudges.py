"""The teacher's nudge: a reminder email to a stalled learner, with a fresh one-time sign-in link.

A teacher picks learners the insight calls stalled (api/insight.py `stalled`: on the same step
for more than STALL_DAYS days) on the admin page, through POST /api/admin/nudges or with
`python build.py learners nudge`; each gets one email (the SMTP settings of email sign-in) with
a personal link `/join/#<token>` that opens one session and ends after LINK_DAYS. A learner is
reminded at most once in NUDGE_EVERY: the row that claims the reminder is written by the
statement that checks the limit (sql.claim_nudge), so two teachers clicking at once send one
email. Every reminder is logged (table `nudges`): when, by whom, on which step, sent or failed;
a failed one does not count against the day.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import auth, limits, mail, signin, sql
from .clock import iso
from .context import Context
from .errors import ApiError
from .insight import stalled, team_param
from .operations_nudges import NUDGE, NUDGE_MAX

log = logging.getLogger("sillon.nudges")

NUDGE_EVERY = timedelta(days=1)  # one reminder per learner in this window, however asked
SENDING_FOR = timedelta(minutes=10)  # a claim still 'sending' after this was abandoned
MAIL_TEXT = {
    "fr": (
        "On vous attend : {course}",
        "Bonjour {name},\n\nVotre parcours « {course} » vous attend à l'étape « {step} ».\n"
        "Reprenez là où vous en étiez avec ce lien personnel (il ouvre une session une seule "
        "fois et expire dans {days} jours) :\n\n{url}\n\nÀ bientôt,\n{teacher}\n",
    ),
    "en": (
        "Your course is waiting: {course}",
        'Hello {name},\n\nYour course "{course}" is waiting for you at the step "{step}".\n'
        "Pick up where you left off with this personal link (it signs you in once and expires "
        "in {days} days):\n\n{url}\n\nSee you soon,\n{teacher}\n",
    ),
}


async def remind(api: Context, learner_ids: list[str], base: str, by: str) -> list[dict[str, Any]]:
    """Remind each learner, in order: `sent`, `skipped` (with why) or `failed` (with why)."""
    smtp = api.settings.smtp
    if smtp is None:
        raise ApiError(503, "email_unavailable", "Reminders need email: set SILLON_SMTP_URL.")
    course = await api.learning.course()
    results = []
    for learner_id in dict.fromkeys(learner_ids):  # each once, in the order given
        results.append(await remind_one(api, smtp, course, learner_id, base, by))
    return results


async def remind_one(
    api: Context, smtp: mail.SmtpConfig, course: Any, learner_id: str, base: str, by: str
) -> dict[str, Any]:
    learner = (await api.db.execute(sql.nudge_target(learner_id))).first()
    if learner is None:
        return {"userId": learner_id, "status": "skipped", "reason": "unknown_learner"}
    found = {"userId": learner_id, "name": learner["name"]}
    now = api.clock()
    if not stalled(learner, now):
        return found | {"status": "skipped", "reason": "not_stalled"}
    nudge_id = str(uuid.uuid4())
    since, stale = iso(now - NUDGE_EVERY), iso(now - SENDING_FOR)
    claim = sql.claim_nudge(nudge_id, learner_id, learner["open_step"], iso(now), since, stale, by)
    if (await api.db.batch([claim]))[0].changes == 0:
        return found | {"status": "skipped", "reason": "reminded_today"}
    try:
        token, expires = await signin.issue(api, learner_id, "nudge", now)
        step = course.step(learner["open_step"])
        subject, text = MAIL_TEXT.get(course.language, MAIL_TEXT["en"])
        body = text.format(
            name=learner["name"],
            course=course.title,
            step=step.title if step else learner["open_step"],
            url=f"{base}/join/#{token}",
            days=signin.LIFETIMES["nudge"].days,
            teacher=course.author or course.title,
        )
        await mail.deliver(smtp, mail.message(smtp, learner["email"], subject, body))
    except Exception as exc:  # noqa: BLE001 - the teacher is told, and may try again
        log.warning("reminder to %s failed: %s", learner_id, exc)
        await api.db.batch([sql.mark_nudge(nudge_id, "failed", str(exc)[:300])])
        return found | {"status": "failed", "reason": str(exc)[:300]}
    await api.db.batch([sql.mark_nudge(nudge_id, "sent", None)])
    return found | {"status": "sent", "linkExpiresAt": expires}


async def nudge(api: Context, request: Request) -> Response:
    """POST /api/admin/nudges {userIds}: remind these stalled learners by email (admin)."""
    auth.require_admin(request, api.settings.admin_token)
    api.limit(request, limits.ADMIN)
    ids = (await NUDGE.read(request)).data.get("userIds")
    if not isinstance(ids, list) or not ids or len(ids) > NUDGE_MAX:
        raise ApiError(422, "invalid", f"'userIds' must list 1 to {NUDGE_MAX} learner ids.")
    if not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids):
        raise ApiError(422, "invalid", "'userIds' must be learner ids (strings).")
    base = (api.settings.base_url or str(request.base_url)).rstrip("/")
    return JSONResponse({"results": await remind(api, ids, base, "admin")})


async def nudges_log(api: Context, request: Request) -> Response:
    """GET /api/admin/nudges?teamId=: every reminder to the team's learners, newest first."""
    auth.require_admin(request, api.settings.admin_token)
    api.limit(request, limits.ADMIN)
    rows = (await api.db.execute(sql.nudges_log(team_param(request)))).rows
    return JSONResponse({"nudges": [logged(row) for row in rows]})


def logged(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "userId": row["learner_id"],
        "name": row["name"],
        "stepId": row["step_id"],
        "sentAt": row["sent_at"],
        "sentBy": row["sent_by"],
        "status": row["status"],
        "error": row["error"],
    }


def routes(api: Context) -> list[Route]:
    """The nudges' routes, bound to the API (Api.routes lists them)."""
    return [
        Route("/api/admin/nudges", partial(nudge, api), methods=["POST"]),
        Route("/api/admin/nudges", partial(nudges_log, api), methods=["GET"]),
    ]
