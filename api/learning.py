"""What learners do, as the server decides it: one open step, completions, awards.

Every action reads what it needs, decides in Python, and writes one atomic batch whose
statements are safe to race: facts are inserted once (unique keys), the open step moves only
from the step that was read, awards are `ON CONFLICT DO NOTHING` on their cause.

A completed step stays the learner's open step (its text, video and files stay served) until
they move on (`move_on`, POST /api/next): completing a step never moves the open step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import quiz, rules, sql, xapi
from .clock import Clock, iso, parse_iso, utc_now
from .course import Course, StepInfo
from .errors import ApiError
from .learner import Learner, as_learner, counter
from .outcome import Outcome
from .storage import Conflict, Database, Statement
from .versions import CurrentCourse
from .watching import Caller, Known, Prefetched, View, Watch, Watching, save_plain


@dataclass(frozen=True)
class TallyResponse:
    """What a verified Tally webhook says: whose attempt at which step, on which form, how right."""

    step_id: str
    form_id: str | None
    fraction: float


class Learning:
    """The learning rules over one database and one clock."""

    def __init__(self, db: Database, clock: Clock = utc_now, site: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.site = site or xapi.DEFAULT_SITE  # the base of xAPI actor and activity IRIs
        self.recorded: Callable[[], None] = lambda: None  # told when statements were written
        self.loaded: Callable[[Course], None] = lambda course: None  # told of each new version
        self.current = CurrentCourse(db, clock, lambda course: self.loaded(course))
        self.watching = Watching()  # what each caller's last video report left (api/watching)

    def trail(self, learner: Learner, course: Course) -> xapi.Statements:
        """Where an action writes itself down as xAPI statements (see api/xapi.py)."""
        return xapi.Statements(self.site, learner, course)

    # -- course and placement ------------------------------------------------------------------

    async def course(self) -> Course:
        """The current course version (parsed once per version, kept: api/versions.py)."""
        return await self.current.get()

    async def learner(self, statement: Statement) -> Learner | None:
        """The learner a statement selecting sql.LEARNER_COLUMNS finds, or None."""
        return as_learner((await self.db.execute(statement)).first())

    async def place(self, learner: Learner, course: Course) -> Learner:
        """Make sure the learner's open step is computed for the current course version."""
        if learner["course_version"] == course.version:
            return learner
        rows = (await self.db.execute(sql.completed_steps(learner["id"]))).rows
        done = {r["step_id"] for r in rows}
        open_step = course.open_step_for(done, learner["open_step"])
        now = iso(self.clock())
        await self.db.batch([sql.set_open_step(learner["id"], open_step, course.version, now)])
        return {
            **learner,
            "open_step": open_step,
            "course_version": course.version,
            "opened_at": now,
            "open_done": int(open_step in done),
        }

    def open_step(self, learner: Learner, course: Course, step_id: object) -> StepInfo:
        """The step the learner acts on, which must be their open one (409/403 otherwise)."""
        if not isinstance(step_id, str) or not step_id:
            raise ApiError(422, "invalid", "'stepId' must be a step id.")
        step = course.step(step_id)
        if step is None:
            raise ApiError(404, "unknown_step", f"There is no step '{step_id}' in this course.")
        if step_id == learner["open_step"]:
            return step
        open_id = learner["open_step"]
        if open_id is None or course.index[step_id] < course.index.get(open_id, len(course.steps)):
            raise ApiError(409, "step_closed", f"Step '{step_id}' is finished and closed for good.")
        raise ApiError(403, "step_locked", f"Step '{step_id}' is not open yet.")

    # -- idempotency ---------------------------------------------------------------------------

    async def replay(self, learner: Learner, event_id: str, kind: str) -> dict[str, Any] | None:
        """The first answer of an event already decided, or None. The learner's last move on
        is in their row (`last_move`: read with them), every other event in `events` (a move
        on recorded there before migration 0012 too)."""
        move = json.loads(learner["last_move"] or "null")
        if move is not None and move["eventId"] == event_id:
            row: dict[str, Any] | None = {"kind": "next", "response": json.dumps(move["answer"])}
        else:
            row = (await self.db.execute(sql.event_response(learner["id"], event_id))).first()
        if row is None:
            return None
        if row["kind"] != kind:
            raise ApiError(
                409, "event_id_reused", f"Event id '{event_id}' was used for another kind of event."
            )
        answer: dict[str, Any] = json.loads(row["response"])
        return answer

    async def commit(
        self,
        learner: Learner,
        event_id: str,
        kind: str,
        outcome: Outcome,
        answer: dict[str, Any],
        step_id: str,
        record: bool = True,
    ) -> dict[str, Any]:
        """Write the outcome and the event (unless `record` is False: a move on keeps its own,
        `sql.advance`) in one batch; a lost race answers what the winner did.

        The batch starts with a guard: if the open step moved or was completed since it was read
        (a reset, a concurrent completion, a move on), or the event is recorded already (a
        replay), it aborts whole (Conflict): the caller answers the replay or reads again.
        """
        await self._drop_known_awards(learner, outcome)
        now = iso(self.clock())
        records = [sql.record_event(learner["id"], event_id, kind, json.dumps(answer), now)]
        guard = sql.still_open(learner["id"], step_id, bool(learner["open_done"]), event_id)
        statements = outcome.trail.records(event_id, now) if outcome.trail else []
        results = await self.db.batch(
            [guard, *outcome.statements, *statements, *(records if record else [])]
        )
        if statements:
            self.recorded()
        if record and results[-1].changes == 0:
            first = await self.replay(learner, event_id, kind)
            if first is not None:
                return first
        return answer

    async def _drop_known_awards(self, learner: Learner, outcome: Outcome) -> None:
        """Keep out of the answer what the learner already had (their inserts do nothing)."""
        causes = [award["cause"] for award in outcome.xp if not award["cause"].startswith("day:")]
        if not causes and not outcome.badges:
            return
        statement = sql.known_awards(learner["id"], causes, outcome.badges)
        known = {row["award"] for row in (await self.db.execute(statement)).rows}
        outcome.xp[:] = [a for a in outcome.xp if a["cause"] not in known]
        outcome.badges[:] = [b for b in outcome.badges if f"badge:{b}" not in known]

    # -- awards --------------------------------------------------------------------------------

    def finish(
        self,
        learner: Learner,
        course: Course,
        step: StepInfo,
        now: datetime,
        outcome: Outcome,
        perfect: bool = False,
    ) -> str | None:
        """Add the statements that complete the open step and award what it earns; the step
        stays open until the learner moves on. Return the step moving on leads to."""
        lid, t = learner["id"], iso(now)
        after = course.after(step.id)
        outcome.statements.append(sql.complete_step(lid, step.id, step.kind, step.module, t))
        if step.kind == "video":
            outcome.add_xp(lid, rules.XP_VIDEO, f"video:{step.id}", t)
            self._badges(learner, "video", 1, outcome, t)
        elif step.kind == "quiz":
            outcome.add_xp(lid, rules.XP_QUIZ_PASS, f"quiz:{step.id}", t)
            self._badges(learner, "quiz", 1, outcome, t)
            if perfect:
                outcome.add_xp(lid, rules.XP_QUIZ_PERFECT, f"quiz-perfect:{step.id}", t)
                outcome.statements.append(sql.award_badge(lid, "perfectionist", t))
                outcome.badges.append("perfectionist")
        if course.ends_module(step.id):
            if outcome.trail:
                outcome.trail.module(step.module)
            outcome.statements.append(sql.complete_module(lid, step.module, t))
            outcome.add_xp(lid, rules.XP_MODULE, f"module:{step.module}", t)
            self._badges(learner, "module", 1, outcome, t)
        return after

    def _badges(self, learner: Learner, family: str, step: int, outcome: Outcome, now: str) -> None:
        for badge, counter_name, threshold in rules.COUNTER_BADGES[family]:
            outcome.statements.append(
                sql.award_badge_at(learner["id"], badge, counter_name, threshold, now)
            )
            before = counter(learner, counter_name)
            if before < threshold <= before + step:
                outcome.badges.append(badge)

    def learning_day(
        self, learner: Learner, now: datetime, outcome: Outcome
    ) -> tuple[str, int] | None:
        """Count today (in the learner's time zone) for the streak, once a day; return the
        learner's new streak day and streak (None when today counted already)."""
        day = rules.local_day(now, learner["tz"])
        streak = rules.next_streak(day, learner["streak_day"], int(learner["streak"]))
        if streak is None:
            return None
        lid, t = learner["id"], iso(now)
        outcome.statements.append(
            sql.learning_day(lid, day.isoformat(), streak, learner["streak_day"])
        )
        outcome.add_xp(lid, rules.XP_STREAK_DAY, f"day:{day.isoformat()}", t)
        self._badges({**learner, "streak": streak - 1}, "streak", 1, outcome, t)
        return day.isoformat(), streak

    # -- actions -------------------------------------------------------------------------------

    def watch(
        self,
        learner: Learner,
        course: Course,
        before: View | None,
        body: Mapping[str, Any],
        now: datetime,
    ) -> Watch:
        """Decide a player's report (`stepId`, `intervals`, and a play, pause or seek for xAPI)
        over the view saved `before` it (api/watching.py); raise ApiError if the rules refuse."""
        step = self.open_step(learner, course, body.get("stepId"))
        if step.kind != "video" or step.duration is None:
            raise ApiError(422, "not_a_video", f"Step '{step.id}' has no video.")
        reported = rules.check_intervals(body.get("intervals"), step.duration)
        action = xapi.video_action(body, step.duration)
        previous = before.intervals if before else []
        merged = rules.merge([*previous, *reported])
        watched = rules.covered(merged)
        first_play = parse_iso(before.first_play_at) if before else now
        rules.check_plausible(watched, first_play, now, course.max_rate)
        trail = self.trail(learner, course)
        outcome = Outcome(trail=trail)
        required = course.completion * step.duration
        wait = rules.completes_in(watched, required, first_play, now, course.max_rate)
        done = bool(learner["open_done"])  # watched again while the step stays open
        complete = wait == 0 or done
        left: Learner = {**learner, "open_done": int(complete)}
        grew = watched > rules.covered(rules.merge(previous))
        if grew and (counted := self.learning_day(learner, now, outcome)):
            left["streak_day"], left["streak"] = counted
        trail.video(step, action, merged, watched, complete and not done, course.completion)
        if complete and not done:
            self.finish(learner, course, step, now, outcome)
        answer = {
            "stepId": step.id,
            "watched": round(watched, 3),
            "duration": step.duration,
            "required": round(required, 3),
            "complete": complete,
            # enough is covered but too soon to complete: report again after this many seconds
            "completesIn": round(wait, 3) if wait and not complete else None,
            "nextStep": _public(course, course.after(step.id)) if complete else None,
            "xp": outcome.xp,
            "badges": outcome.badges,
        }
        first_play_at = before.first_play_at if before else iso(now)
        view = View(merged, watched, first_play_at, before.revision + 1 if before else 0)
        return Watch(step, before, view, outcome, answer, left)

    async def video_event(
        self,
        learner: Learner,
        course: Course,
        event_id: str,
        body: Mapping[str, Any],
        caller: Caller | None = None,
        view: Prefetched | None = None,
    ) -> dict[str, Any]:
        """A player report, read (unless its `view` came with the session read) and decided
        (`watch`), written in one batch: a plain one with its guards and xAPI trail,
        unrecorded, any other as a recorded event (`commit`). The caller's `Known` is
        remembered for their next report (api/watching.py)."""
        step = self.open_step(learner, course, body.get("stepId"))
        now = self.clock()
        if view is not None and view.step_id == step.id:
            before = view.view
        else:
            before = View.of(
                (await self.db.execute(sql.video_view(learner["id"], step.id))).first()
            )
        watch = self.watch(learner, course, before, body, now)
        outcome, save = watch.outcome, watch.save(learner["id"])
        if watch.plain and caller is not None and before is not None:  # as if known: one call
            known = Known(learner, course.version, before, caller.seen)
            if not await save_plain(self, known, watch, caller, event_id):
                raise Conflict("the view or a premise changed since it was read")
            answer = watch.answer
        elif watch.plain:
            guard = sql.still_open(learner["id"], step.id, bool(learner["open_done"]), event_id)
            trail = watch.trail(learner["id"], event_id, iso(now))
            await self.db.batch([guard, *save, *trail])
            if trail:
                self.recorded()
            answer = watch.answer
        else:
            outcome.statements[:0] = save
            answer = await self.commit(learner, event_id, "video", outcome, watch.answer, step.id)
        if caller is not None and answer is watch.answer:  # not a replay's first answer
            self.watching.remember(caller, course, watch)
        return answer

    async def lesson_done(
        self, learner: Learner, course: Course, event_id: str, step_id: object
    ) -> dict[str, Any]:
        step = self.open_step(learner, course, step_id)
        if step.kind != "lesson":
            what = "its video" if step.kind == "video" else "its quiz"
            raise ApiError(422, "not_a_text_lesson", f"Step '{step.id}' completes through {what}.")
        now = self.clock()
        trail = self.trail(learner, course)
        outcome = Outcome(trail=trail)
        after = course.after(step.id)
        if not learner["open_done"]:  # done already (a second click): nothing more to record
            trail.lesson(step)
            self.learning_day(learner, now, outcome)
            self.finish(learner, course, step, now, outcome)
        answer = {
            "stepId": step.id,
            "complete": True,
            "nextStep": _public(course, after),
            "xp": outcome.xp,
            "badges": outcome.badges,
        }
        return await self.commit(learner, event_id, "lesson", outcome, answer, step.id)

    async def quiz_submission(
        self, learner: Learner, course: Course, event_id: str, step_id: object, answers: object
    ) -> dict[str, Any]:
        """A built-in quiz's attempt, through the quiz gate (api/quiz.py)."""
        step = self.built_in_quiz(learner, course, step_id)
        now = self.clock()
        past = await quiz.history(self.db, learner["id"], step.id)
        quiz.check_pace(step, past, now)
        shown = await quiz.to_grade(self.db, learner, step, course)
        result = rules.grade(answers, shown.keys, shown.choices, shown.multiple, step.pass_mark)
        stored = quiz.stored_answers(answers, shown)
        outcome = self.attempt(learner, course, step, "builtin", result, stored, now, past)
        outcome.statements += quiz.graded_draw(learner, step, shown)
        after = _public(course, course.after(step.id)) if result.passed else None
        answer = quiz.answer(step, result, shown, quiz.after_failure(step, past), after)
        answer.update(xp=outcome.xp, badges=outcome.badges)
        return await self.commit(learner, event_id, "quiz", outcome, answer, step.id)

    def built_in_quiz(self, learner: Learner, course: Course, step_id: object) -> StepInfo:
        step = self.open_step(learner, course, step_id)
        if step.kind != "quiz":
            raise ApiError(422, "not_a_quiz", f"Step '{step.id}' is not a quiz.")
        if step.tally:
            raise ApiError(422, "tally_quiz", f"Step '{step.id}' is scored by its Tally form.")
        _not_passed(learner, step)
        return step

    async def quiz_attempt(
        self, learner: Learner, course: Course, step_id: object
    ) -> dict[str, Any]:
        """The open quiz's attempt in progress: what it shows (a draw) and when it may come."""
        step = self.open_step(learner, course, step_id)
        if step.kind != "quiz":
            raise ApiError(422, "not_a_quiz", f"Step '{step.id}' is not a quiz.")
        now = self.clock()
        past = await quiz.history(self.db, learner["id"], step.id)
        shown = await quiz.draw(self.db, learner, step, course, iso(now)) if step.draw else None
        return quiz.state(step, past, now, shown)

    async def tally_attempt(
        self, learner: Learner, course: Course, event_id: str, response: TallyResponse
    ) -> dict[str, Any]:
        """A verified Tally response's score, graded against the step's pass mark like a
        built-in quiz (the form holds the questions; Tally sends the fraction right). One that
        comes during the cooldown is answered (so Tally does not send it again) but not counted."""
        step = self.open_step(learner, course, response.step_id)
        if not step.tally or (response.form_id and response.form_id != step.tally):
            raise ApiError(
                422, "wrong_form", f"This response is not from step '{step.id}''s Tally form."
            )
        _not_passed(learner, step)
        now = self.clock()
        past = await quiz.history(self.db, learner["id"], step.id)
        wait = quiz.retry_after(step, past, now)
        fraction = response.fraction
        result = rules.Grade(fraction, fraction + 1e-9 >= step.pass_mark, fraction >= 1.0, [])
        answers = json.dumps({"fraction": fraction})
        outcome = (
            Outcome()
            if wait
            else self.attempt(learner, course, step, "tally", result, answers, now, past)
        )
        counted = not wait
        answer = {
            "stepId": step.id,
            "counted": counted,
            "score": round(result.score, 4),
            "passed": result.passed and counted,
            "perfect": result.perfect and counted,
            "retryAfter": wait or (0 if result.passed else quiz.after_failure(step, past)),
            "xp": outcome.xp,
            "badges": outcome.badges,
        }
        return await self.commit(learner, event_id, "tally", outcome, answer, step.id)

    async def move_on(
        self, learner: Learner, course: Course, event_id: str, step_id: object
    ) -> dict[str, Any]:
        """Leave the open step, once it is done, for the next one (the end: no open step).

        The batch holds only while the step is still open and done (`commit`'s guard)."""
        step = self.open_step(learner, course, step_id)
        if not learner["open_done"]:
            raise ApiError(
                409, "step_not_done", f"Step '{step.id}' is not done yet: finish it first."
            )
        after = course.after(step.id)
        answer: dict[str, Any] = {"stepId": step.id, "nextStep": _public(course, after)}
        answer.update(xp=[], badges=[])  # moving on earns nothing
        move = json.dumps({"eventId": event_id, "answer": answer})
        outcome = Outcome([sql.advance(learner["id"], step.id, after, iso(self.clock()), move)])
        return await self.commit(learner, event_id, "next", outcome, answer, step.id, record=False)

    async def reset(self, user_id: str) -> Course:
        """Start a learner's course again (XP, badges and history stay); return the course."""
        learner = (await self.db.execute(sql.learner_by_id(user_id))).first()
        if learner is None:
            raise ApiError(404, "unknown_learner", f"No learner '{user_id}'.")
        course = await self.course()
        now = iso(self.clock())
        await self.db.batch(sql.reset_learner(user_id, course.first, course.version, now))
        return course

    def attempt(
        self,
        learner: Learner,
        course: Course,
        step: StepInfo,
        source: str,
        result: rules.Grade,
        answers: str,
        now: datetime,
        past: quiz.History,
    ) -> Outcome:
        """Record a graded attempt; a pass completes the step (built-in and Tally alike), with
        the perfect bonus only for a perfect first attempt. The batch checks no other attempt
        was recorded since `past` was read."""
        trail = self.trail(learner, course)
        trail.quiz(step, result.score, result.passed, source)
        outcome = Outcome(trail=trail)
        outcome.statements += [
            past.unchanged(learner["id"], step.id),
            sql.record_attempt(
                learner["id"],
                step.id,
                source,
                result.score,
                result.passed,
                result.perfect,
                answers,
                iso(now),
            ),
        ]
        self.learning_day(learner, now, outcome)
        if result.passed:
            first_perfect = result.perfect and past.tried == 0
            self.finish(learner, course, step, now, outcome, perfect=first_perfect)
        return outcome


def _not_passed(learner: Learner, step: StepInfo) -> None:
    """A passed quiz stays open until the learner moves on, but takes no more attempts."""
    if learner["open_done"]:
        raise ApiError(409, "step_done", f"Step '{step.id}' is passed: move on to the next step.")


def _public(course: Course, step_id: str | None) -> dict[str, Any] | None:
    step = course.step(step_id) if step_id else None
    return step.public() if step else None
