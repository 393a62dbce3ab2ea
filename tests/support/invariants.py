"""The invariants of tests/test_model.py, one function per rule: after every step they are read
from the SQLite file and from the API itself, and compared with the model (support.model).

- completions never disappear except by an admin reset, and the position (the open step's index
  in the current course, "finished" last) never moves back within one course version except by
  a reset; the open step is the README's path rule (the first step after the furthest completed
  one that is not completed), or the furthest completed step while the learner has not moved on;
- a step is in `completions` only when the model says the server's rules allowed it (video:
  union of accepted intervals >= 95% of the duration at a plausible pace; quiz: a passing
  submission or a Tally score at the pass mark; lesson: lesson-done on the open lesson);
- one XP award per (learner, cause) and one badge per (learner, badge), exactly the model's;
  `learners.xp` = SUM(xp_logs.amount); the award counters match the completions;
- each team's leaderboard (all, 30d, 7d) lists exactly that team with those totals, ranked;
- every 4xx is in the one error shape and changed nothing (every table compared before/after,
  only the lazily computed placement columns of `learners` excepted);
- the quiz gate: no attempt recorded before the cooldown after the quiz's `attempts` failures
  was over; the perfect bonus only where the first attempt was perfect;
- every answer is the one the model predicts (a failed quiz attempt tells only what the quiz's
  feedback allows), and requests sent together are answered as some order of them would be
  (linearizable).

Each rule fails with an AssertionError whose message starts with the rule's name.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import httpx

from support.client import one_error_shape
from support.model import Course, Expect, Learner, Step, iso
from support.model_world import World, record

P = ParamSpec("P")
R = TypeVar("R")
Row = tuple[Any, ...]

SNAPSHOT = {
    # Placement (open_step, course_version, opened_at) is computed lazily by any request.
    "learners": "SELECT id, name, email, team_id, tz, invite_hash, xp, videos_done, "
    "quizzes_passed, modules_done, streak, streak_best, streak_day, created_at FROM learners",
    # A session's last use and end move with any request that names it, refused or not
    # (README, "Sign-in"); what it is stays.
    "sessions": "SELECT token_hash, learner_id, created_at, device FROM sessions",
    "signin_links": "SELECT * FROM signin_links",
    "completions": "SELECT * FROM completions",
    "module_completions": "SELECT * FROM module_completions",
    "video_views": "SELECT * FROM video_views",
    "quiz_attempts": "SELECT * FROM quiz_attempts",
    "quiz_draws": "SELECT * FROM quiz_draws",
    "events": "SELECT * FROM events",
    "learner_badges": "SELECT * FROM learner_badges",
    "xp_logs": "SELECT * FROM xp_logs",
    "xp_history": "SELECT * FROM xp_history",
    "course_versions": "SELECT * FROM course_versions",
    "guards": "SELECT * FROM guards",
}
BY_LEARNER = ("completions", "module_completions", "learner_badges", "video_views", "events")
PLACED = (
    "SELECT id, xp, videos_done, quizzes_passed, modules_done, open_step, course_version "
    "FROM learners"
)


def names_the_rule(check: Callable[P, R]) -> Callable[P, R]:
    """Prefix the rule's name (the function's) to the message of any assertion it fails; the
    traceback still points at the assertion."""

    @functools.wraps(check)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return check(*args, **kwargs)
        except AssertionError as broken:
            broken.args = (f"{check.__name__}: {broken}",)
            raise

    return checked


# -- reading the database ----------------------------------------------------------------------


def query(db: Path, sql: str, *params: object) -> list[Row]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def snapshot(db: Path) -> dict[str, list[Row]]:
    """Every table, sorted (the learners without their lazily computed placement)."""
    connection = sqlite3.connect(db)
    try:
        return {name: sorted(connection.execute(sql).fetchall()) for name, sql in SNAPSHOT.items()}
    finally:
        connection.close()


@dataclass
class Stored:
    """One learner as the SQLite file holds them."""

    xp: int
    counters: tuple[int, int, int]  # videos_done, quizzes_passed, modules_done
    open_step: str | None
    version: str | None
    done: dict[str, str] = field(default_factory=dict)  # completions: step id -> kind
    modules: set[str] = field(default_factory=set)
    logs: list[tuple[str, int]] = field(default_factory=list)  # xp_logs: (cause, amount)
    badges: list[str] = field(default_factory=list)
    views: dict[str, tuple[list[list[float]], str]] = field(default_factory=dict)
    attempts: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    # quiz_attempts in the order recorded: (step id, created_at, passed, perfect)
    tries: list[tuple[str, str, int, int]] = field(default_factory=list)
    events: dict[str, str] = field(default_factory=dict)  # event id -> kind


def stored(state: dict[str, list[Row]], placed: Row) -> Stored:
    """A learner's rows, from a snapshot and their row of PLACED."""
    uid, xp, videos, quizzes, modules_done, open_step, version = placed
    mine = {table: [row for row in state[table] if row[0] == uid] for table in BY_LEARNER}
    logs = [row for row in state["xp_logs"] if row[1] == uid]  # these two: an id first
    attempts = [row for row in state["quiz_attempts"] if row[1] == uid]
    return Stored(
        xp=xp,
        counters=(videos, quizzes, modules_done),
        open_step=open_step,
        version=version,
        done={step: kind for _, step, kind, *_ in mine["completions"]},
        modules={module for _, module, _ in mine["module_completions"]},
        logs=[(cause, amount) for _, _, amount, cause, _ in logs],
        badges=[badge for _, badge, _ in mine["learner_badges"]],
        views={
            step: (json.loads(intervals), first)
            for _, step, intervals, _, first, *_ in mine["video_views"]
        },
        attempts=[
            (step, source, passed, perfect, round(score, 4))
            for _, _, step, source, score, passed, perfect, *_ in attempts
        ],
        tries=[
            (step, created, passed, perfect)
            for _, _, step, _, _, passed, perfect, _, created in attempts
        ],
        events={eid: kind for _, eid, kind, *_ in mine["events"]},
    )


