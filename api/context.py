"""The request context every endpoint, the gate and the insight routes share: one database,
one clock, the settings, the rate limiter, and who the caller is.

Its own module so that the routes (api/app.py), the gate and the insight routes can all take
it without importing each other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from . import auth, limits, sql, versions
from .clock import Clock, iso, utc_now
from .course import Course
from .errors import ApiError
from .learner import Learner, as_learner
from .learning import Learning
from .lrs import Forwarder
from .settings import Settings
from .storage import Busy, Database, Fault, Statement
from .watching import Caller, Prefetched

if TYPE_CHECKING:  # PyJWT is imported only when Cloudflare Access mode is on
    from .access import AccessVerifier

ACCESS_HEADER = "Cf-Access-Jwt-Assertion"
USE_WAIT = 0.05  # seconds a request waits to write down a use while another process writes
log = logging.getLogger("sillon")


class Context:
    """One database, one clock and the settings; the caller's identity and rate limits."""

    def __init__(self, settings: Settings, db: Database, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.learning = Learning(db, clock, site=settings.base_url)
        self.limiter = limits.Limiter()
        self.forwarder = Forwarder(db, settings.lrs) if settings.lrs else None
        if self.forwarder:
            self.learning.recorded = self.forwarder.nudge
        self.learning.loaded = self.course_loaded
        self.tally_checked = False
        self.status_lists: dict[tuple[object, ...], str] = {}  # api/issuer.py: the signed list
        self.peers: list[Context] = [self]  # every cohort's (api/cohorts.py): email sign-in

    def course_loaded(self, course: Course) -> None:
        """Say once what the course's Tally quizzes lack here (nothing for a course without)."""
        if self.tally_checked or not any(step.tally for step in course.steps):
            return
        self.tally_checked = True
        for warning in self.settings.tally_warnings():
            log.warning("%s", warning)

    def limit(
        self, request: Request, rule: limits.Rule, key: str | None = None, spend: bool = True
    ) -> None:
        """Spend a token of this rule for the caller (its address unless a key is given); not
        `spend`ing, only refuse when none is left."""
        if not self.settings.rate_limits:
            return
        self.limiter.take(rule, key or self.address(request), self.clock().timestamp(), spend)

    def address(self, request: Request) -> str:
        header = self.settings.client_ip_header
        if header and request.headers.get(header):
            return request.headers[header]
        return request.client.host if request.client else "unknown"

    # -- identity ------------------------------------------------------------------------------

    async def learner(self, request: Request) -> Learner:
        """The signed-in learner: from Cloudflare Access when on, else the session cookie only."""
        return (await self.identified(request))[0]

    async def identified(self, request: Request) -> tuple[Learner, Caller]:
        """The signed-in learner, and who asked as proven (with when their use was written)."""
        if self.settings.access is not None:
            return await self.access_learner(request, self.settings.access)
        learner, caller, _ = await self.by_session(request)
        return learner, caller

    async def by_session(
        self, request: Request, view_step: str | None = None
    ) -> tuple[Learner, Caller, Prefetched | None]:
        """The session's learner and caller; with `view_step`, their saved view of that step,
        read in the same statement."""
        token = auth.session_token(request)
        if token is None:
            raise ApiError(401, "unauthorized", "Sign in with your invite link first.")
        now, session, publishes = self.clock(), auth.token_hash(token), versions.publishes()
        statement = sql.learner_by_session(session, iso(now), view_step)
        row = (await self.db.execute(statement)).first()
        if row is None:
            raise ApiError(
                401,
                "unauthorized",
                "Your session has ended: sign in again with a new link (from your teacher, "
                "another device of yours or by email).",
            )
        seen = row.pop("seen")
        self.learning.current.told(row.pop("current_version"), now, publishes)
        prefetched = Prefetched.popped(view_step, row)
        if (seen is None or seen <= iso(now - auth.SEEN_EVERY)) and await self.keep_session(
            session, now
        ):
            seen = iso(now)
        learner = as_learner(row)
        assert learner is not None
        return learner, Caller("session", session, seen), prefetched

    async def caller(self, request: Request) -> Caller | None:
        """Who asks, as proven without the database (a session still to be checked in it), or
        None when the request does not say (api/watching.py's one-call report)."""
        if self.settings.access is not None:
            assertion = request.headers.get(ACCESS_HEADER)
            if not assertion:
                return None
            email = await run_in_threadpool(self.settings.access.email, assertion)
            return Caller("email", email)
        token = auth.session_token(request)
        return Caller("session", auth.token_hash(token)) if token else None

    async def keep_session(self, session: str, now: datetime) -> bool:
        """A session in use lives on: its end slides to 30 days from now. Written at most once
        an hour per session (not on every request), before the request's own work, so even a
        refused request counts as a use."""
        expires = iso(now + timedelta(days=auth.SESSION_DAYS))
        seen_before = iso(now - auth.SEEN_EVERY)
        return await self.note_use(sql.touch_session(session, iso(now), expires, seen_before))

    async def note_use(self, statement: Statement) -> bool:
        """Write down a use (a session's sliding end, a learner's last activity): bookkeeping,
        so a request never waits on it. While another process holds the write lock (at most
        USE_WAIT) or storage refuses writes, it is skipped, and the next request writes it.
        Say whether it was written."""
        try:
            await self.db.batch([statement], wait=USE_WAIT)
        except (Busy, Fault) as exc:
            log.info("a use not written down now (the next request will): %s", exc)
            return False
        return True

    async def access_learner(
        self, request: Request, verifier: AccessVerifier
    ) -> tuple[Learner, Caller]:
        assertion = request.headers.get(ACCESS_HEADER)
        if not assertion:
            raise ApiError(401, "unauthorized", "Sign in through Cloudflare Access first.")
        email = await run_in_threadpool(verifier.email, assertion)  # may fetch the team's keys
        row = (await self.db.execute(sql.learner_by_email(email))).first()
        if row is None:
            raise ApiError(403, "not_enrolled", f"{email} is not enrolled in this course.")
        now = self.clock()
        seen_before, seen = iso(now - auth.SEEN_EVERY), row["active_at"]
        if seen is None or seen <= seen_before:  # no session to keep
            if await self.note_use(sql.learner_seen(row["id"], iso(now), seen_before)):
                seen = iso(now)
        learner = await self.learning.learner(sql.learner_by_id(row["id"]))
        assert learner is not None
        return learner, Caller("email", email, seen)

    async def placed(
        self, request: Request, course: Course | None = None
    ) -> tuple[Learner, Course]:
        """The signed-in learner, placed on the current course version (`course`, when the
        caller has just read it), and that course."""
        learner, course, _ = await self.placed_caller(request, course)
        return learner, course

    async def placed_watcher(
        self, request: Request, step_id: object
    ) -> tuple[Learner, Course, Caller, Prefetched | None]:
        """`placed_caller` for a video report on `step_id`: in session mode, its saved view of
        the step comes with the session read (one statement, not two)."""
        if self.settings.access is not None or not isinstance(step_id, str):
            return (*await self.placed_caller(request), None)
        learner, caller, prefetched = await self.by_session(request, step_id)
        course = await self.learning.course()
        return await self.learning.place(learner, course), course, caller, prefetched

    async def placed_caller(
        self, request: Request, course: Course | None = None
    ) -> tuple[Learner, Course, Caller]:
        """`placed`, and who asked as proven (`identified`)."""
        learner, caller = await self.identified(request)
        course = course or await self.learning.course()
        return await self.learning.place(learner, course), course, caller
