"""The learner as the API reads it: one row of `learners` (sql.LEARNER_COLUMNS), typed."""

from __future__ import annotations

from typing import Any, TypedDict, cast


class Learner(TypedDict):
    """What every learner read selects (sql.LEARNER_COLUMNS); counters are the row's own."""

    id: str
    name: str
    email: str
    team_id: str
    tz: str
    open_step: str | None  # None once the course is finished
    course_version: str | None  # the version open_step was computed for
    opened_at: str | None
    xp: int
    videos_done: int
    quizzes_passed: int
    modules_done: int
    streak: int
    streak_best: int
    streak_day: str | None
    last_move: str | None  # JSON {eventId, answer}: the last Next, for its replay
    open_done: int  # 1: the open step is completed; it stays open until the learner moves on


class Award(TypedDict):
    """One XP award in an answer: why, and how much."""

    cause: str
    amount: int


def as_learner(row: dict[str, Any] | None) -> Learner | None:
    """A row of a learner read (the statement selected LEARNER_COLUMNS), or None."""
    return None if row is None else cast(Learner, row)


def counter(learner: Learner, name: str) -> int:
    """One of the learner's counters by column name (rules.COUNTER_BADGES names them)."""
    return int(cast(dict[str, Any], learner)[name])