def read_database(db: Path) -> tuple[dict[str, Stored], list[Row]]:
    """Every learner as stored, by id, and the rows of `guards`."""
    state = snapshot(db)
    return {row[0]: stored(state, row) for row in query(db, PLACED)}, state["guards"]


@dataclass(frozen=True)
class Seen:
    """Where a learner stood at the last check."""

    version: str
    done: frozenset[str]
    position: int
    resets: int


def seen_now(course: Course, learner: Learner, row: Stored) -> Seen:
    position = course.index(row.open_step)
    return Seen(course.version, frozenset(row.done), position, learner.resets)


# -- progress ----------------------------------------------------------------------------------


@names_the_rule
def learners_are_the_enrolled(world: World, rows: dict[str, Stored]) -> None:
    """`learners` holds exactly the learners enrolled."""
    assert set(rows) == set(world.learners), (sorted(rows), sorted(world.learners))


@names_the_rule
def completions_follow_the_rules(learner: Learner, row: Stored) -> None:
    """A step (and a module) is completed only when the model says the server's rules allowed it:
    video, the union of accepted intervals >= 95% of the duration at a plausible pace; quiz, a
    passing submission or a Tally score at the pass mark; lesson, lesson-done on the open lesson."""
    assert row.done == learner.completed, (learner.name, row.done, learner.completed)
    assert row.modules == learner.modules, (learner.name, row.modules, learner.modules)


@names_the_rule
def counters_match_completions(learner: Learner, row: Stored) -> None:
    """`videos_done`, `quizzes_passed` and `modules_done` count the completions."""
    expected = (learner.count("video"), learner.count("quiz"), len(learner.modules))
    assert row.counters == expected, (learner.name, row.counters, expected)


@names_the_rule
def open_step_follows_the_path_rule(course: Course, learner: Learner, row: Stored) -> None:
    """The open step is the README's path rule (the first step after the furthest completed one
    that is not completed), or the furthest completed step while the learner has not moved on
    from it, placed in the current course version."""
    placed = (row.open_step, row.version)
    assert placed == (learner.open, course.version), (learner.name, placed, learner.open)
    assert row.open_step == course.open_for(set(row.done), row.open_step), (
        learner.name,
        row.open_step,
        row.done,
    )


@names_the_rule
def completions_never_disappear(learner: Learner, was: Seen | None, row: Stored) -> None:
    """Completions stay, except by an admin reset."""
    if was is not None and learner.resets == was.resets:
        assert was.done <= set(row.done), (learner.name, set(was.done), row.done)


@names_the_rule
def position_never_moves_back(
    course: Course, learner: Learner, was: Seen | None, row: Stored
) -> None:
    """The position (the open step's index, "finished" last) does not go back within one course
    version, except by an admin reset."""
    if was is None or learner.resets != was.resets or was.version != course.version:
        return
    position = course.index(row.open_step)
    assert position >= was.position, (learner.name, was.position, position)


