"""The learning API's routes: explicit, validated at the edge, one error shape."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Lifespan

from . import (
    auth,
    certificates,
    export,
    gate,
    insight,
    issuer,
    limits,
    notes,
    nudges,
    quiz,
    rules,
    signin,
    sql,
    tally,
    versions,
    xapi,
)
from .answers import SCHEMAS
from .body import Body, parse_object
from .caching import PrivateAnswers
from .clock import Clock, iso, utc_now
from .context import Context
from .course import Course
from .errors import HANDLERS, ApiError
from .learner import Learner
from .learning import TallyResponse
from .openapi import document
from .operations import (
    ENROLL,
    LEADERBOARD,
    LESSON_DONE,
    MOVE_ON,
    OPERATIONS,
    PERIODS,
    PUBLISH,
    QUIZ_SUBMISSION,
    RESET,
    TALLY_HOOK,
    VIDEO_EVENT,
)
from .routing import IndexedRouter
from .settings import Settings
from .storage import Conflict, Database
from .turns import Turns
from .watching import Caller, Prefetched

LEADERBOARD_SIZE = 100


class Unhealthy(ApiError):
    """/api/health's 503: the database does not read, or does not take writes."""

    retry_after = 5

    def __init__(self, code: str, message: str) -> None:
        super().__init__(503, code, message)


