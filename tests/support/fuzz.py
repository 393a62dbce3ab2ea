"""What the API fuzzing (tests/test_fuzz.py) sends: a live `serve` of the example course with
learners placed on the steps an operation acts on, a dictionary of real values mixed into the
generated requests, Tally webhooks and mutated manifests, and the boundary seeds sent first.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st

from api.tally import hidden_token
from support.certified import answers_shown
from support.course import ROOT
from support.launch import ADMIN, SECRET, Site, free_port

HUGE = 10**400  # valid JSON, but no float holds it
OPEN = "<the learner's open step>"  # resolved when the request is sent
KEEP = "<the generated body, signed>"
CUT = "<key removed>"
# Where the learner stands while an operation is fuzzed (steps done first, through the API):
# on the first step's video, on a text lesson, or on the first built-in quiz.
POSITION = {"POST /api/lesson-done": 1, "POST /api/quiz-submission": 3}


class Live(Site):
    """`serve` on the example course, with one enrolled learner placed on the first step."""

    def __init__(self, workdir: Path) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        self.addresses = 0
        # A real SMTP server on 127.0.0.1 takes the sign-in emails (POST /api/email-link).
        self.smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
        self.smtp.start()
        self.environment = {
            "SILLON_SMTP_URL": f"smtp://127.0.0.1:{self.smtp.port}",
            "SILLON_SMTP_FROM": "fuzz@example.org",
        }
        super().__init__(workdir, ROOT / "content")
        self.team = "fuzz-team"
        self.manifest = json.loads(
            self.query("SELECT manifest FROM course_versions ORDER BY seq DESC LIMIT 1")[0][0]
        )
        self.email = f"fuzz-{uuid.uuid4().hex[:8]}@example.org"
        self.user_id, self.invite = self.enroll_email(self.email)
        self.current, self.current_invite = self.user_id, self.invite
        self.cookie = self.sign_in(self.invite)
        self.place(self.cookie)

    def address(self) -> dict[str, str]:
        """A new client address per request (uvicorn trusts X-Forwarded-For from 127.0.0.1).

        The abuse limits bucket requests per address; one address for all of them would answer
        most admin and session requests 429 before their handler runs.
        """
        self.addresses += 1
        n = self.addresses
        return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}

    def call(
        self, method: str, path: str, cookie: str | None = None, **options: Any
    ) -> httpx.Response:
        """One request from a new client address, with the learner's session cookie if given."""
        headers = {**options.pop("headers", {}), **self.address()}
        cookies = {"sillon_session": cookie} if cookie else None
        return httpx.request(
            method, self.url + path, headers=headers, cookies=cookies, timeout=10, **options
        )

    def enroll_email(self, email: str) -> tuple[str, str]:
        created = self.call(
            "POST",
            "/api/admin/learners",
            json={"name": "Fuzz", "email": email, "teamId": self.team},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert created.status_code == 201, created.text
        return created.json()["userId"], created.json()["inviteToken"]

    def sign_in_again(self) -> None:
        """A link works once: after a sign-out (or a fuzzed re-issue that ended the learner's
        sessions), the admin re-issues the current learner's link and they open it."""
        again = self.call(
            "POST",
            "/api/admin/invite",
            json={"userId": self.current},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert again.status_code == 201, again.text
        self.current_invite = again.json()["inviteToken"]
        self.cookie = self.sign_in(self.current_invite)

    def stop(self) -> None:
        super().stop()
        self.smtp.stop()

    def sign_in(self, invite: str) -> str:
        response = self.call("POST", "/api/session", json={"inviteToken": invite})
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("sillon_session")
        assert cookie
        return cookie

    def enroll_at(self, position: int) -> str:
        """A new signed-in learner who finished the first `position` steps; their cookie."""
        self.current, invite = self.enroll_email(f"fuzz-{uuid.uuid4().hex[:8]}@example.org")
        self.current_invite = invite
        cookie = self.sign_in(invite)
        for step in self.manifest["steps"][:position]:
            body: dict[str, Any] = {"eventId": str(uuid.uuid4()), "stepId": step["id"]}
            if step.get("video"):
                path, body["intervals"] = "/api/video-event", [[0, step["video"]["duration"]]]
            elif step["kind"] == "quiz":
                path = "/api/quiz-submission"
                body["answers"] = self.right_answers(step, cookie)
            else:
                path = "/api/lesson-done"
            done = self.call("POST", path, cookie, json=body)
            assert done.status_code == 200, done.text
            if path == "/api/video-event" and done.json()["completesIn"]:
                time.sleep(done.json()["completesIn"] + 0.05)  # too soon for 2x: report again
                body["eventId"], body["intervals"] = str(uuid.uuid4()), []
                done = self.call("POST", path, cookie, json=body)
                assert done.json()["complete"] is True, done.text
            move = {"eventId": str(uuid.uuid4()), "stepId": step["id"]}  # the step stays open
            assert self.call("POST", "/api/next", cookie, json=move).status_code == 200
        assert self.place(cookie) == self.manifest["steps"][position]["id"]
        return cookie

    def right_answers(self, step: dict[str, Any], cookie: str) -> list[Any]:
        """The right answers of a quiz, in the positions shown (a drawing quiz: its draw)."""
        url = f"/api/quiz-attempt?stepId={step['id']}"
        return answers_shown(step, lambda: self.call("GET", url, cookie).json())

    def place(self, cookie: str) -> str:
        """The learner's open step, as GET /api/learner tells it (and places a new learner)."""
        answer = self.call("GET", "/api/learner", cookie)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["currentStep"]["id"])

    def open_step(self) -> str | None:
        rows = self.query(f"SELECT open_step FROM learners WHERE id = '{self.current}'")
        return str(rows[0][0]) if rows and rows[0][0] else None

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return db.execute(statement).fetchall()

    def row_counts(self) -> dict[str, int]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            tables = [
                name
                for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def dictionary(live: Live) -> dict[str, st.SearchStrategy[Any]]:
    """Real values that replace a generated field of the same name about half of the time."""
    steps = [s["id"] for s in live.manifest["steps"]]
    media = [s["video"]["url"].lstrip("/") for s in live.manifest["steps"] if s.get("video")]
    kms = [
        p["url"].lstrip("/") for p in live.manifest["kms"]["pages"] + live.manifest["kms"]["files"]
    ]
    choices = st.integers(min_value=-1, max_value=4)
    return {
        "stepId": st.one_of(st.just(OPEN), st.sampled_from(steps)),
        "path": st.sampled_from([*(f"steps/{s}.html" for s in steps), *media, *kms, "kms"]),
        "userId": st.just(live.user_id),
        "inviteToken": st.just(live.invite),
        "teamId": st.just(live.team),
        "email": st.just(live.email),
        "eventId": st.sampled_from(["fuzz-event-0001", "fuzz-event-0002"]),
        "intervals": st.lists(st.lists(BOUNDARIES, min_size=2, max_size=2), max_size=3),
        "answers": st.lists(
            st.one_of(choices, BOUNDARIES, st.lists(choices, max_size=4)), max_size=6
        ),
    }


BOUNDARIES = st.sampled_from([0, -0.0, 4.5, 9, 100, 1e308, -1e308, HUGE, -HUGE])
JSON_VALUES = st.one_of(
    BOUNDARIES,
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def tally_payload(live: Live) -> st.SearchStrategy[Any]:
    """The generated body signed, or a FORM_RESPONSE webhook with a hidden field and a score."""
    steps = [s["id"] for s in live.manifest["steps"]]
    forms = ["", "wrong-form", *(s["tally"] for s in live.manifest["steps"] if s.get("tally"))]
    signed = st.sampled_from(steps).map(
        lambda step: hidden_token(SECRET, live.user_id, step, time.time())
    )
    forged = st.lists(st.text(max_size=8), min_size=4, max_size=4).map(".".join)
    scores = st.one_of(BOUNDARIES, JSON_VALUES, st.floats(allow_nan=False), st.integers())

    def field_(kind: str, label: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries(
            {"type": st.just(kind), "label": st.just(label), "value": value}
        )

    fields = st.tuples(
        field_("HIDDEN_FIELDS", "sillon", st.one_of(signed, forged)),
        field_("CALCULATED_FIELDS", "score", scores),
        st.one_of(st.none(), field_("CALCULATED_FIELDS", "max_score", scores)),
    ).map(lambda f: [x for x in f if x is not None])
    webhook = st.fixed_dictionaries(
        {
            "eventType": st.just("FORM_RESPONSE"),
            "data": st.fixed_dictionaries(
                {
                    "responseId": st.text(min_size=1, max_size=12),
                    "formId": st.sampled_from(forms),
                    "fields": fields,
                }
            ),
        }
    )
    return st.one_of(st.just(KEEP), webhook)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of a JSON document, containers included."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutate(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of the document with one value replaced (or its key removed)."""
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if value == CUT and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def manifest_payload(live: Live) -> st.SearchStrategy[Any]:
    """The published manifest with one value replaced by another JSON value, or removed."""
    return st.tuples(
        st.sampled_from(list(paths(live.manifest))), st.one_of(st.just(CUT), JSON_VALUES)
    ).map(lambda change: mutate(live.manifest, *change))


def realistic(live: Live, case: Any, overrides: dict[str, Any]) -> None:
    """Put dictionary values in the generated body and query, where the names match."""
    for name, value in overrides.items():
        if value is None:
            continue
        if value == OPEN:
            value = live.open_step()
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value
        if isinstance(case.query, dict) and name in case.query:
            case.query[name] = value


def seeds(live: Live) -> dict[str, list[dict[str, Any]]]:
    """Boundary requests sent before each operation's generated ones (a fuzzer's seed corpus).

    JSON carries integers of any size; the API must refuse those no float can hold, not fail.
    A manifest is an admin's upload, but a malformed one is still a 422, not a 500.
    """
    quiz = next(s for s in live.manifest["steps"] if s.get("questions"))
    token = hidden_token(SECRET, live.user_id, quiz["id"], time.time())
    return {
        "POST /api/video-event": [
            event(intervals=[[0, HUGE]]),
            event(intervals=[[-HUGE, 1]]),
            event(intervals=[[0, 1e308]]),
        ],
        "POST /api/quiz-submission": [
            event(answers=[HUGE] * len(quiz["questions"])),
            event(answers=[[HUGE, -HUGE]] * len(quiz["questions"])),
        ],
        "POST /api/lesson-done": [event(), {"body": {"eventId": HUGE, "stepId": OPEN}}],
        "POST /api/tally-hook": [
            {"payload": webhook(token, HUGE)},
            {"payload": webhook(token, 50, HUGE)},
            {"payload": webhook(token, 1e308, 1e-308)},
        ],
        "POST /api/admin/publish": manifest_seeds(live.manifest),
        "POST /api/admin/learners": [
            {"body": {"name": "Seed", "email": "seed@example.org", "teamId": "t", "tz": HUGE}}
        ],
        "GET /api/leaderboard": [{"query": {"period": "all", "teamId": "\u0000"}}],
    }


def event(**fields: Any) -> dict[str, Any]:
    """A seed: an event on the learner's open step, with these fields."""
    return {"body": {"eventId": str(uuid.uuid4()), "stepId": OPEN, **fields}}


def webhook(token: str, score: Any, most: Any = None) -> dict[str, Any]:
    """A FORM_RESPONSE webhook: the signed hidden field, a score, and a max score if given."""
    fields = [
        {"type": "HIDDEN_FIELDS", "label": "sillon", "value": token},
        {"type": "CALCULATED_FIELDS", "label": "score", "value": score},
    ]
    if most is not None:
        fields.append({"type": "CALCULATED_FIELDS", "label": "max_score", "value": most})
    data = {"responseId": uuid.uuid4().hex, "formId": "", "fields": fields}
    return {"eventType": "FORM_RESPONSE", "data": data}


def manifest_seeds(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Uploads that are no manifest, and the published one with a value no manifest holds."""
    video = next(n for n, s in enumerate(manifest["steps"]) if s.get("video"))
    return [
        *({"body": value} for value in ([], "manifest", 1, True)),
        {"body": mutate(manifest, ("completion",), HUGE)},
        {"body": mutate(manifest, ("steps", video, "video", "duration"), HUGE)},
        {"body": mutate(manifest, ("steps", 0, "id"), ["not", "a", "string"])},
        *({"body": mutate(manifest, ("version",), value)} for value in (None, [], {})),
    ]