@names_the_rule
def views_are_the_accepted_intervals(learner: Learner, row: Stored) -> None:
    """`video_views` holds the union of the accepted intervals and the first report's time."""
    expected = {
        step: ([list(i) for i in merged], iso(first))
        for step, (merged, first) in learner.views.items()
    }
    assert row.views == expected, (learner.name, row.views, learner.views)


@names_the_rule
def attempts_are_the_submissions(learner: Learner, row: Stored) -> None:
    """`quiz_attempts` holds every graded submission and Tally score, as the model graded it."""
    assert sorted(row.attempts) == sorted(learner.attempts), (learner.name, row.attempts)


@names_the_rule
def attempts_respect_the_cooldown(course: Course, learner: Learner, row: Stored) -> None:
    """After the quiz's `attempts` failures since its last pass, no attempt was recorded before
    the cooldown that follows the last failure was over (README, "Quizzes")."""
    failed: dict[str, tuple[int, datetime | None]] = {}
    for step_id, created, passed, _ in row.tries:
        at = datetime.fromisoformat(created.replace("Z", "+00:00"))
        count, last = failed.get(step_id, (0, None))
        step = course.step(step_id) or Step(step_id, "quiz", "")
        if last is not None:
            waited = (at - last).total_seconds()
            assert waited + 1e-3 >= step.wait_after(count), (learner.name, step_id, count, waited)
        failed[step_id] = (0, None) if passed else (count + 1, at)


@names_the_rule
def perfect_bonus_only_on_first_attempts(learner: Learner, row: Stored) -> None:
    """The perfect bonus (quiz-perfect:<step>) only where the first attempt was perfect."""
    first: dict[str, int] = {}
    for step_id, _, _, perfect in row.tries:
        first.setdefault(step_id, perfect)
    for cause, _ in row.logs:
        if cause.startswith("quiz-perfect:"):
            assert first.get(cause.split(":", 1)[1]) == 1, (learner.name, cause, row.tries)


@names_the_rule
def events_are_the_answered_ones(learner: Learner, row: Stored) -> None:
    """`events` holds each answered event id once, with its kind."""
    expected = {eid: kind for eid, (kind, _) in learner.events.items()}
    assert row.events == expected, (learner.name, row.events, expected)


@names_the_rule
def guards_stay_empty(guards: list[Row]) -> None:
    """`guards` never holds a row (its inserts exist to abort a batch)."""
    assert guards == [], guards


# -- awards ------------------------------------------------------------------------------------


@names_the_rule
def one_award_per_cause(learner: Learner, row: Stored) -> None:
    """One XP award per (learner, cause), one badge per (learner, badge)."""
    causes = [cause for cause, _ in row.logs]
    assert len(causes) == len(set(causes)), (learner.name, row.logs)
    assert len(row.badges) == len(set(row.badges)), (learner.name, row.badges)


@names_the_rule
def awards_are_the_models(learner: Learner, row: Stored) -> None:
    """The XP awards and badges are exactly those the model earned."""
    awards = {cause: amount for cause, (amount, _) in learner.awards.items()}
    assert dict(row.logs) == awards, (learner.name, row.logs, learner.awards)
    assert set(row.badges) == learner.badges, (learner.name, row.badges, learner.badges)


@names_the_rule
def xp_is_the_sum_of_its_logs(learner: Learner, row: Stored) -> None:
    """`learners.xp` = SUM(xp_logs.amount), the model's total."""
    logged = sum(amount for _, amount in row.logs)
    assert row.xp == logged == learner.xp, (learner.name, row.xp, logged, learner.xp)


# -- what the API answers ----------------------------------------------------------------------


@names_the_rule
def the_api_agrees_with_the_model(
    course: Course, learner: Learner, response: httpx.Response
) -> None:
    """GET /api/learner (which places the learner in the current course version) answers the
    model's open step, completions, XP, streak and badges."""
    assert response.status_code == 200, response.text
    body = response.json()
    current = body["currentStep"]["id"] if body["currentStep"] else None
    assert body["courseVersion"] == course.version, (body["courseVersion"], course.version)
    assert current == learner.open, (learner.name, current, learner.open)
    done = body["currentStepDone"]
    assert done == (learner.open in learner.completed), (learner.name, done, learner.open)
    assert set(body["completed"]) == {s for s in learner.completed if course.step(s)}, (
        learner.name,
        body["completed"],
    )
    assert body["xp"] == learner.xp, (learner.name, body["xp"], learner.awards)
    assert body["streak"] == {
        "current": learner.streak,
        "best": learner.best,
        "lastDay": learner.day.isoformat() if learner.day else None,
    }, (learner.name, body["streak"])
    earned = {b["id"] for b in body["badges"] if b["earnedAt"]}
    assert earned == learner.badges, (learner.name, earned, learner.badges)


