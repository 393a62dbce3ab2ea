"""The rules the server decides by: video coverage, quiz grades, XP, badges, streaks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ApiError

# XP of the seed brief.
XP_VIDEO = 10
XP_QUIZ_PASS = 50
XP_QUIZ_PERFECT = 25
XP_MODULE = 100
XP_STREAK_DAY = 5
XP_PER_LEVEL = 250

# Badges earned when a learner counter reaches a threshold: (badge, counter, threshold).
COUNTER_BADGES = {
    "video": [
        ("first-video", "videos_done", 1),
        ("video-5", "videos_done", 5),
        ("video-25", "videos_done", 25),
    ],
    "quiz": [("first-quiz", "quizzes_passed", 1), ("quiz-master", "quizzes_passed", 5)],
    "module": [("som-complete", "modules_done", 1), ("expert", "modules_done", 5)],
    "streak": [("streak-7", "streak", 7), ("streak-30", "streak", 30)],
}

# A first report may already cover this much media (the player may play a little before its
# first report reaches the server). The grace only admits a heartbeat: it never brings a
# completion forward (see completes_in).
GRACE_SECONDS = 10.0
# How often the player reports while a video plays steadily (s of wall clock; the playback
# answer tells the player). It reports at once on play, pause, seek, end, page hide and when the
# learner's coverage reaches the required share, so completion never waits for a heartbeat.
REPORT_PERIOD = 15.0
# A video completes no earlier than its required share at the speed cap since the first report,
# less this (s): the tolerance once sized to the 4 s heartbeat, kept at 4 s on its own so that a
# rarer heartbeat (REPORT_PERIOD) never lets a video complete sooner.
COMPLETION_SLACK = 4.0
# Media time may overshoot the manifest's duration by this much (container rounding).
DURATION_SLACK = 1.0
MAX_INTERVALS = 200

Interval = tuple[float, float]


class RuleError(ApiError):
    """A report the rules refuse: answered 422 with `code`, nothing written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(422, code, message)


def level(xp: int) -> int:
    return 1 + xp // XP_PER_LEVEL


def xp_to_next_level(xp: int) -> int:
    """The XP still to earn before the next level."""
    return XP_PER_LEVEL - xp % XP_PER_LEVEL


def ranks(scores: list[int]) -> list[int]:
    """Competition ranks of scores sorted best first: ties share a rank (1, 2, 2, 4)."""
    ranked: list[int] = []
    for position, score in enumerate(scores, start=1):
        tied = ranked and scores[position - 2] == score
        ranked.append(ranked[-1] if tied else position)
    return ranked


def possible_badges(videos: int, quizzes: int, modules: int) -> set[str]:
    """The badges a course of this many videos, quizzes and modules can award: a counter badge
    only when the course has enough of its kind; streaks always."""
    counts = {"videos_done": videos, "quizzes_passed": quizzes, "modules_done": modules}
    possible = {"perfectionist"} if quizzes else set()
    for family in COUNTER_BADGES.values():
        for badge, counter, threshold in family:
            if counter == "streak" or counts[counter] >= threshold:
                possible.add(badge)
    return possible


def check_intervals(raw: object, duration: float) -> list[Interval]:
    """Validate reported [start, end] media intervals (seconds) against the real duration."""
    if not isinstance(raw, list) or len(raw) > MAX_INTERVALS:
        raise RuleError(
            "invalid_intervals",
            f"'intervals' must be a list of at most {MAX_INTERVALS} [start, end] pairs",
        )
    result: list[Interval] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and all(finite_number(v) for v in item)):
            raise RuleError("invalid_intervals", "each interval must be [start, end] in seconds")
        start, end = float(item[0]), float(item[1])
        if not 0 <= start <= end <= duration + DURATION_SLACK:
            raise RuleError(
                "invalid_intervals",
                f"interval [{start:g}, {end:g}] is outside the video (0 to {duration:g} s)",
            )
        result.append((start, min(end, duration)))
    return result


def finite_number(value: object) -> bool:
    """A real, finite JSON number (huge integers do not fit a float: refused too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def merge(intervals: list[Interval]) -> list[Interval]:
    """Union of intervals, sorted and non-overlapping."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covered(intervals: list[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def check_plausible(watched: float, first_play: datetime, now: datetime, max_rate: float) -> None:
    """Refuse more media than the wall clock allows at the speed cap since the first report."""
    elapsed = max(0.0, (now - first_play).total_seconds())
    allowed = elapsed * max_rate + GRACE_SECONDS
    if watched > allowed + 1e-6:
        raise RuleError(
            "implausible_watch",
            f"{watched:.1f} s of video in {elapsed:.1f} s is faster than the course's "
            f"{max_rate:g}x limit",
        )


def completes_in(
    watched: float, required: float, first_play: datetime, now: datetime, max_rate: float
) -> float | None:
    """Seconds before a video with `watched` s covered may complete; 0 when it completes now,
    None while less than the required share is covered.

    The wall clock since the learner's first report must allow watching the required share at
    the speed cap, less COMPLETION_SLACK, whatever the video's length: a short video claimed
    whole in one report waits like a long one.
    """
    if watched + 1e-6 < required:
        return None
    elapsed = max(0.0, (now - first_play).total_seconds())
    return max(0.0, required / max_rate - COMPLETION_SLACK - elapsed)


@dataclass(frozen=True)
class Grade:
    score: float
    passed: bool
    perfect: bool
    correct: list[bool]


def grade(
    answers: object,
    keys: tuple[tuple[int, ...], ...],
    choices: tuple[int, ...],
    multiple: tuple[bool, ...],
    pass_mark: float,
) -> Grade:
    """Grade a built-in quiz: a question counts when exactly its right choices are picked;
    every question must be answered."""
    if not isinstance(answers, list) or len(answers) != len(keys):
        raise RuleError(
            "invalid_answers", f"'answers' must be a list of {len(keys)} answers, one per question"
        )
    correct: list[bool] = []
    for number, (given, key) in enumerate(zip(answers, keys, strict=True)):
        if given is None or given == []:  # a blank question: not an attempt (no probing)
            raise RuleError(
                "unanswered", f"question {number + 1} has no answer: answer every question"
            )
        picked = [given] if isinstance(given, int) and not isinstance(given, bool) else given
        if not isinstance(picked, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in picked
        ):
            raise RuleError(
                "invalid_answers", f"answer {number + 1} must be a choice index or a list of them"
            )
        if any(not 0 <= i < choices[number] for i in picked) or len(set(picked)) != len(picked):
            raise RuleError(
                "invalid_answers", f"answer {number + 1} names a choice that does not exist"
            )
        if not multiple[number] and len(picked) > 1:
            raise RuleError("invalid_answers", f"question {number + 1} takes one answer")
        correct.append(sorted(picked) == list(key))
    score = sum(correct) / len(keys) if keys else 0.0
    return Grade(score, score + 1e-9 >= pass_mark, score == 1.0, correct)


def local_day(now: datetime, tz: str) -> date:
    """The learner's own calendar day (their time zone; UTC when unknown)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def next_streak(day: date, last_day: str | None, streak: int) -> int | None:
    """The streak after learning on `day`; None when `day` was already counted."""
    if last_day is None:
        return 1
    previous = date.fromisoformat(last_day)
    if day <= previous:
        return None
    return streak + 1 if day - previous == timedelta(days=1) else 1


def valid_zone(tz: str) -> bool:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
