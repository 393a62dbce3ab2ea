"""The reference model of tests/test_model.py: what each learner legitimately did, written from
the README's rules, and what the server must answer to each request.

It reads the course as a manifest says it (and three republishes of it), keeps per learner the
completions, accepted video intervals, quiz attempts, answered event ids, XP awards (one per
cause) and badges the rules allow, and predicts every answer: its status and error code, its
fields, the README's abuse limits (429), and its `xp` and `badges` (at least what was awarded,
nothing never awarded). Pure Python: no fixtures, no app; support.model_world plays requests.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,99}$")
SESSION = timedelta(days=30)  # after the session's last use
SEEN_EVERY = timedelta(hours=1)  # the server writes a session's last use at most this often

# What the README promises, written down once for the model.
COMPLETION, MAX_RATE, GRACE, SLACK = 0.95, 2.0, 10.0, 1.0
COMPLETION_SLACK = 4.0  # a video completes no sooner than required/MAX_RATE less this
XP_VIDEO, XP_QUIZ, XP_PERFECT, XP_MODULE, XP_DAY = 10, 50, 25, 100, 5
# README, "Quizzes": the gate's defaults (failures before the cooldown, the waits in seconds).
ATTEMPTS, COOLDOWN = 3, (60.0, 300.0, 1800.0, 7200.0)
# README, "Abuse limits": (name, burst, per minute); buckets per address or per session.
SESSION_LIMIT, EVENTS_LIMIT = ("session", 60, 30), ("events", 240, 120)
FAILURES_LIMIT, LINK_LIMIT = ("session-failures", 10, 6), ("link", 5, 2)  # per address, token
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
    feedback: str = "score"
    attempts: int = ATTEMPTS
    cooldown: tuple[float, ...] = COOLDOWN

    def wait_after(self, failed: int) -> float:
        """README, "Quizzes": the wait after the `failed`-th failure since the last pass."""
        if failed < self.attempts:
            return 0.0
        return self.cooldown[min(failed - self.attempts, len(self.cooldown) - 1)]


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

    def open_for(self, completed: set[str], current: str | None = None) -> str | None:
        """README, "the path rule after a republish": a done step not yet left (`current`)
        stays open while it is the furthest one completed."""
        ids = [s.id for s in self.steps]
        furthest = max((ids.index(s) for s in completed if s in ids), default=-1)
        if current in completed and current in ids and ids.index(current) == furthest:
            return current
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
                    feedback=entry.get("feedback", "score"),
                    attempts=entry.get("attempts", ATTEMPTS),
                    cooldown=tuple(entry.get("cooldown", COOLDOWN)),
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
    seen_at: datetime | None = None  # the session's last use, as the server wrote it
    spent: dict[str, str] = field(default_factory=dict)  # dead links: token -> their 410 code
    open: str | None = None
    completed: dict[str, str] = field(default_factory=dict)  # step id -> kind when completed
    modules: set[str] = field(default_factory=set)
    views: dict[str, tuple[list[tuple[float, float]], datetime]] = field(default_factory=dict)
    attempts: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    tries: dict[str, list[tuple[datetime, bool]]] = field(default_factory=dict)  # step: (at, pass)
    events: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # in `events`
    # Next's answered, in order (not in `events`): only the last one's replay is recognized,
    # from the learner's row (learners.last_move); an older one is decided as a new event.
    moves: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
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
                given = keys(got)
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


def keys(items: list[Any]) -> set[str]:
    """Awards or badges as comparable keys (an award is a dict)."""
    return {json.dumps(item, sort_keys=True) for item in items}


def union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The seconds the intervals cover, as sorted disjoint intervals (empty ones dropped)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            first, last = merged.pop()
            start, end = first, max(last, end)
        merged.append((start, end))
    return merged


def length(intervals: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in intervals)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def iso(moment: datetime) -> str:
    """A moment as the server stores it: ISO text in milliseconds, UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