@names_the_rule
def leaderboards_are_exact(
    world: World, team: str, period: str, days: int | None, response: httpx.Response
) -> None:
    """A team's leaderboard for a period lists exactly that team, with the XP awarded in the
    period (today and the days - 1 before), in XP order (ties by name), ties sharing a rank."""
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    since = None if days is None else (world.now - timedelta(days=days - 1)).date().isoformat()
    expected = sorted(
        (
            -sum(a for a, day in p.awards.values() if since is None or day >= since),
            p.name,
            p.uid,
        )
        for p in world.learners.values()
        if p.team == team
    )
    got = [(-e["xp"], e["name"], e["userId"]) for e in entries]
    assert got == expected, (team, period, got, expected)
    # competition ranks, written out independently of api.rules.ranks: ties share the rank of
    # the first of them (1, 2, 2, 4)
    xps = [e["xp"] for e in entries]
    expected_ranks = [1 + sum(other > xp for other in xps) for xp in xps]
    assert [e["rank"] for e in entries] == expected_ranks, (team, entries)


@names_the_rule
def never_a_server_error(response: httpx.Response, busy_allowed: bool = False) -> None:
    """No request gets a 5xx; requests in flight together may get 503 busy (every retry lost)."""
    request = f"{response.request.method} {response.request.url}"
    if busy_allowed and response.status_code >= 500:
        assert response.json()["error"]["code"] == "busy", (request, response.text)
    else:
        assert response.status_code < 500, (request, response.text)


@names_the_rule
def errors_have_one_shape(response: httpx.Response) -> None:
    """Every 4xx answers {"error": {"code", "message"}}, both non-empty text, and `retryAfter`
    (whole seconds >= 1, the Retry-After header too) when it says when to try again."""
    one_error_shape(response)


@names_the_rule
def errors_change_nothing(
    response: httpx.Response, before: dict[str, list[Row]], after: dict[str, list[Row]]
) -> None:
    """A 4xx wrote nothing: every table is as before (placement columns excepted)."""
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    request = f"{response.request.method} {response.request.url}"
    assert not changed, f"{request} answered {response.status_code} but wrote {changed}"


@names_the_rule
def answers_are_predicted(response: httpx.Response, expected: Expect) -> None:
    """Every answer is the model's: status, error code, fields; `xp` and `badges` hold at least
    what was awarded and nothing never awarded."""
    problem = expected.mismatch(response)
    assert problem is None, f"{response.request.method} {response.request.url}: {problem}"


# -- requests in flight together ---------------------------------------------------------------

# A learner's request sent with others: (learner, url, kind, body), and their session cookie.
Sent = tuple[Learner, str, str, dict[str, Any]]


def played_in_order(
    world: World,
    order: tuple[int, ...],
    sent: list[Sent],
    responses: list[httpx.Response],
    cookies: list[str | None],
) -> World | None:
    """The world after the requests in this order, if each answer is the model's; else None."""
    world = copy.deepcopy(world)
    for i in order:
        if responses[i].status_code == 503:
            continue  # lost every retry: the player sends it again later
        person, _, kind, body = sent[i]
        trial = copy.deepcopy(world)
        expected = trial.event(trial.learners.get(person.uid), kind, body, cookies[i], "127.0.0.1")
        if expected.mismatch(responses[i]) is not None:
            return None
        record(trial, expected, responses[i])
        world = trial
    return world


@names_the_rule
def requests_are_linearizable(
    world: World, sent: list[Sent], responses: list[httpx.Response], cookies: list[str | None]
) -> World:
    """Requests sent together are answered as some order of them, one after the other, would
    be: the world after that order."""
    for order in itertools.permutations(range(len(sent))):
        found = played_in_order(world, order, sent, responses, cookies)
        if found is not None:
            return found
    raise AssertionError(
        f"no order of {[(r[1], r[3]) for r in sent]} explains "
        f"{[(r.status_code, r.json()) for r in responses]}"
    )
