"""A property-based progression model: hypothesis drives the real app on SQLite.

A `RuleBasedStateMachine` plays random cohorts through `support.client.cohort` (the real app on a real
SQLite file, with the fake clock): enrolments (two teams, three time zones), sessions, clock
jumps from seconds to a month, video reports (valid, forged, out of order, seeking ahead,
replayed, raw NaN/Infinity bodies), quiz submissions, lesson-done, signed (and badly signed)
Tally webhooks, admin resets, republishes of modified courses, and duplicate or concurrent
requests. Next to it runs a small model of what each learner legitimately did, written from the
README's rules; every answer is predicted by the model and compared with the server's.

After every step the invariants are read from the SQLite file and from the API itself:

- completions never disappear except by an admin reset, and the position (the open step's index
  in the current course, "finished" last) never moves back within one course version except by
  a reset; the open step is never a completed step, and is always the README's path rule
  (the first step after the furthest completed one that is not completed);
- a step is in `completions` only when the model says the server's rules allowed it (video:
  union of accepted intervals >= 95% of the duration at a plausible pace; quiz: a passing
  submission or a Tally score at the pass mark; lesson: lesson-done on the open lesson);
- one XP award per (learner, cause) and one badge per (learner, badge), exactly the model's;
  `learners.xp` = SUM(xp_logs.amount); the award counters match the completions;
- each team's leaderboard (all, 30d, 7d) lists exactly that team with those totals, ranked;
- every 4xx is in the one error shape and changed nothing (every table compared before/after,
  only the lazily computed placement columns of `learners` excepted).

The model also predicts the README's abuse limits (429) and every answer's `xp` and `badges`
(at least what was awarded, nothing never awarded). Requests sent together must be answered as
some order of them would be (linearizable). The regressions at the end are failing examples the
model found, made small: an answer announcing awards not made after a reset, and two races under
D1-style interleaving (every statement a round trip, as in tests/test_api_interleaving.py).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MethodType
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient
from support.client import Cohort, cohort
from support.clock import TALLY_SECRET
from support.course import make_course

from api.app import Api
from api.tally import hidden_token, sign_webhook

SECRET = "s" * 32  # the harness's SILLON_SECRET: it signs Tally hidden fields
RIGHT = [1, [0, 2]]  # the small course's quiz-1 answers
TEAMS = ("t1", "t2")
ZONES = ("Europe/Paris", "Pacific/Auckland", "America/Los_Angeles")
NAMES = ("Ada", "Bob", "Cyd", "Dee")
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,99}$")
SESSION = timedelta(days=30)

# What the README promises, written down once for the model.
COMPLETION, MAX_RATE, GRACE, SLACK = 0.95, 2.0, 10.0, 1.0
XP_VIDEO, XP_QUIZ, XP_PERFECT, XP_MODULE, XP_DAY = 10, 50, 25, 100, 5
# README, "Abuse limits": (name, burst, per minute); buckets per address or per session.
SESSION_LIMIT, EVENTS_LIMIT = ("session", 10, 10), ("events", 240, 120)
WRITES_LIMIT, ADMIN_LIMIT = ("writes", 1200, 600), ("admin", 60, 60)
ADDRESS = "testclient"  # TestClient's client address; httpx.ASGITransport's is 127.0.0.1
COUNTER_BADGES = {
    "videos": (("first-video", 1), ("video-5", 5), ("video-25", 25)),
    "quizzes": (("first-quiz", 1), ("quiz-master", 5)),
    "modules": (("som-complete", 1), ("expert", 5)),
    "streak": (("streak-7", 7), ("streak-30", 30)),
}


# -- the course, as the model reads a manifest ---------------------------------------------------


@dataclass(frozen=True)
class Step:
    id: str
    kind: str  # video | lesson | quiz
    module: str
    duration: float = 0.0
    pass_mark: float = 0.8
    keys: tuple[tuple[int, ...], ...] = ()
    choices: tuple[int, ...] = ()
    multiple: tuple[bool, ...] = ()
    tally: str | None = None


@dataclass(frozen=True)
class Course:
    version: str
    steps: tuple[Step, ...]

    def index(self, step_id: str | None) -> int:
        """Position of a step; `None` (finished) is after the last one."""
        ids = [s.id for s in self.steps]
        return len(ids) if step_id is None else ids.index(step_id)

    def step(self, step_id: object) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def after(self, step_id: str) -> str | None:
        position = self.index(step_id) + 1
        return self.steps[position].id if position < len(self.steps) else None

    def ends_module(self, step: Step) -> bool:
        return [s.id for s in self.steps if s.module == step.module][-1] == step.id

    def open_for(self, completed: set[str]) -> str | None:
        """README, "the path rule after a republish"."""
        ids = [s.id for s in self.steps]
        furthest = max((ids.index(s) for s in completed if s in ids), default=-1)
        return next((s for s in ids[furthest + 1 :] if s not in completed), None)


def read_course(manifest: dict[str, Any]) -> Course:
    steps = []
    for entry in manifest["steps"]:
        base = {"id": entry["id"], "module": entry["module"]}
        if entry["kind"] == "lesson" and entry.get("video"):
            steps.append(Step(kind="video", duration=float(entry["video"]["duration"]), **base))
        elif entry["kind"] == "lesson":
            steps.append(Step(kind="lesson", **base))
        else:
            questions = entry.get("questions") or []
            steps.append(
                Step(
                    kind="quiz",
                    pass_mark=float(entry["pass"]),
                    keys=tuple(tuple(q["answer"]) for q in questions),
                    choices=tuple(q["choices"] for q in questions),
                    multiple=tuple(q["multiple"] for q in questions),
                    tally=entry.get("tally"),
                    **base,
                )
            )
    return Course(manifest["version"], tuple(steps))


def variants(base: dict[str, Any]) -> dict[str, str]:
    """The published course and three republishes of it (steps inserted, removed, moved)."""
    steps = {s["id"]: s for s in base["steps"]}

    def lesson(step_id: str, module: str, video: float | None = None) -> dict[str, Any]:
        media = {"duration": video, "stream": None, "url": f"/media/{step_id}.webm"}
        return {
            "id": step_id,
            "kind": "lesson",
            "module": module,
            "title": step_id.title(),
            "video": media if video else None,
        }

    orders = {
        "base": [steps["intro"], steps["quiz-1"], steps["texte"], steps["final"]],
        # tests/test_api.py's republish: a step before everyone, the quiz gone, a bonus in M2.
        "inserted": [
            lesson("nouveau", "M1"),
            steps["intro"],
            steps["texte"],
            lesson("bonus", "M2"),
            steps["final"],
        ],
        # A lesson now ends M1, a second video before the Tally quiz.
        "extended": [
            steps["intro"],
            steps["quiz-1"],
            lesson("recap", "M1"),
            steps["texte"],
            lesson("clip2", "M2", video=60.0),
            steps["final"],
        ],
        # The first video removed, the two M2 steps swapped.
        "trimmed": [steps["quiz-1"], steps["final"], steps["texte"]],
    }
    manifests = {}
    for name, order in orders.items():
        data = copy.deepcopy(base)
        data["steps"] = copy.deepcopy(order)
        modules = dict.fromkeys(s["module"] for s in order)
        data["modules"] = [
            {"id": m, "title": m, "steps": [s["id"] for s in order if s["module"] == m]}
            for m in modules
        ]
        if name != "base":
            data["version"] = f"{base['version'][:16]}-{name}"
        manifests[name] = json.dumps(data)
    return manifests


# -- the model of one learner ----------------------------------------------------------------------


@dataclass
class Learner:
    uid: str
    name: str
    email: str
    team: str
    tz: str
    invite: str
    session_until: datetime | None = None
    open: str | None = None
    completed: dict[str, str] = field(default_factory=dict)  # step id -> kind when completed
    modules: set[str] = field(default_factory=set)
    views: dict[str, tuple[list[tuple[float, float]], datetime]] = field(default_factory=dict)
    attempts: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    events: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    awards: dict[str, tuple[int, str]] = field(default_factory=dict)  # cause -> (amount, UTC day)
    badges: set[str] = field(default_factory=set)
    streak: int = 0
    best: int = 0
    day: date | None = None
    resets: int = 0

    @property
    def xp(self) -> int:
        return sum(amount for amount, _ in self.awards.values())

    def count(self, kind: str) -> int:
        return sum(1 for k in self.completed.values() if k == kind)


@dataclass
class Expect:
    """A predicted answer: status, error code, and fields (or the whole body) of a success."""

    status: int
    code: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    learner: str | None = None  # whose event log records the answer
    event: tuple[str, str] | None = None  # (event id, kind) to record on success

    def mismatch(self, response: httpx.Response) -> str | None:
        if response.status_code != self.status:
            return f"status {response.status_code}, expected {self.status} ({self.code})"
        body = response.json() if response.content else None
        if self.code is not None and body["error"]["code"] != self.code:
            return f"code {body['error']['code']!r}, expected {self.code!r}"
        if self.body is not None and body != self.body:
            return f"body {body}, expected {self.body}"
        for key, value in self.fields.items():
            got = body.get(key)
            if key == "nextStep" and isinstance(got, dict):
                got = got["id"]  # the model names steps by id
            if key in ("xp", "badges") and isinstance(got, list):
                # Everything awarded now is answered, and nothing that was never awarded.
                # (Exactly what was awarded now: see test_answer_after_reset_awards_nothing.)
                fresh, ever = value
                given = {json.dumps(item, sort_keys=True) for item in got}
                if not fresh <= given <= ever:
                    return f"{key} = {got}, expected {sorted(fresh)} (at most {sorted(ever)})"
                continue
            if got != value:
                return f"{key} = {got!r}, expected {value!r} in {body}"
        return None


def error(status: int, code: str) -> Expect:
    return Expect(status, code)


class Refused(Exception):  # noqa: N818
    """A refusal the model predicts (raised inside the model, answered as a 4xx)."""

    def __init__(self, status: int, code: str) -> None:
        self.expect = error(status, code)


def _keys(items: list[Any]) -> set[str]:
    return {json.dumps(item, sort_keys=True) for item in items}


def union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def length(intervals: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in intervals)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class World:
    """The model: the current course, the clock, every learner."""

    course: Course
    now: datetime
    learners: dict[str, Learner] = field(default_factory=dict)
    buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    fresh: list[dict[str, Any]] = field(default_factory=list)  # XP awarded by this request
    fresh_badges: list[str] = field(default_factory=list)  # badges earned by this request

    def take(self, limit: tuple[str, int, int], key: str) -> None:
        """Spend a token of a bucket, or be refused 429 (README, "Abuse limits")."""
        name, burst, per_minute = limit
        now = self.now.timestamp()
        tokens, updated = self.buckets.get((name, key), (float(burst), now))
        tokens = min(float(burst), tokens + max(0.0, now - updated) * per_minute / 60.0)
        if tokens < 1.0:
            raise Refused(429, "too_many_requests")
        self.buckets[(name, key)] = (tokens - 1.0, now)

    def limited(self, limit: tuple[str, int, int], key: str) -> Expect | None:
        try:
            self.take(limit, key)
        except Refused as refused:
            return refused.expect
        return None

    def iso(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

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
        who.completed[step.id] = step.kind
        who.open = self.course.after(step.id)
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
        return who.open

    # -- the path --

    def place_all(self) -> None:
        for who in self.learners.values():
            who.open = self.course.open_for(set(who.completed))

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
        """POST /api/video-event, /api/lesson-done, /api/quiz-submission."""
        self.fresh, self.fresh_badges = [], []
        try:
            self.take(WRITES_LIMIT, address)
            if cookie is not None:
                self.take(EVENTS_LIMIT, cookie)
            if body is ValueError:
                raise Refused(400, "invalid_json")
            if not isinstance(body, dict):
                raise Refused(422, "invalid")
            if any(k in body for k in ("userId", "user_id", "learnerId", "teamId")):
                raise Refused(400, "identity_in_body")
            eid = body.get("eventId")
            if not isinstance(eid, str) or not EVENT_ID.match(eid):
                raise Refused(422, "invalid")
            if who is None or who.session_until is None or self.now >= who.session_until:
                raise Refused(401, "unauthorized")
            if eid in who.events:
                first_kind, first = who.events[eid]
                if first_kind != kind:
                    raise Refused(409, "event_id_reused")
                return Expect(200, body={**first, "replayed": True})
            step = self.acting_step(who, body.get("stepId"))
            if kind == "video":
                fields = self.video(who, step, body.get("intervals"))
            elif kind == "lesson":
                if step.kind != "lesson":
                    raise Refused(422, "not_a_text_lesson")
                self.learning_day(who)
                fields = {"complete": True, "nextStep": self.finish(who, step)}
            else:
                fields = self.quiz(who, step, body.get("answers"))
        except Refused as refused:
            return refused.expect
        fields.update(self.earned(who))
        return Expect(200, fields={"stepId": step.id, **fields}, learner=who.uid, event=(eid, kind))

    def earned(self, who: Learner) -> dict[str, Any]:
        """An answer's `xp` and `badges`: what this request awarded (each cause once, ever)."""
        ever_xp = [{"cause": c, "amount": a} for c, (a, _) in who.awards.items()]
        ever_badges = list(who.badges)
        answer = {
            "xp": (_keys(self.fresh), _keys(ever_xp)),
            "badges": (_keys(self.fresh_badges), _keys(ever_badges)),
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
        complete = watched + 1e-6 >= COMPLETION * step.duration
        after = self.finish(who, step) if complete else None
        return {"watched": round(watched, 3), "complete": complete, "nextStep": after}

    def grade(self, step: Step, answers: object) -> tuple[float, bool, bool]:
        if not isinstance(answers, list) or len(answers) != len(step.keys):
            raise Refused(422, "invalid_answers")
        right = 0
        for number, given in enumerate(answers):
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
            right += sorted(picked) == list(step.keys[number])
        score = right / len(step.keys)
        return score, score + 1e-9 >= step.pass_mark, score == 1.0

    def attempt(
        self, who: Learner, step: Step, source: str, score: float, passed: bool, perfect: bool
    ) -> None:
        who.attempts.append((step.id, source, int(passed), int(perfect), round(score, 4)))
        self.learning_day(who)
        if passed:
            self.finish(who, step, perfect)

    def quiz(self, who: Learner, step: Step, answers: object) -> dict[str, Any]:
        if step.kind != "quiz":
            raise Refused(422, "not_a_quiz")
        if step.tally:
            raise Refused(422, "tally_quiz")
        score, passed, perfect = self.grade(step, answers)
        self.attempt(who, step, "builtin", score, passed, perfect)
        after = self.course.after(step.id) if passed else None
        return {"score": round(score, 4), "passed": passed, "perfect": perfect, "nextStep": after}

    def tally(self, signed: bool, submission: dict[str, Any]) -> Expect:
        """POST /api/tally-hook, with the submission the rule built."""
        self.fresh, self.fresh_badges = [], []
        try:
            self.take(WRITES_LIMIT, ADDRESS)
            if not signed:
                raise Refused(401, "bad_signature")
            score, most = submission["score"], submission["max_score"]
            if not is_number(score):
                raise Refused(422, "no_score")
            if most is not None and (not is_number(most) or most <= 0):
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
            passed, perfect = fraction + 1e-9 >= step.pass_mark, fraction >= 1.0
            self.attempt(who, step, "tally", fraction, passed, perfect)
        except Refused as refused:
            return refused.expect
        fields = {
            "stepId": step.id,
            "score": round(fraction, 4),
            "passed": passed,
            **self.earned(who),
        }
        return Expect(200, fields=fields, learner=who.uid, event=(eid, "tally"))


# -- reading the database ----------------------------------------------------------------------

SNAPSHOT = {
    # Placement (open_step, course_version, opened_at) is computed lazily by any request.
    "learners": "SELECT id, name, email, team_id, tz, invite_hash, xp, videos_done, "
    "quizzes_passed, modules_done, streak, streak_best, streak_day, created_at FROM learners",
    "sessions": "SELECT * FROM sessions",
    "completions": "SELECT * FROM completions",
    "module_completions": "SELECT * FROM module_completions",
    "video_views": "SELECT * FROM video_views",
    "quiz_attempts": "SELECT * FROM quiz_attempts",
    "events": "SELECT * FROM events",
    "learner_badges": "SELECT * FROM learner_badges",
    "xp_logs": "SELECT * FROM xp_logs",
    "xp_history": "SELECT * FROM xp_history",
    "course_versions": "SELECT * FROM course_versions",
    "guards": "SELECT * FROM guards",
}


def query(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(db)
    try:
        return {name: sorted(connection.execute(sql).fetchall()) for name, sql in SNAPSHOT.items()}
    finally:
        connection.close()


def record(world: World, expected: Expect, response: httpx.Response) -> None:
    """A success is an event: a replay of its id must answer exactly this again."""
    if expected.event is not None and expected.learner is not None:
        eid, kind = expected.event
        world.learners[expected.learner].events[eid] = (kind, response.json())


def check_error_shape(response: httpx.Response) -> None:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


# -- the state machine ---------------------------------------------------------------------------

STEP_CHOICES = [
    "open",
    "open",
    "open",
    "open",
    "intro",
    "quiz-1",
    "texte",
    "final",
    "clip2",
    "nope",
]
STEP_CHOICES += ["bonus", "recap", "nouveau", "", 7]
EID_CHOICES = ["new", "new", "new", "new", "replay", "other", "short"]
SHAPES = ["next", "next", "next", "seek", "multi", "empty", "zero", "backwards", "negative"]
SHAPES += ["beyond", "slack", "huge", "string", "notalist", "many", "bool", "triple", "boundary"]
SHAPES += ["nan", "infinity", "overflow"]
ANSWERS: list[object] = [RIGHT] * 4 + [[[1], [2, 0]], [1, [0]], [0, [0, 2]], [0, [1]], [1]]
ANSWERS += [[5, [0]], [1, [0, 0]], [[0, 1], [0]], "1,0", [True, [0]], [1, [0, 2], 0], None]
SECONDS = [1, 5, 5, 5, 20, 60, 600, 3600, 6 * 3600, 86400, 86400, 2 * 86400, 8 * 86400]
SECONDS += [30 * 86400]


class Progression(RuleBasedStateMachine):
    content: Path  # the course, written once by the test
    workdir: Path
    manifests: dict[str, str] = {}
    runs = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).runs += 1
        self.tmp = self.workdir / f"run-{self.runs}"
        self.stack = ExitStack()
        self.app: Cohort = self.stack.enter_context(cohort(self.content, self.tmp))
        if not self.manifests:
            base = json.loads((self.tmp / "private/manifest.json").read_text())
            type(self).manifests = variants(base)
        self.courses = {n: read_course(json.loads(m)) for n, m in self.manifests.items()}
        self.world = World(self.courses["base"], self.app.clock.now)
        self.browsers: dict[str, TestClient] = {}
        self.anonymous = TestClient(self.app.client.app, base_url="http://testserver")
        self.last: dict[str, tuple[str, bytes]] = {}  # the learner's last event (url, body)
        self.responses: list[str] = []  # Tally response ids used so far
        self.seen: dict[
            str, tuple[str, set[str], int, int]
        ] = {}  # uid -> version, done, position, resets
        self.steps = 0

    def teardown(self) -> None:
        self.stack.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers --

    @property
    def people(self) -> list[Learner]:
        return list(self.world.learners.values())

    def pick(self, who: int) -> Learner:
        return self.people[who % len(self.people)]

    def client_of(self, learner: Learner) -> TestClient:
        return self.browsers.get(learner.uid, self.anonymous)

    def send(self, client: TestClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a 4xx must be in the error shape and must have written nothing."""
        before = snapshot(self.app.db)
        response = client.request(method, url, **kwargs)
        assert response.status_code < 500, (method, url, response.text)
        if response.status_code >= 400:
            check_error_shape(response)
            after = snapshot(self.app.db)
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            assert not changed, (
                f"{method} {url} answered {response.status_code} but wrote {changed}"
            )
        return response

    def expect(self, response: httpx.Response, expected: Expect, world: World) -> None:
        problem = expected.mismatch(response)
        assert problem is None, f"{response.request.method} {response.request.url}: {problem}"
        self.settle(response, expected, world)

    def settle(self, response: httpx.Response, expected: Expect, world: World) -> None:
        """Take the predicted world, and remember the answer a replay must give back."""
        record(world, expected, response)
        self.world = world

    def predict(self, act: Callable[[World], Expect]) -> tuple[Expect, World]:
        """Play a request on a copy of the model (a refusal changes only the limit buckets)."""
        world = copy.deepcopy(self.world)
        return act(world), world

    def cookie_of(self, learner: Learner) -> str | None:
        browser = self.browsers.get(learner.uid)
        return browser.cookies.get("sillon_session") if browser else None

    def eid_for(self, learner: Learner, choice: str, index: int) -> str:
        if choice == "replay" and learner.events:
            return sorted(learner.events)[index % len(learner.events)]
        if choice == "other":
            others = [e for p in self.people if p is not learner for e in p.events]
            if others:
                return sorted(others)[index % len(others)]
        if choice == "short":
            return "short"
        return str(uuid.uuid4())

    def step_for(self, learner: Learner, choice: object) -> object:
        return learner.open if choice == "open" else choice

    def post_event(self, learner: Learner, url: str, kind: str, raw: bytes) -> None:
        try:
            body: object = json.loads(raw, parse_constant=_no_constant)
        except ValueError:
            body = ValueError
        cookie = self.cookie_of(learner)
        expected, world = self.predict(
            lambda w: w.event(w.learners.get(learner.uid), kind, body, cookie)
        )
        self.last[learner.uid] = (url, raw)
        response = self.send(
            self.client_of(learner),
            "POST",
            url,
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        self.expect(response, expected, world)

    # -- rules: people and time --

    @precondition(lambda self: len(self.world.learners) < 4)
    @rule(
        team=st.sampled_from(TEAMS),
        tz=st.sampled_from(ZONES),
        sign_in=st.sampled_from([True] * 4 + [False]),
    )
    def enroll(self, team: str, tz: str, sign_in: bool) -> None:
        name = NAMES[len(self.people)]
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
        body = {"name": name, "email": email, "teamId": team, "tz": tz}
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/learners", json=body, headers=self.app.admin()
        )
        if limited:
            self.expect(response, limited, self.world)
            return
        assert response.status_code == 201, response.text
        created = response.json()
        learner = Learner(
            created["userId"],
            name,
            email,
            team,
            tz,
            created["inviteToken"],
            open=self.world.course.steps[0].id,
        )
        self.world.learners[learner.uid] = learner
        if sign_in:
            self.sign_in(len(self.people) - 1)

    @precondition(lambda self: self.people)
    @rule(who=st.integers(0, 3), really=st.integers(0, 2))
    def enroll_again(self, who: int, really: int) -> None:
        if really:
            return
        learner = self.pick(who)
        body = {"name": "X", "email": learner.email.upper(), "teamId": "t9"}
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/learners", json=body, headers=self.app.admin()
        )
        self.expect(response, limited or error(409, "already_enrolled"), self.world)

    @precondition(lambda self: self.people)
    @rule(who=st.integers(0, 3))
    def sign_in(self, who: int) -> None:
        learner = self.pick(who)
        browser = TestClient(self.app.client.app, base_url="http://testserver")
        limited = self.world.limited(SESSION_LIMIT, ADDRESS)
        response = self.send(browser, "POST", "/api/session", json={"inviteToken": learner.invite})
        if limited:
            self.expect(response, limited, self.world)
            return
        assert response.status_code == 200 and response.json()["userId"] == learner.uid
        self.browsers[learner.uid] = browser
        learner.session_until = self.world.now + SESSION

    @precondition(lambda self: self.browsers)
    @rule(who=st.integers(0, 3))
    def sign_out(self, who: int) -> None:
        learner = self.pick(who)
        response = self.send(self.client_of(learner), "DELETE", "/api/session")
        assert response.status_code == 204
        learner.session_until = None

    @rule(invite=st.sampled_from(["made-up", "", "x" * 300]), really=st.integers(0, 4))
    def bad_sign_in(self, invite: str, really: int) -> None:
        if really:
            return  # rarely: a session is 10 a minute per address
        limited = self.world.limited(SESSION_LIMIT, ADDRESS)
        response = self.send(self.anonymous, "POST", "/api/session", json={"inviteToken": invite})
        expected = error(401, "bad_invite") if invite == "made-up" else error(422, "invalid")
        self.expect(response, limited or expected, self.world)

    @rule(seconds=st.sampled_from(SECONDS))
    def advance(self, seconds: int) -> None:
        self.app.clock.advance(seconds=seconds)
        self.world.now = self.app.clock.now

    # -- rules: video --

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        where=st.sampled_from(STEP_CHOICES),
        shape=st.sampled_from(SHAPES),
        size=st.integers(0, 60),
        offset=st.integers(0, 130),
        eid=st.sampled_from(EID_CHOICES),
        index=st.integers(0, 10),
        identity=st.sampled_from([None] * 8 + ["userId", "teamId"]),
    )
    def video(
        self,
        who: int,
        where: object,
        shape: str,
        size: int,
        offset: int,
        eid: str,
        index: int,
        identity: str | None,
    ) -> None:
        learner = self.pick(who)
        step_id = self.step_for(learner, where)
        raw = self.video_body(
            learner, step_id, shape, size / 2, offset, self.eid_for(learner, eid, index), identity
        )
        self.post_event(learner, "/api/video-event", "video", raw)

    def video_body(
        self,
        learner: Learner,
        step_id: object,
        shape: str,
        size: float,
        offset: int,
        eid: str,
        identity: str | None = None,
    ) -> bytes:
        step = self.world.course.step(step_id)
        duration = step.duration if step and step.duration else 120.0
        views = learner.views.get(str(step_id), ([], None))[0]
        resume = next((end for start, end in views if start <= 0.5), 0.0)
        spans: object = {
            "next": [[resume, resume + size]],
            "seek": [[offset, offset + size]],
            "multi": [[resume, resume + 5], [offset, offset + size]],
            "empty": [],
            "zero": [[resume, resume]],
            "backwards": [[offset + size + 1, offset]],
            "negative": [[-size - 1, 3]],
            "beyond": [[0, duration + SLACK + size + 0.5]],
            "slack": [[max(0.0, duration - size / 4), duration + 0.5]],
            "huge": [[0, 1e308]],
            "string": [[0, "10"]],
            "notalist": "0-10",
            "many": [[0, 1]] * 201,
            "bool": [[True, 3]],
            "triple": [[0, 1, 2]],
            "boundary": [[0, COMPLETION * duration - 5e-7]],
        }.get(shape, [[0, 1]])
        body: dict[str, Any] = {"eventId": eid, "stepId": step_id, "intervals": spans}
        if identity:
            body[identity] = "u_someoneelse"
        raw = json.dumps(body).encode()
        forged = {"nan": b"[[0, NaN]]", "infinity": b"[[0, Infinity]]", "overflow": b"[[0, 1e400]]"}
        if shape in forged:
            raw = raw.replace(b"[[0, 1]]", forged[shape])
        return raw

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        pace=st.sampled_from([1.0, 2.0, 2.0, 2.0, 2.5, 4.0]),
        chunk=st.sampled_from([5, 10, 10, 20]),
    )
    def watch_through(self, who: int, pace: float, chunk: int) -> None:
        """The player: report `chunk` seconds of media every chunk/pace seconds of wall clock."""
        uid = self.pick(who).uid
        self.ensure_session(uid)
        for _ in range(30):
            learner = self.world.learners[uid]
            step = self.world.course.step(learner.open)
            if step is None or step.kind != "video" or not self.signed_in(learner):
                break
            raw = self.video_body(learner, step.id, "next", chunk, 0, str(uuid.uuid4()))
            self.post_event(learner, "/api/video-event", "video", raw)
            self.advance_by(chunk / pace)
            if self.world.learners[uid].open != step.id:
                break

    def signed_in(self, learner: Learner) -> bool:
        until = learner.session_until
        return until is not None and self.world.now < until and learner.uid in self.browsers

    def ensure_session(self, uid: str) -> None:
        """Open the invite link again when the session is gone (as the player sends you to)."""
        if not self.signed_in(self.world.learners[uid]):
            self.sign_in(self.people.index(self.world.learners[uid]))

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        score=st.sampled_from([100, 90, 80, 60]),
        perfect=st.booleans(),
        pace=st.sampled_from([2.0, 2.0, 3.0]),
        steps=st.integers(1, 4),
    )
    def play_open_steps(self, who: int, score: int, perfect: bool, pace: float, steps: int) -> None:
        """Do what the open step asks, the way the player does it, for a few steps."""
        uid = self.pick(who).uid
        for _ in range(steps):
            self.ensure_session(uid)
            self.play_open_step(who, score, perfect, pace)
            self.advance_by(60)

    def play_open_step(self, who: int, score: int, perfect: bool, pace: float) -> None:
        learner = self.pick(who)
        step = self.world.course.step(learner.open)
        if step is None:
            return
        if step.kind == "video":
            self.watch_through(who, pace, 10)
        elif step.kind == "lesson":
            body = {"eventId": str(uuid.uuid4()), "stepId": step.id}
            self.post_event(learner, "/api/lesson-done", "lesson", json.dumps(body).encode())
        elif step.tally:
            self.tally_hook(who, "open", "good", score, None, "new", 0, "good", "wMx9Qd")
        else:
            answers = RIGHT if perfect or score >= 80 else [1, [0]]
            body = {"eventId": str(uuid.uuid4()), "stepId": step.id, "answers": answers}
            self.post_event(learner, "/api/quiz-submission", "quiz", json.dumps(body).encode())

    def advance_by(self, seconds: float) -> None:
        self.app.clock.advance(seconds=seconds)
        self.world.now = self.app.clock.now

    @precondition(lambda self: len(self.people) >= 2)
    @rule(first=st.integers(0, 3), second=st.integers(0, 3), rounds=st.integers(1, 6))
    def interleave(self, first: int, second: int, rounds: int) -> None:
        """Two learners' players reporting in turn, on the same seconds of media."""
        pair = [self.pick(first).uid, self.pick(second).uid]
        for _ in range(rounds):
            for uid in pair:
                learner = self.world.learners[uid]
                step_id = learner.open
                raw = self.video_body(learner, step_id, "next", 10, 0, str(uuid.uuid4()))
                self.post_event(learner, "/api/video-event", "video", raw)
            self.advance_by(5)

    @precondition(lambda self: self.last)
    @rule(who=st.integers(0, 3))
    def resend_last(self, who: int) -> None:
        """The same body twice in a row (a retry): answered like the first time, replayed."""
        learner = self.pick(who)
        if learner.uid not in self.last:
            return
        url, raw = self.last[learner.uid]
        kind = {"/api/video-event": "video", "/api/lesson-done": "lesson"}.get(url, "quiz")
        self.post_event(learner, url, kind, raw)

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        other=st.integers(0, 3),
        mode=st.sampled_from(["same", "two-ids", "two-learners"]),
    )
    def concurrent(self, who: int, other: int, mode: str) -> None:
        """Requests in flight together; the answers must be those of some order of them."""
        learner = self.pick(who)
        second = self.pick(other) if mode == "two-learners" else learner
        requests = []
        for n, person in enumerate([learner, second]):
            step = self.world.course.step(person.open)
            if step is None:
                url, kind, body = "/api/lesson-done", "lesson", {"stepId": "intro"}
            elif step.kind == "video":
                url, kind = "/api/video-event", "video"
                views = person.views.get(step.id, ([], None))[0]
                resume = next((end for start, end in views if start <= 0.5), 0.0)
                body = {"stepId": step.id, "intervals": [[resume, min(resume + 10, step.duration)]]}
            elif step.kind == "lesson":
                url, kind, body = "/api/lesson-done", "lesson", {"stepId": step.id}
            else:
                url, kind, body = (
                    "/api/quiz-submission",
                    "quiz",
                    {"stepId": step.id, "answers": RIGHT},
                )
            if n == 1 and mode == "same":
                body = requests[0][3]
            else:
                body = {"eventId": str(uuid.uuid4()), **body}
            requests.append((person, url, kind, body))
        responses = self.in_flight([(p, u, b) for p, u, _, b in requests])
        for response in responses:
            assert response.status_code < 500 or response.json()["error"]["code"] == "busy"
            if response.status_code >= 400:
                check_error_shape(response)
        for order in itertools.permutations(range(len(requests))):
            world = copy.deepcopy(self.world)
            for i in order:
                if responses[i].status_code == 503:
                    continue  # lost every retry: the player sends it again later
                person, _, kind, body = requests[i]
                trial = copy.deepcopy(world)
                expected = trial.event(
                    trial.learners.get(person.uid), kind, body, self.cookie_of(person), "127.0.0.1"
                )
                if expected.mismatch(responses[i]) is not None:
                    break
                record(trial, expected, responses[i])
                world = trial
            else:
                self.world = world
                return
        raise AssertionError(
            f"no order of {[(r[1], r[3]) for r in requests]} explains "
            f"{[(r.status_code, r.json()) for r in responses]}"
        )

    def in_flight(
        self, requests: list[tuple[Learner, str, dict[str, Any]]]
    ) -> list[httpx.Response]:
        calls = []
        for person, url, body in requests:
            cookie = self.cookie_of(person)
            calls.append(({"sillon_session": cookie} if cookie else {}, {}, url, body))
        return in_flight(self.app, calls)

    # -- rules: lessons and quizzes --

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        where=st.sampled_from(STEP_CHOICES),
        eid=st.sampled_from(EID_CHOICES),
        index=st.integers(0, 10),
    )
    def lesson_done(self, who: int, where: object, eid: str, index: int) -> None:
        learner = self.pick(who)
        body = {
            "eventId": self.eid_for(learner, eid, index),
            "stepId": self.step_for(learner, where),
        }
        self.post_event(learner, "/api/lesson-done", "lesson", json.dumps(body).encode())

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        where=st.sampled_from(STEP_CHOICES),
        answers=st.sampled_from(ANSWERS),
        eid=st.sampled_from(EID_CHOICES),
        index=st.integers(0, 10),
    )
    def quiz(self, who: int, where: object, answers: object, eid: str, index: int) -> None:
        learner = self.pick(who)
        body = {
            "eventId": self.eid_for(learner, eid, index),
            "stepId": self.step_for(learner, where),
            "answers": answers,
        }
        self.post_event(learner, "/api/quiz-submission", "quiz", json.dumps(body).encode())

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3),
        where=st.sampled_from(["open", "open", "final", "quiz-1", "texte"]),
        token=st.sampled_from(
            ["good"] * 6 + ["other-learner", "unknown-learner", "forged", "stale", "old"]
        ),
        score=st.sampled_from([100, 100, 90, 80, 79.9, 40, 0, 250, -1, "x", None]),
        most=st.sampled_from([None, None, None, 100, 10, 0]),
        response=st.sampled_from(["new", "new", "new", "again"]),
        index=st.integers(0, 10),
        signature=st.sampled_from(["good"] * 8 + ["missing", "wrong"]),
        form=st.sampled_from(["wMx9Qd"] * 6 + ["otherForm"]),
    )
    def tally_hook(
        self,
        who: int,
        where: str,
        token: str,
        score: object,
        most: int | None,
        response: str,
        index: int,
        signature: str,
        form: str,
    ) -> None:
        learner = self.pick(who)
        step_id = self.step_for(learner, where) or "final"
        uid = learner.uid
        signed_at = self.world.now.timestamp()
        if token == "other-learner":
            uid = self.pick(who + 1).uid
        elif token == "unknown-learner":
            uid = "u_0000000000000000"
        elif token == "stale":
            signed_at -= 8 * 86400
        elif token == "old":
            signed_at -= 6 * 86400
        hidden = hidden_token(SECRET, uid, str(step_id), signed_at)
        if token == "forged":
            _, step, expires, mac = hidden.split(".")
            hidden = ".".join([self.pick(who + 1).uid, step, expires, mac])
            mac_ok = self.pick(who + 1).uid == uid
        else:
            mac_ok = True
        if response == "again" and self.responses:
            rid = self.responses[index % len(self.responses)]
        else:
            rid = f"resp-{uuid.uuid4().hex[:12]}"
            self.responses.append(rid)
        fields = [
            {"key": "q1", "label": "Votre nom", "type": "INPUT_TEXT", "value": "<b>x</b>"},
            {"key": "q2", "label": "sillon", "type": "HIDDEN_FIELDS", "value": hidden},
            {"key": "q3", "label": "score", "type": "CALCULATED_FIELDS", "value": score},
        ]
        if most is not None:
            fields.append(
                {"key": "q4", "label": "max_score", "type": "CALCULATED_FIELDS", "value": most}
            )
        payload = {
            "eventId": "evt-" + rid,
            "eventType": "FORM_RESPONSE",
            "createdAt": self.world.iso(),
            "data": {"responseId": rid, "formId": form, "fields": fields},
        }
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers["Tally-Signature"] = sign_webhook(TALLY_SECRET, raw)
        elif signature == "wrong":
            headers["Tally-Signature"] = sign_webhook(TALLY_SECRET, raw + b" ")
        submission = {
            "score": score,
            "max_score": most,
            "mac_ok": mac_ok,
            "expires": int(signed_at + 7 * 86400),
            "uid": self.pick(who + 1).uid if token == "forged" else uid,
            "response": rid,
            "step": str(step_id),
            "form": form,
        }
        expected, world = self.predict(lambda w: w.tally(signature == "good", submission))
        answer = self.send(self.app.client, "POST", "/api/tally-hook", content=raw, headers=headers)
        self.expect(answer, expected, world)

    # -- rules: the admin --

    @precondition(lambda self: self.people)
    @rule(
        who=st.integers(0, 3), auth=st.sampled_from(["admin", "admin", "admin", "none", "unknown"])
    )
    def reset(self, who: int, auth: str) -> None:
        learner = self.pick(who)
        uid = "u_nobody" if auth == "unknown" else learner.uid
        headers = self.app.admin() if auth != "none" else {}
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/reset", json={"userId": uid}, headers=headers
        )
        if limited:
            self.expect(response, limited, self.world)
        elif auth == "none":
            self.expect(response, error(401, "unauthorized"), self.world)
        elif auth == "unknown":
            self.expect(response, error(404, "unknown_learner"), self.world)
        else:
            first = self.world.course.steps[0].id
            assert response.status_code == 200 and response.json()["currentStep"]["id"] == first
            learner.completed, learner.modules, learner.views = {}, set(), {}
            learner.open = first
            learner.resets += 1

    @rule(
        name=st.sampled_from(["base", "base", "inserted", "extended", "trimmed"]),
        auth=st.sampled_from([True, True, True, False]),
    )
    def republish(self, name: str, auth: bool) -> None:
        headers = {"Content-Type": "application/json", **(self.app.admin() if auth else {})}
        manifest = self.manifests[name].encode()
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/publish", content=manifest, headers=headers
        )
        if limited or not auth:
            self.expect(response, limited or error(401, "unauthorized"), self.world)
            return
        assert response.status_code == 201, response.text
        assert response.json()["version"] == self.courses[name].version
        self.world.course = self.courses[name]
        self.world.place_all()

    # -- invariants --

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        if not hasattr(self, "world"):
            return
        db, course = self.app.db, self.world.course
        # The API's own view first (it places learners for the current course version).
        for learner in self.people:
            response = self.app.client.get(
                f"/api/learner?userId={learner.uid}", headers=self.app.admin()
            )
            assert response.status_code == 200, response.text
            body = response.json()
            current = body["currentStep"]["id"] if body["currentStep"] else None
            assert body["courseVersion"] == course.version
            assert current == learner.open, (learner.name, current, learner.open)
            assert set(body["completed"]) == {s for s in learner.completed if course.step(s)}
            assert body["xp"] == learner.xp, (learner.name, body["xp"], learner.awards)
            assert body["streak"] == {
                "current": learner.streak,
                "best": learner.best,
                "lastDay": learner.day.isoformat() if learner.day else None,
            }
            earned = {b["id"] for b in body["badges"] if b["earnedAt"]}
            assert earned == learner.badges, (learner.name, earned, learner.badges)
        state = snapshot(db)
        completions: dict[str, dict[str, str]] = {}
        for uid, step_id, kind, *_ in state["completions"]:
            completions.setdefault(uid, {})[step_id] = kind
        by_learner = {
            row[0]: row
            for row in query(
                db,
                "SELECT id, xp, videos_done, quizzes_passed, modules_done, open_step, course_version FROM learners",
            )
        }
        assert set(by_learner) == set(self.world.learners)
        for learner in self.people:
            uid = learner.uid
            done = completions.get(uid, {})
            # A step completes only through the server's rules, as the model played them.
            assert done == learner.completed, (learner.name, done, learner.completed)
            modules = {m for lid, m, _ in state["module_completions"] if lid == uid}
            assert modules == learner.modules
            _, xp, videos, quizzes, modules_done, open_step, version = by_learner[uid]
            assert (videos, quizzes, modules_done) == (
                learner.count("video"),
                learner.count("quiz"),
                len(learner.modules),
            )
            assert (open_step, version) == (learner.open, course.version)
            # The path rule, and never a completed step open.
            assert open_step == course.open_for(set(done)) and open_step not in done
            # Forward only: completions stay, the position does not go back (same version).
            position = course.index(open_step)
            if uid in self.seen:
                was_version, was_done, was_position, was_resets = self.seen[uid]
                if learner.resets == was_resets:
                    assert was_done <= set(done), (learner.name, was_done, done)
                    if was_version == course.version:
                        assert position >= was_position, (learner.name, was_position, position)
            self.seen[uid] = (course.version, set(done), position, learner.resets)
            # One award per cause, totals are the sum of the log, exactly the model's awards.
            logs = [(cause, amount) for _, lid, amount, cause, _ in state["xp_logs"] if lid == uid]
            assert len(logs) == len({c for c, _ in logs})
            assert dict(logs) == {c: a for c, (a, _) in learner.awards.items()}, (
                learner.name,
                logs,
                learner.awards,
            )
            assert xp == sum(a for _, a in logs) == learner.xp
            badges = [b for lid, b, _ in state["learner_badges"] if lid == uid]
            assert len(badges) == len(set(badges)) and set(badges) == learner.badges
            views = {
                step: (json.loads(intervals), first)
                for lid, step, intervals, _, first, *_ in state["video_views"]
                if lid == uid
            }
            assert views == {
                s: ([list(i) for i in merged], self.iso(first))
                for s, (merged, first) in learner.views.items()
            }, (learner.name, views, learner.views)
            attempts = sorted(
                (step, source, passed, perfect, round(score, 4))
                for _, lid, step, source, score, passed, perfect, *_ in state["quiz_attempts"]
                if lid == uid
            )
            assert attempts == sorted(learner.attempts)
            events = {eid: kind for lid, eid, kind, *_ in state["events"] if lid == uid}
            assert events == {eid: kind for eid, (kind, _) in learner.events.items()}
        assert state["guards"] == []

    @invariant()
    def leaderboards_agree_with_totals(self) -> None:
        if not hasattr(self, "world"):
            return
        for team in TEAMS:
            members = [p for p in self.people if p.team == team]
            for period, days in (("all", None), ("30d", 30), ("7d", 7)):
                response = self.app.client.get(
                    f"/api/leaderboard?teamId={team}&period={period}", headers=self.app.admin()
                )
                assert response.status_code == 200, response.text
                entries = response.json()["entries"]
                since = (
                    None
                    if days is None
                    else (self.world.now - timedelta(days=days - 1)).date().isoformat()
                )
                expected = sorted(
                    (
                        -sum(a for a, day in p.awards.values() if since is None or day >= since),
                        p.name,
                        p.uid,
                    )
                    for p in members
                )
                got = [(-e["xp"], e["name"], e["userId"]) for e in entries]
                assert got == expected, (team, period, got, expected)
                assert [e["rank"] for e in entries] == list(range(1, len(entries) + 1))

    @staticmethod
    def iso(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def in_flight(
    app: Cohort,
    calls: list[tuple[dict[str, str], dict[str, str], str, dict[str, Any]]],
    yielding: bool = False,
) -> list[httpx.Response]:
    """POST (cookies, headers, url, body) all at once into the running app, in its event loop.

    With `yielding`, every database call first lets the other requests run, as on D1 where each
    statement is a network round trip and no transaction spans them (tests/test_api_interleaving).
    """
    import asyncio

    asgi = app.client.app
    api = next(
        r.endpoint.__self__
        for r in asgi.routes  # type: ignore[attr-defined]
        if isinstance(getattr(r, "endpoint", None), MethodType)
        and isinstance(r.endpoint.__self__, Api)
    )
    db = api.db
    execute, batch = db.execute, db.batch

    async def execute_later(statement: Any) -> Any:
        await asyncio.sleep(0)
        return await execute(statement)

    async def batch_later(statements: Any) -> Any:
        await asyncio.sleep(0)
        return await batch(statements)

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=asgi)
        clients = [
            httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies)
            for cookies, _, _, _ in calls
        ]
        if yielding:
            db.execute, db.batch = execute_later, batch_later
        try:
            return list(
                await asyncio.gather(
                    *(
                        client.post(url, json=body, headers=headers)
                        for client, (_, headers, url, body) in zip(clients, calls, strict=True)
                    )
                )
            )
        finally:
            if yielding:
                del db.execute, db.batch  # the class's own methods again
            for client in clients:
                await client.aclose()

    portal = app.client.portal
    assert portal is not None
    return portal.call(go)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


