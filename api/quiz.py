"""The quiz gate: what an attempt shows and tells, and when the next one may come.

A quiz must not fall to probing (issue 14): a learner who knows nothing could submit, read
which questions were right, keep those and change the others. So, as rules of the product
(README, "Quizzes"):

- **feedback**: a failed attempt answers pass/fail and, by default (`score`), the score; with
  `none` not even the score; only the teacher's explicit `questions` (a formative quiz) adds
  which questions were right. A passed attempt says everything (score, explanations).
- **every question answered**: a blank question is refused (rules.grade, 422 `unanswered`)
  and is not an attempt.
- **pacing**: after `attempts` failures since the last pass, each next attempt waits the
  cooldown that follows the last failure (growing, the last one repeats), from the recorded
  attempts and the server's clock: 429 `quiz_cooldown` with `retryAfter`, nothing recorded.
- **the perfect bonus** only for a perfect first attempt (no attempt recorded before).
- **draw**: `draw: k` shows k questions of the pool, choices shuffled, decided by the server
  when the player asks for the attempt and kept (`quiz_draws`) until that attempt is graded,
  against what it showed; answers are in shown positions.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import sql
from .clock import parse_iso
from .course import Course, StepInfo
from .errors import ApiError
from .learner import Learner
from .rules import Grade
from .storage import Database, Statement

DRAWS: random.Random = random.SystemRandom()  # the learner must not predict the next draw


def new_draw_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class History:
    """A learner's attempts at one quiz (sql.quiz_history)."""

    tried: int  # attempts ever: 0 means the next one is the first
    last_id: int  # the batch recording the next attempt checks it did not move
    failed: int  # failures since the last pass
    last_at: datetime | None
    last_score: float | None = None  # the last attempt's (a Tally step shows it once it lands)

    def unchanged(self, learner_id: str, step_id: str) -> Statement:
        return sql.attempts_unchanged(learner_id, step_id, self.last_id)


async def history(db: Database, learner_id: str, step_id: str) -> History:
    row = (await db.execute(sql.quiz_history(learner_id, step_id))).first()
    assert row is not None  # an aggregate always answers one row
    last_at = parse_iso(row["last_at"]) if row["last_at"] else None
    score = None if row["last_score"] is None else float(row["last_score"])
    return History(int(row["tried"]), int(row["last_id"]), int(row["failed"] or 0), last_at, score)


def wait_after(step: StepInfo, failed: int) -> float:
    """Seconds between the `failed`-th failure and the next attempt (0 before `attempts`)."""
    if failed < step.attempts:
        return 0.0
    return step.cooldown[min(failed - step.attempts, len(step.cooldown) - 1)]


def after_failure(step: StepInfo, past: History) -> int:
    """Whole seconds to wait if the attempt being graded now fails."""
    return math.ceil(wait_after(step, past.failed + 1))


def retry_after(step: StepInfo, past: History, now: datetime) -> int:
    """Whole seconds before the next attempt may come; 0: it may come now."""
    if past.failed == 0 or past.last_at is None:
        return 0
    left = wait_after(step, past.failed) - (now - past.last_at).total_seconds()
    return max(0, math.ceil(left))


class Cooldown(ApiError):
    """An attempt before the cooldown is over: 429, `retryAfter` seconds, nothing recorded."""

    def __init__(self, step_id: str, seconds: int) -> None:
        super().__init__(
            429,
            "quiz_cooldown",
            f"Take a pause: your next attempt at '{step_id}' opens in {spoken(seconds)}.",
        )
        self.retry_after = seconds


def check_pace(step: StepInfo, past: History, now: datetime) -> None:
    wait = retry_after(step, past, now)
    if wait:
        raise Cooldown(step.id, wait)