CONFLICT_RETRIES = 5
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Api(Context):
    """The endpoints, over the request context (database, clock, settings, identity)."""

    def __init__(self, settings: Settings, db: Database, clock: Clock = utc_now) -> None:
        super().__init__(settings, db, clock)
        self._routes: list[BaseRoute] | None = None
        self.turns = Turns()

    # -- endpoints -----------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        """200 when the database reads and takes writes; 503 with the reason otherwise (a
        lock another process holds is not a fault: writes wait for it)."""
        try:
            row = (await self.db.execute(sql.health())).first()
            fault = await self.db.check_writes(sql.write_probe(iso(self.clock())))
        except Exception as exc:  # noqa: BLE001 - any database failure is "unavailable"
            row, fault = None, str(exc)
        if row is None:
            raise Unhealthy("database_unavailable", f"The database does not answer: {fault}.")
        if fault is not None:
            raise Unhealthy("database_fault", f"The database cannot take writes: {fault}.")
        return JSONResponse({"ok": True, "database": self.db.name})

    async def enroll(self, request: Request) -> Response:
        self.limit(request, limits.ADMIN)
        auth.require_admin(request, self.settings.admin_token)
        body = await ENROLL.read(request, tz=self.settings.default_tz)
        email = body["email"].lower()
        created = await self.create_learner(body["name"], email, body["teamId"], body["tz"])
        created["inviteUrl"] = signin.link_url(self, request, created["inviteToken"])
        return JSONResponse(created, status_code=201, headers=signin.NO_STORE)

    async def create_learner(self, name: str, email: str, team: str, tz: str) -> dict[str, Any]:
        """Enroll a learner with their invite (a one-time sign-in link), in one batch."""
        found = (await self.db.execute(sql.learner_by_email(email))).first()
        if found:
            raise ApiError(
                409,
                "already_enrolled",
                f"{email} is already enrolled (as {found['id']}); a lost invite is re-issued "
                f"with POST /api/admin/invite or `python build.py learners invite {email}`.",
            )
        learner_id, token = auth.new_learner_id(), auth.cohort_token(self.settings.cohort)
        now = iso(self.clock())
        await self.db.batch(
            [
                sql.enroll(learner_id, name, email, team, tz, now),
                sql.new_link(auth.token_hash(token), learner_id, "invite", now, None),
            ]
        )
        return {"userId": learner_id, "inviteToken": token}

    async def progress(self, request: Request) -> Response:
        """GET /api/learner: your own progress; admins may pass ?userId=."""
        user_id = request.query_params.get("userId")
        if user_id is not None:
            auth.require_admin(request, self.settings.admin_token)
            found = await self.learning.learner(sql.learner_by_id(user_id))
            if found is None:
                raise ApiError(404, "unknown_learner", f"No learner '{user_id}'.")
            course = await self.learning.course()
            learner = await self.learning.place(found, course)
        else:
            learner, course = await self.placed(request)
        return JSONResponse(await self.progress_of(learner, course))

    async def progress_of(self, learner: Learner, course: Course) -> dict[str, Any]:
        rows = (await self.db.execute(sql.progress_rows(learner["id"]))).rows
        completed = [r["id"] for r in rows if r["part"] == 0]
        badges = [r for r in rows if r["part"] == 1]
        open_step = course.step(learner["open_step"]) if learner["open_step"] else None
        return {
            "userId": learner["id"],
            "name": learner["name"],
            "teamId": learner["team_id"],
            "xp": learner["xp"],
            "level": rules.level(learner["xp"]),
            "xpToNextLevel": rules.xp_to_next_level(learner["xp"]),
            "streak": {
                "current": learner["streak"],
                "best": learner["streak_best"],
                "lastDay": learner["streak_day"],
            },
            "badges": [  # earned, or one this course can award
                {"id": b["id"], "name": b["name"], "rule": b["rule"], "earnedAt": b["earned_at"]}
                for b in badges
                if b["earned_at"] or b["id"] in course.possible_badges
            ],
            "currentStep": open_step.public() if open_step else None,
            # A done step stays open until the learner moves on (POST /api/next).
            "currentStepDone": bool(open_step and learner["open_done"]),
            "completed": [step for step in completed if step in course.index],
            "totalSteps": len(course.steps),
            "courseVersion": course.version,
            "summary": await self.summary(learner, course) if open_step is None else None,
        }

    async def summary(self, learner: Learner, course: Course) -> dict[str, Any]:
        """The end of the course: time on the steps and each quiz's best score, in path order."""
        time = (await self.db.execute(sql.time_on_steps(learner["id"]))).first()
        scores = (await self.db.execute(sql.best_scores(learner["id"]))).rows
        best = {r["step_id"]: r["score"] for r in scores}
        quizzes = [
            {"stepId": s.id, "title": s.title, "score": round(float(best[s.id]), 4)}
            for s in course.steps
            if s.id in best
        ]
        return {"seconds": round(float(time["seconds"]) if time else 0.0), "quizzes": quizzes}

    async def video_event(self, request: Request) -> Response:
        return await self._event(request, "video", VIDEO_EVENT)

    async def lesson_done(self, request: Request) -> Response:
        return await self._event(request, "lesson", LESSON_DONE)

    async def quiz_submission(self, request: Request) -> Response:
        return await self._event(request, "quiz", QUIZ_SUBMISSION)

    async def move_on(self, request: Request) -> Response:
        return await self._event(request, "next", MOVE_ON)

    async def _event(self, request: Request, kind: str, declared: Body) -> Response:
        self.limit(request, limits.WRITES)
        token = auth.session_token(request)
        if token:
            self.limit(request, limits.EVENTS, "session:" + auth.token_hash(token))
        received = await declared.read(request)  # identity and eventId; the rest per step
        body, eid = received.data, received["eventId"]
        async with self.turns.turn(token):  # one session's events one at a time (api/turns)
            return await self._decided(request, kind, body, eid)

    async def _decided(
        self, request: Request, kind: str, body: dict[str, Any], eid: str
    ) -> Response:
        if kind == "video":  # a plain report, in one call when this process knows enough
            caller = await self.caller(request)
            quick = caller and await self.learning.watching.report(self.learning, caller, eid, body)
            if quick:
                return JSONResponse(quick)
        viewed = body.get("stepId") if kind == "video" else None  # its view read with the session
        learner, course, caller, view = await self.placed_watcher(request, viewed)
        for _ in range(CONFLICT_RETRIES):
            try:
                answer = await self._decide(learner, course, eid, kind, body, caller, view)
                return JSONResponse(answer)
            except (ApiError, Conflict) as refused:
                # A replay gets its first answer, even once its step has closed. Looked up only
                # when the event is refused: the batch's guard refuses an event already recorded.
                first = await self.learning.replay(learner, eid, kind)
                if first is not None:
                    return JSONResponse({**first, "replayed": True})
                if isinstance(refused, ApiError):
                    raise
            learner, course, caller, view = await self.placed_watcher(request, viewed)  # again
        raise ApiError(503, "busy", "Too many simultaneous reports; the event will be retried.")

    async def _decide(
        self,
        learner: Learner,
        course: Course,
        eid: str,
        kind: str,
        body: dict[str, Any],
        caller: Caller,
        view: Prefetched | None,
    ) -> dict[str, Any]:
        if kind == "video":
            answer = await self.learning.video_event(learner, course, eid, body, caller, view)
        elif kind == "lesson":
            answer = await self.learning.lesson_done(learner, course, eid, body.get("stepId"))
        elif kind == "next":
            answer = await self.learning.move_on(learner, course, eid, body.get("stepId"))
        else:
            answer = await self.learning.quiz_submission(
                learner, course, eid, body.get("stepId"), body.get("answers")
            )
        return answer

    async def leaderboard(self, request: Request) -> Response:
        period = LEADERBOARD.check(request.query_params)["period"]
        team = request.query_params.get("teamId")
        me: str | None = None
        if not auth.is_admin(request, self.settings.admin_token):
            learner = await self.learner(request)
            me = learner["id"]
            if team is None:
                team = learner["team_id"]
            elif team != learner["team_id"]:
                raise ApiError(403, "other_team", "You can only see your own team's leaderboard.")
        if not team:
            raise ApiError(422, "invalid", "'teamId' is required.")
        days = PERIODS[period]
        before = (
            None if days is None else (self.clock() - timedelta(days=days - 1)).date().isoformat()
        )
        rows = (await self.db.lagging().execute(sql.leaderboard(team, before))).rows
        rows = sorted(rows, key=lambda r: (-r["xp"], r["name"], r["id"]))[:LEADERBOARD_SIZE]
        ranks = rules.ranks([r["xp"] for r in rows])
        entries = [
            {"rank": n, "userId": r["id"], "name": r["name"], "xp": r["xp"], "me": r["id"] == me}
            for n, r in zip(ranks, rows, strict=True)
        ]
        return JSONResponse({"teamId": team, "period": period, "entries": entries})

    async def playback(self, request: Request) -> Response:
        """The open video step's playback: its gated URL (local) and what was already watched."""
        learner, course = await self.placed(request)
        step = self.learning.open_step(learner, course, request.query_params.get("stepId"))
        if step.kind != "video" or step.duration is None:
            raise ApiError(422, "not_a_video", f"Step '{step.id}' has no video.")
        signed: dict[str, Any] = {
            "token": None,
            "iframeUrl": None,
            "hlsUrl": None,
            "expiresAt": None,
        }
        if step.stream_uid:
            if self.settings.stream is None:
                raise ApiError(
                    503,
                    "stream_unavailable",
                    "Cloudflare Stream playback is not configured on this server (signing keys).",
                )
            from .stream import playback

            signed = playback(self.settings.stream, step.stream_uid, self.clock())
        row = (await self.db.execute(sql.video_view(learner["id"], step.id))).first()
        intervals = json.loads(row["intervals"]) if row else []
        resume = next((end for start, end in intervals if start <= 0.5), 0.0)
        return JSONResponse(
            {
                "stepId": step.id,
                "kind": "stream" if step.stream_uid else "local",
                "url": step.video_url,
                "duration": step.duration,
                "maxRate": course.max_rate,
                "completion": course.completion,
                "reportEvery": rules.REPORT_PERIOD,
                "intervals": intervals,
                "resumeAt": resume,
                **signed,
            }
        )

    async def quiz_attempt(self, request: Request) -> Response:
        """The open quiz's attempt in progress: its drawn questions, when it may be sent."""
        learner, course = await self.placed(request)
        step_id = request.query_params.get("stepId")
        return JSONResponse(await self.learning.quiz_attempt(learner, course, step_id))

    async def tally_link(self, request: Request) -> Response:
        """The open Tally quiz's form URL, with the signed hidden field that names you."""
        learner, course = await self.placed(request)
        step = self.learning.open_step(learner, course, request.query_params.get("stepId"))
        if not step.tally:
            raise ApiError(422, "not_a_tally_quiz", f"Step '{step.id}' is not a Tally quiz.")
        # No form during the cooldown (429 quiz_cooldown): the player shows the wait instead.
        quiz.check_pace(step, await quiz.history(self.db, learner["id"], step.id), self.clock())
        token = tally.hidden_token(
            self.settings.secret,
            learner["id"],
            step.id,
            self.clock().timestamp(),
            self.settings.cohort,
        )
        url = f"https://tally.so/r/{step.tally}?{tally.HIDDEN_FIELD}={token}"
        return JSONResponse({"stepId": step.id, "formId": step.tally, "formUrl": url})

    async def tally_hook(self, request: Request) -> Response:
        self.limit(request, limits.WRITES)
        raw = await TALLY_HOOK.read_bytes(request)
        tally.verify_webhook(
            self.settings.tally_secret, raw, request.headers.get("tally-signature")
        )
        submission = tally.read_submission(parse_object(raw))
        learner_id, step_id = tally.read_hidden_token(
            self.settings.secret, submission.token, self.clock().timestamp(), self.settings.cohort
        )
        for _ in range(CONFLICT_RETRIES):
            try:
                return await self._tally_attempt(learner_id, step_id, submission)
            except Conflict:
                continue  # the learner moved meanwhile: read again
        raise ApiError(503, "busy", "Too many simultaneous submissions; Tally will retry.")

    async def _tally_attempt(
        self, learner_id: str, step_id: str, submission: tally.Submission
    ) -> Response:
        found = await self.learning.learner(sql.learner_by_id(learner_id))
        if found is None:
            raise ApiError(404, "unknown_learner", "The learner of this response no longer exists.")
        course = await self.learning.course()
        learner = await self.learning.place(found, course)
        first = await self.learning.replay(learner, submission.event_id, "tally")
        if first is not None:
            return JSONResponse({**first, "replayed": True})
        response = TallyResponse(step_id, submission.form_id, submission.fraction)
        answer = await self.learning.tally_attempt(learner, course, submission.event_id, response)
        return JSONResponse(answer)

    async def reset(self, request: Request) -> Response:
        self.limit(request, limits.ADMIN)
        auth.require_admin(request, self.settings.admin_token)
        user_id = (await RESET.read(request))["userId"]
        course = await self.learning.reset(user_id)
        return JSONResponse(
            {"userId": user_id, "currentStep": course.steps[0].public() if course.steps else None}
        )

    async def publish(self, request: Request) -> Response:
        self.limit(request, limits.ADMIN)
        auth.require_admin(request, self.settings.admin_token)
        raw = await PUBLISH.read_bytes(request)
        version = await publish_manifest(self.db, raw.decode("utf-8", "replace"), iso(self.clock()))
        return JSONResponse({"version": version}, status_code=201)

    async def xapi_statements(self, request: Request) -> Response:
        """Every learning event as xAPI statements, oldest first, a page at a time (admin)."""
        self.limit(request, limits.ADMIN)
        auth.require_admin(request, self.settings.admin_token)
        found = await xapi.page(self.db, request.query_params, request.url.path)
        return JSONResponse(found, headers={"X-Experience-API-Version": xapi.VERSION})

    async def gate(self, request: Request) -> Response:
        return await gate.endpoint(self, request)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(document(OPERATIONS, SCHEMAS))

    async def not_found(self, request: Request) -> Response:
        """Unknown endpoints; a known path with another method is a 405, not a 404."""
        allowed = sorted(
            method
            for route in self.routes()[:-1]  # built once: compiling ~30 paths is not free
            if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
            for method in route.methods or ()
            if method != "HEAD"
        )
        if allowed:
            message = f"{request.method} is not allowed here; use {', '.join(allowed)}."
            raise ApiError(405, "method_not_allowed", message)
        raise ApiError(404, "not_found", f"No API endpoint {request.method} {request.url.path}.")

    def routes(self) -> list[BaseRoute]:
        if self._routes is None:
            self._routes = self._declared_routes()
        return self._routes

    def _declared_routes(self) -> list[BaseRoute]:
        return [
            Route("/api/health", self.health, methods=["GET"]),
            Route("/api/openapi.json", self.openapi, methods=["GET"]),
            Route("/api/admin/learners", self.enroll, methods=["POST"]),
            Route("/api/admin/reset", self.reset, methods=["POST"]),
            Route("/api/admin/publish", self.publish, methods=["POST"]),
            *signin.routes(self),
            Route("/api/learner", self.progress, methods=["GET"]),
            Route("/api/video-event", self.video_event, methods=["POST"]),
            Route("/api/lesson-done", self.lesson_done, methods=["POST"]),
            Route("/api/quiz-submission", self.quiz_submission, methods=["POST"]),
            Route("/api/next", self.move_on, methods=["POST"]),
            *notes.routes(self),
            *certificates.routes(self),
            *issuer.routes(self),
            *nudges.routes(self),
            *export.routes(self),
            Route("/api/leaderboard", self.leaderboard, methods=["GET"]),
            Route("/api/playback", self.playback, methods=["GET"]),
            Route("/api/quiz-attempt", self.quiz_attempt, methods=["GET"]),
            Route("/api/tally-link", self.tally_link, methods=["GET"]),
            Route("/api/tally-hook", self.tally_hook, methods=["POST"]),
            Route("/api/gate", self.gate, methods=["GET"]),
            Route("/api/xapi/statements", self.xapi_statements, methods=["GET"]),
            *insight.routes(self),
            Route(
                "/api/{rest:path}",
                self.not_found,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ]


def application(
    api: Api, routes: list[BaseRoute] | None = None, lifespan: Lifespan[Starlette] | None = None
) -> Starlette:
    """The one app, for serve and the Worker alike: the API's routes, then the caller's (serve's
    site and live reload), the one exception-handler table, and CORS when configured."""
    app = Starlette(lifespan=lifespan, exception_handlers=dict(HANDLERS))
    # The same routes, a fixed path found in one lookup rather than by trying them in order.
    app.router = IndexedRouter([*api.routes(), *(routes or [])], lifespan=lifespan)
    app.add_middleware(PrivateAnswers)
    if api.settings.cors_origins:  # closed by default: only an explicit allow-list opens it
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", "Authorization", "X-Sillon-Cohort"],
        )
    return app


async def publish_manifest(db: Database, text_: str, now: str) -> str:
    """Store a manifest written by the build as the current course version."""
    from .course import parse_manifest

    try:
        course = parse_manifest(text_)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        # Any shape the build never writes: a manifest is taken whole or not at all.
        raise ApiError(422, "invalid_manifest", f"Not a Sillon course manifest: {exc!r}") from None
    await db.batch([sql.publish_course(course.version, text_, now)])
    versions.published()  # this process's caches read it at once (others within a second)
    return course.version
