"""The reference model at work: the world (the course, the clock, every learner) and what each
request does to it, as the README's rules say, with the answer the server must give.

A request is played on a copy of the world (see test_model.Progression.predict): a refusal is a
`Refused` raised inside the model and answered as a 4xx, and changes only the limit buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from support.model import (
    ADDRESS,
    COMPLETION,
    COMPLETION_SLACK,
    COUNTER_BADGES,
    EVENT_ID,
    EVENTS_LIMIT,
    FAILURES_LIMIT,
    GRACE,
    LINK_LIMIT,
    MAX_RATE,
    SEEN_EVERY,
    SESSION,
    SESSION_LIMIT,
    SLACK,
    WRITES_LIMIT,
    XP_DAY,
    XP_MODULE,
    XP_PERFECT,
    XP_QUIZ,
    XP_VIDEO,
    Course,
    Expect,
    Learner,
    Refused,
    Step,
    is_number,
    iso,
    keys,
    length,
    union,
)


@dataclass
class World:
    """The model: the current course, the clock, every learner."""

    course: Course
    now: datetime
    learners: dict[str, Learner] = field(default_factory=dict)
    buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    fresh: list[dict[str, Any]] = field(default_factory=list)  # XP awarded by this request
    fresh_badges: list[str] = field(default_factory=list)  # badges earned by this request

    def take(self, limit: tuple[str, int, int], key: str, spend: bool = True) -> None:
        """Spend a token of a bucket (not `spend`ing, only need one), or be refused 429
        (README, "Abuse limits")."""
        name, burst, per_minute = limit
        now = self.now.timestamp()
        tokens, updated = self.buckets.get((name, key), (float(burst), now))
        tokens = min(float(burst), tokens + max(0.0, now - updated) * per_minute / 60.0)
        if tokens < 1.0:
            raise Refused(429, "too_many_requests")
        if spend:
            self.buckets[(name, key)] = (tokens - 1.0, now)

    def limited(self, limit: tuple[str, int, int], key: str) -> Expect | None:
        try:
            self.take(limit, key)
        except Refused as refused:
            return refused.expect
        return None

    def opening(self, token: str, known: bool) -> Expect | None:
        """README, "Abuse limits": opening a session spends the address's bucket and the
        token's, none may start while the address has no failure left, and a token no link
        has spends a failure; the refusal, or None."""
        try:
            self.take(SESSION_LIMIT, ADDRESS)
            self.take(FAILURES_LIMIT, ADDRESS, spend=False)
            self.take(LINK_LIMIT, token)
            if not known:
                self.take(FAILURES_LIMIT, ADDRESS)
        except Refused as refused:
            return refused.expect
        return None

    def use_session(self, who: Learner) -> None:
        """README, "Sign-in": a session in use ends 30 days after its last use, which the server
        writes at most once an hour (even for a request it then refuses)."""
        if who.seen_at is None or self.now - who.seen_at >= SEEN_EVERY:
            who.seen_at, who.session_until = self.now, self.now + SESSION

    def iso(self) -> str:
        return iso(self.now)

    # -- awards --

    def award(self, who: Learner, cause: str, amount: int) -> None:
        if cause not in who.awards:
            who.awards[cause] = (amount, self.now.date().isoformat())
            self.fresh.append({"cause": cause, "amount": amount})

    def badge(self, who: Learner, badge: str) -> None:
        if badge not in who.badges:
            who.badges.add(badge)
            self.fresh_badges.append(badge)

    def badges(self, who: Learner, family: str, value: int) -> None:
        for badge, threshold in COUNTER_BADGES[family]:
            if value >= threshold:
                self.badge(who, badge)

    def learning_day(self, who: Learner) -> None:
        day = self.now.astimezone(ZoneInfo(who.tz)).date()
        if who.day is not None and day <= who.day:
            return
        streak = who.streak + 1 if who.day and day - who.day == timedelta(days=1) else 1
        who.day, who.streak, who.best = day, streak, max(who.best, streak)
        self.award(who, f"day:{day.isoformat()}", XP_DAY)
        self.badges(who, "streak", streak)

    def finish(self, who: Learner, step: Step, perfect: bool = False) -> str | None:
        """Complete the open step; it stays open until the learner moves on (`move_on`)."""
        who.completed[step.id] = step.kind
        if step.kind == "video":
            self.award(who, f"video:{step.id}", XP_VIDEO)
            self.badges(who, "videos", who.count("video"))
        elif step.kind == "quiz":
            self.award(who, f"quiz:{step.id}", XP_QUIZ)
            self.badges(who, "quizzes", who.count("quiz"))
            if perfect:
                self.award(who, f"quiz-perfect:{step.id}", XP_PERFECT)
                self.badge(who, "perfectionist")
        if self.course.ends_module(step):
            who.modules.add(step.module)
            self.award(who, f"module:{step.module}", XP_MODULE)
            self.badges(who, "modules", len(who.modules))
        return self.course.after(step.id)

    # -- the path --

    def place_all(self) -> None:
        for who in self.learners.values():
            who.open = self.course.open_for(set(who.completed), who.open)

    def acting_step(self, who: Learner, step_id: object) -> Step:
        if not isinstance(step_id, str) or not step_id:
            raise Refused(422, "invalid")
        step = self.course.step(step_id)
        if step is None:
            raise Refused(404, "unknown_step")
        if step_id == who.open:
            return step
        if who.open is None or self.course.index(step_id) < self.course.index(who.open):
            raise Refused(409, "step_closed")
        raise Refused(403, "step_locked")

    # -- learner events --

    def event(
        self,
        who: Learner | None,
        kind: str,
        body: object,
        cookie: str | None = None,
        address: str = ADDRESS,
    ) -> Expect:
        """POST /api/video-event, /api/lesson-done, /api/quiz-submission, /api/next."""
        self.fresh, self.fresh_badges = [], []
        try:
            self.take(WRITES_LIMIT, address)
            if cookie is not None:
                self.take(EVENTS_LIMIT, cookie)
            body, eid = event_body(body)
            if who is None or who.session_until is None or self.now >= who.session_until:
                raise Refused(401, "unauthorized")
            self.use_session(who)
            last_move = dict(who.moves[-1:])
            if eid in who.events or eid in last_move:
                first_kind, first = who.events.get(eid) or ("next", last_move[eid])
                if first_kind != kind:
                    raise Refused(409, "event_id_reused")
                return Expect(200, body={**first, "replayed": True})
            step = self.acting_step(who, body.get("stepId"))
            before = (who.day, len(who.completed))  # a video report changing neither is plain:
            if kind == "video":  # not recorded, decided again if sent again (README)
                fields = self.video(who, step, body.get("intervals"))
            elif kind == "lesson":
                if step.kind != "lesson":
                    raise Refused(422, "not_a_text_lesson")
                if step.id not in who.completed:  # a second click records nothing
                    self.learning_day(who)
                    self.finish(who, step)
                fields = {"complete": True, "nextStep": self.course.after(step.id)}
            elif kind == "next":
                fields = self.move_on(who, step)
            else:
                fields = self.quiz(who, step, body.get("answers"))
        except Refused as refused:
            return refused.expect
        fields.update(self.earned(who))
        plain = kind == "video" and (who.day, len(who.completed)) == before
        event = None if plain else (eid, kind)
        return Expect(200, fields={"stepId": step.id, **fields}, learner=who.uid, event=event)

    def move_on(self, who: Learner, step: Step) -> dict[str, Any]:
        """README, "One open step": a done step closes when the learner moves on."""
        if step.id not in who.completed:
            raise Refused(409, "step_not_done")
        who.open = self.course.after(step.id)
        return {"nextStep": who.open}

    def earned(self, who: Learner) -> dict[str, Any]:
        """An answer's `xp` and `badges`: what this request awarded (each cause once, ever)."""
        ever_xp = [{"cause": c, "amount": a} for c, (a, _) in who.awards.items()]
        ever_badges = list(who.badges)
        answer = {
            "xp": (keys(self.fresh), keys(ever_xp)),
            "badges": (keys(self.fresh_badges), keys(ever_badges)),
        }
        self.fresh, self.fresh_badges = [], []
        return answer

    def video(self, who: Learner, step: Step, raw: object) -> dict[str, Any]:
        if step.kind != "video":
            raise Refused(422, "not_a_video")
        if not isinstance(raw, list) or len(raw) > 200:
            raise Refused(422, "invalid_intervals")
        reported = []
        for item in raw:
            if not (isinstance(item, list) and len(item) == 2 and all(map(is_number, item))):
                raise Refused(422, "invalid_intervals")
            start, end = float(item[0]), float(item[1])
            if not 0 <= start <= end <= step.duration + SLACK:
                raise Refused(422, "invalid_intervals")
            reported.append((start, min(end, step.duration)))
        # The server keeps the first report's time in milliseconds (ISO text).
        stored = datetime.fromisoformat(self.iso().replace("Z", "+00:00"))
        previous, first_play = who.views.get(step.id, ([], stored))
        merged = union([*previous, *reported])
        watched = length(merged)
        elapsed = max(0.0, (self.now - first_play).total_seconds())
        if watched > elapsed * MAX_RATE + GRACE + 1e-6:
            raise Refused(422, "implausible_watch")
        who.views[step.id] = (merged, first_play)
        if watched > length(union(previous)):
            self.learning_day(who)
        required = COMPLETION * step.duration
        wait = None
        if watched + 1e-6 >= required:  # covered: complete once the pace allows it
            wait = max(0.0, required / MAX_RATE - COMPLETION_SLACK - elapsed)
        done = step.id in who.completed  # watched again while the done step stays open
        complete = wait == 0 or done
        if complete and not done:
            self.finish(who, step)
        return {
            "watched": round(watched, 3),
            "complete": complete,
            "completesIn": round(wait, 3) if wait and not complete else None,
            "nextStep": self.course.after(step.id) if complete else None,
        }

    def grade(self, step: Step, answers: object) -> tuple[float, list[bool]]:
        """README, "Quizzes": exactly the right choices, every question answered."""
        if not isinstance(answers, list) or len(answers) != len(step.keys):
            raise Refused(422, "invalid_answers")
        right = []
        for number, given in enumerate(answers):
            if given is None or given == []:
                raise Refused(422, "unanswered")  # a blank question: no attempt
            picked = [given] if isinstance(given, int) and not isinstance(given, bool) else given
            if not isinstance(picked, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in picked
            ):
                raise Refused(422, "invalid_answers")
            if any(not 0 <= i < step.choices[number] for i in picked) or len(set(picked)) != len(
                picked
            ):
                raise Refused(422, "invalid_answers")
            if not step.multiple[number] and len(picked) > 1:
                raise Refused(422, "invalid_answers")
            right.append(sorted(picked) == list(step.keys[number]))
        return sum(right) / len(step.keys), right

    def failures(self, who: Learner, step: Step) -> int:
        """Failed attempts at the quiz since its last pass."""
        failed = 0
        for _, passed in who.tries.get(step.id, []):
            failed = 0 if passed else failed + 1
        return failed

    def retry_after(self, who: Learner, step: Step) -> int:
        """README, "Quizzes": whole seconds before the next attempt may come (0: now)."""
        failed = self.failures(who, step)
        if not failed:
            return 0
        last = who.tries[step.id][-1][0]
        return max(0, math.ceil(step.wait_after(failed) - (self.now - last).total_seconds()))

    def attempt(
        self, who: Learner, step: Step, source: str, score: float, passed: bool, perfect: bool
    ) -> None:
        """A graded attempt; the perfect bonus only for a perfect first attempt."""
        first = not who.tries.get(step.id)
        who.attempts.append((step.id, source, int(passed), int(perfect), round(score, 4)))
        # The server keeps the attempt's time in milliseconds (ISO text).
        stored = datetime.fromisoformat(self.iso().replace("Z", "+00:00"))
        who.tries.setdefault(step.id, []).append((stored, passed))
        self.learning_day(who)
        if passed:
            self.finish(who, step, perfect and first)

    def not_passed(self, who: Learner, step: Step) -> None:
        """A passed quiz stays open until the learner moves on, but takes no more attempts."""
        if step.id in who.completed:
            raise Refused(409, "step_done")

    def quiz(self, who: Learner, step: Step, answers: object) -> dict[str, Any]:
        if step.kind != "quiz":
            raise Refused(422, "not_a_quiz")
        if step.tally:
            raise Refused(422, "tally_quiz")
        self.not_passed(who, step)
        if self.retry_after(who, step):
            raise Refused(429, "quiz_cooldown")
        score, right = self.grade(step, answers)
        passed, perfect = score + 1e-9 >= step.pass_mark, score == 1.0
        failed = self.failures(who, step)
        self.attempt(who, step, "builtin", score, passed, perfect)
        after = self.course.after(step.id) if passed else None
        # A failure tells pass/fail, the score unless `none`, which questions only if `questions`.
        return {
            "feedback": step.feedback,
            "score": round(score, 4) if passed or step.feedback != "none" else None,
            "correct": right if passed or step.feedback == "questions" else None,
            "passed": passed,
            "perfect": perfect,
            "retryAfter": 0 if passed else math.ceil(step.wait_after(failed + 1)),
            "nextStep": after,
        }

    def tally(self, signed: bool, submission: dict[str, Any]) -> Expect:
        """POST /api/tally-hook, with the submission the rule built."""
        self.fresh, self.fresh_badges = [], []
        try:
            self.take(WRITES_LIMIT, ADDRESS)
            if not signed:
                raise Refused(401, "bad_signature")
            score, most = submission["score"], submission["max_score"]
            bad_most = most is not None and (not is_number(most) or most <= 0)
            if not is_number(score) or bad_most:
                raise Refused(422, "no_score")
            fraction = score / most if most is not None else score / 100
            if not 0 <= fraction <= 1:
                raise Refused(422, "no_score")
            if not submission["mac_ok"]:
                raise Refused(401, "bad_hidden_field")
            if submission["expires"] < self.now.timestamp():
                raise Refused(422, "expired_hidden_field")
            who = self.learners.get(submission["uid"])
            if who is None:
                raise Refused(404, "unknown_learner")
            eid = "tally:" + submission["response"]
            if eid in who.events:
                first_kind, first = who.events[eid]
                if first_kind != "tally":
                    raise Refused(409, "event_id_reused")
                return Expect(200, body={**first, "replayed": True})
            step = self.acting_step(who, submission["step"])
            if not step.tally or submission["form"] != step.tally:
                raise Refused(422, "wrong_form")
            self.not_passed(who, step)
            wait = self.retry_after(who, step)
            if wait:  # during the cooldown: answered (Tally sends it once), not counted
                fields = {"stepId": step.id, "counted": False, "passed": False, "retryAfter": wait}
                fields |= self.earned(who)
                return Expect(200, fields=fields, learner=who.uid, event=(eid, "tally"))
            failed = self.failures(who, step)
            passed, perfect = fraction + 1e-9 >= step.pass_mark, fraction >= 1.0
            self.attempt(who, step, "tally", fraction, passed, perfect)
        except Refused as refused:
            return refused.expect
        fields = {
            "stepId": step.id,
            "counted": True,
            "score": round(fraction, 4),
            "passed": passed,
            "retryAfter": 0 if passed else math.ceil(step.wait_after(failed + 1)),
            **self.earned(who),
        }
        return Expect(200, fields=fields, learner=who.uid, event=(eid, "tally"))


def record(world: World, expected: Expect, response: httpx.Response) -> None:
    """A success is an event: a replay of its id must answer exactly this again."""
    if expected.event is not None and expected.learner is not None:
        eid, kind = expected.event
        who = world.learners[expected.learner]
        if kind == "next":  # its answer is in the learner's row, not in `events`
            who.moves.append((eid, response.json()))
        else:
            who.events[eid] = (kind, response.json())


def event_body(body: object) -> tuple[dict[str, Any], str]:
    """An event's body and its eventId, as every event endpoint reads them first."""
    if body is ValueError:
        raise Refused(400, "invalid_json")
    if not isinstance(body, dict):
        raise Refused(422, "invalid")
    if any(k in body for k in ("userId", "user_id", "learnerId", "teamId")):
        raise Refused(400, "identity_in_body")
    eid = body.get("eventId")
    if not isinstance(eid, str) or not EVENT_ID.match(eid):
        raise Refused(422, "invalid")
    return body, eid