def spoken(seconds: int) -> str:
    """A wait as people say it: 45 s, 4 min 30 s, 2 h 5 min."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


# -- what an attempt shows -----------------------------------------------------------------------

Drawn = list[tuple[int, list[int]]]  # shown order: (pool index, choice indexes in shown order)


@dataclass(frozen=True)
class Shown:
    """The questions an attempt shows, in shown order, with their keys in shown positions."""

    keys: tuple[tuple[int, ...], ...]
    choices: tuple[int, ...]
    multiple: tuple[bool, ...]
    explains: tuple[str, ...]
    drawn: Drawn | None = None  # None: the whole quiz in the author's order
    draw_id: str | None = None


def whole(step: StepInfo) -> Shown:
    return Shown(step.answers, step.choices, step.multiple, step.explains)


def new_draw(step: StepInfo) -> Drawn:
    """k questions of the pool and an order of their choices, at random."""
    pool = DRAWS.sample(range(len(step.answers)), step.draw or len(step.answers))
    return [(q, DRAWS.sample(range(step.choices[q]), step.choices[q])) for q in pool]


def shown_from(step: StepInfo, drawn: Drawn, draw_id: str) -> Shown:
    """What a draw shows, its keys turned into shown positions."""
    keys = tuple(tuple(sorted(order.index(c) for c in step.answers[q])) for q, order in drawn)
    return Shown(
        keys,
        tuple(len(order) for _, order in drawn),
        tuple(step.multiple[q] for q, _ in drawn),
        tuple(step.explains[q] for q, _ in drawn),
        drawn,
        draw_id,
    )


async def kept_draw(db: Database, learner: Learner, step: StepInfo, course: Course) -> Shown | None:
    """The draw kept for the learner's attempt in progress (None: none for this version)."""
    row = (await db.execute(sql.quiz_draw(learner["id"], step.id))).first()
    if row is None or row["course_version"] != course.version:
        return None
    drawn = [(int(q), [int(c) for c in order]) for q, order in json.loads(row["questions"])]
    return shown_from(step, drawn, row["id"])


async def draw(db: Database, learner: Learner, step: StepInfo, course: Course, now: str) -> Shown:
    """The attempt in progress: the kept draw, or a new one kept now (a reload draws nothing
    new; two players asking at once keep one draw, the first written)."""
    kept = await kept_draw(db, learner, step, course)
    if kept is not None:
        return kept
    drawn = json.dumps(new_draw(step))
    await db.batch(
        [sql.save_draw(learner["id"], step.id, new_draw_id(), course.version, drawn, now)]
    )
    kept = await kept_draw(db, learner, step, course)
    assert kept is not None
    return kept


async def to_grade(db: Database, learner: Learner, step: StepInfo, course: Course) -> Shown:
    """What the submitted attempt showed: the whole quiz, or the kept draw (409 without one)."""
    if not step.draw:
        return whole(step)
    kept = await kept_draw(db, learner, step, course)
    if kept is None:
        raise ApiError(
            409,
            "attempt_not_drawn",
            f"Quiz '{step.id}' draws its questions: ask for this attempt's questions first "
            "(GET /api/quiz-attempt).",
        )
    return kept


def graded_draw(learner: Learner, step: StepInfo, shown: Shown) -> list[Statement]:
    """In the grading batch: the draw is still the one graded, and is used up."""
    if shown.draw_id is None:
        return []
    return [
        sql.draw_unchanged(learner["id"], step.id, shown.draw_id),
        sql.end_draw(learner["id"], step.id),
    ]


def stored_answers(answers: object, shown: Shown) -> str:
    """The attempt as quiz_attempts keeps it (with the draw it answered)."""
    return json.dumps(
        answers if shown.drawn is None else {"drawn": shown.drawn, "answers": answers}
    )


# -- what the server answers ---------------------------------------------------------------------


def answer(
    step: StepInfo, result: Grade, shown: Shown, retry: int, next_step: dict[str, Any] | None
) -> dict[str, Any]:
    """A graded attempt's answer, as the quiz's feedback allows (see the module docstring)."""
    passed = result.passed
    tells_score = passed or step.feedback != "none"
    tells_questions = passed or step.feedback == "questions"
    return {
        "stepId": step.id,
        "feedback": step.feedback,
        "score": round(result.score, 4) if tells_score else None,
        "pass": step.pass_mark,
        "passed": passed,
        "perfect": result.perfect,
        "correct": result.correct if tells_questions else None,
        "explanations": list(shown.explains) if passed else [],
        "retryAfter": 0 if passed else retry,
        "nextStep": next_step,
    }


def state(step: StepInfo, past: History, now: datetime, shown: Shown | None) -> dict[str, Any]:
    """GET /api/quiz-attempt: the open quiz's attempt in progress and when it may be sent."""
    return {
        "stepId": step.id,
        "feedback": step.feedback,
        "pass": step.pass_mark,
        "failed": past.failed,
        "tried": past.tried,
        # The last attempt's score (a Tally response lands by webhook: the player polls this),
        # withheld after a failure when the quiz's feedback is none.
        "lastScore": None
        if past.last_score is None or step.feedback == "none" and past.failed
        else round(past.last_score, 4),
        "attempts": step.attempts,
        "retryAfter": retry_after(step, past, now),
        "questions": None
        if shown is None or shown.drawn is None
        else [{"question": q, "choices": order} for q, order in shown.drawn],
    }