# -- the test ----------------------------------------------------------------------------------


def test_progression_model(tmp_path: Path) -> None:
    Progression.content = make_course(tmp_path / "course", duration=120, unlock="module")
    Progression.workdir = tmp_path
    Progression.manifests = {}
    run_state_machine_as_test(
        Progression,
        settings=settings(
            max_examples=45,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,  # the same cohorts on every run (CI); no example database
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# -- regressions found by the model ------------------------------------------------------------


def test_answer_after_reset_awards_nothing(tmp_path: Path) -> None:
    """Found by the model: enroll, watch the video, admin reset, watch it again.

    XP and badges are earned once (the reset keeps them, the database awards nothing again), but
    the second completion answers `xp: [{"cause": "video:intro", "amount": 10}]` and
    `badges: ["first-video"]`: the player would show XP and a badge that were not awarded.
    """
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        created, browser = app.learner()

        def watch_whole_video() -> dict[str, Any]:
            answer: dict[str, Any] = {}
            for start in range(0, 120, 10):
                body = {
                    "eventId": str(uuid.uuid4()),
                    "stepId": "intro",
                    "intervals": [[start, start + 10]],
                }
                answer = browser.post("/api/video-event", json=body).json()
                app.clock.advance(seconds=5)
            return answer

        first = watch_whole_video()
        assert first["complete"] and first["badges"] == ["first-video"]
        reset = app.client.post(
            "/api/admin/reset", json={"userId": created["userId"]}, headers=app.admin()
        )
        assert reset.status_code == 200
        xp = browser.get("/api/learner").json()["xp"]
        again = watch_whole_video()
        assert again["complete"] is True
        assert browser.get("/api/learner").json()["xp"] == xp, "nothing awarded twice"
        assert (again["xp"], again["badges"]) == ([], []), (
            f"the answer reports awards that were not made: {again['xp']}, {again['badges']}"
        )


def reach_texte(app: Cohort, browser: TestClient) -> None:
    """Watch the intro at 2x and pass quiz-1: the open step is then 'texte' (M2)."""
    for start in range(0, 120, 10):
        body = {"eventId": str(uuid.uuid4()), "stepId": "intro", "intervals": [[start, start + 10]]}
        assert browser.post("/api/video-event", json=body).status_code == 200
        app.clock.advance(seconds=5)
    body = {"eventId": str(uuid.uuid4()), "stepId": "quiz-1", "answers": RIGHT}
    assert browser.post("/api/quiz-submission", json=body).json()["passed"] is True


def test_d1_race_admin_reset_during_lesson_done_keeps_a_completion(tmp_path: Path) -> None:
    """Found by the model, with D1-style interleaving (each statement a round trip).

    A lesson-done and an admin reset in flight together both answer 200. The lesson read the
    learner before the reset and writes after it: `completions` keeps 'texte' while the reset
    put the open step back to 'intro'. The path rule is broken (the open step should follow the
    furthest completion), and once the learner passes quiz-1 again the open step is 'texte', a
    step they completed. Sequentially, the reset would have removed every completion.
    """
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        created, browser = app.learner()
        reach_texte(app, browser)
        cookie = {"sillon_session": browser.cookies["sillon_session"]}
        lesson = {"eventId": str(uuid.uuid4()), "stepId": "texte"}
        responses = in_flight(
            app,
            [
                (cookie, {}, "/api/lesson-done", lesson),
                ({}, app.admin(), "/api/admin/reset", {"userId": created["userId"]}),
            ],
            yielding=True,
        )
        # Either order is a correct outcome: the lesson first (200, then the reset removes its
        # completion) or the reset first (the lesson is then locked, 403). Never both halves.
        lesson_status, reset_status = (r.status_code for r in responses)
        assert (lesson_status in (200, 403), reset_status) == (True, 200), [
            r.text for r in responses
        ]
        progress = app.client.get(
            f"/api/learner?userId={created['userId']}", headers=app.admin()
        ).json()
        assert progress["currentStep"]["id"] == "intro"
        assert query(app.db, "SELECT step_id FROM completions") == [], (
            "a completion written by a request that read the learner before the reset survives it"
        )


def test_d1_race_two_lesson_done_complete_the_step_twice(tmp_path: Path) -> None:
    """Found by the model, with D1-style interleaving: two lesson-done for the open lesson
    (two event ids, e.g. two tabs) both answer `complete` with the day's +5 XP, though the
    database awards it once; sequentially the second answers 409 step_closed and writes nothing.
    """
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        created, browser = app.learner()
        reach_texte(app, browser)
        app.clock.advance(days=1)  # a new learning day: the lesson earns +5
        xp = browser.get("/api/learner").json()["xp"]
        cookie = {"sillon_session": browser.cookies["sillon_session"]}
        calls = [
            (cookie, {}, "/api/lesson-done", {"eventId": str(uuid.uuid4()), "stepId": "texte"})
            for _ in range(2)
        ]
        responses = in_flight(app, calls, yielding=True)
        answered = sum(
            award["amount"] for r in responses if r.status_code == 200 for award in r.json()["xp"]
        )
        assert browser.get("/api/learner").json()["xp"] == xp + 5, "the database awards once"
        assert answered == 5, f"the answers announce {answered} XP for 5 awarded"
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
