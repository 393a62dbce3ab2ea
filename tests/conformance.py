"""One scripted cohort run through the real API on any storage backend, recording everything.

Run it on SQLite and on D1 (wrangler's local D1 behind the REST `query` contract): the answers,
the final tables and the statements executed must be identical.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from testclock import ADMIN, Clock

from api import auth, gate, sql
from api.app import Api, Settings, application, publish_manifest
from api.learning import iso
from api.lrs import Forwarder, LrsConfig
from api.storage import Database, Result, Statement
from api.tally import hidden_token, sign_webhook

TABLES = [
    "course_versions",
    "learners",
    "sessions",
    "completions",
    "module_completions",
    "video_views",
    "quiz_attempts",
    "events",
    "learner_badges",
    "xp_logs",
    "xp_history",
    "guards",
    "cohort",
    "xapi_statements",
]


class Recording:
    """Wraps a backend: remembers every statement and its result (rows and changes)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.name = db.name
        self.log: list[tuple[str, tuple[Any, ...], list[dict[str, Any]], int]] = []
        self.request = "setup"
        # per request: [statements, rows read, rows written] as the backend's meta reports them
        self.meters: list[tuple[str, list[int]]] = []

    def begin(self, request: str) -> None:
        self.request = request
        self.meters.append((request, [0, 0, 0]))

    def _count(self, result: Result) -> None:
        if self.meters:
            meter = self.meters[-1][1]
            meter[0] += 1
            meter[1] += result.rows_read or 0
            meter[2] += result.rows_written or 0

    async def execute(self, statement: Statement) -> Result:
        result = await self.db.execute(statement)
        self.log.append((statement.sql, statement.params, result.rows, result.changes))
        self._count(result)
        return result

    async def batch(self, statements: list[Statement]) -> list[Result]:
        results = await self.db.batch(statements)
        for statement, result in zip(statements, results, strict=True):
            self.log.append((statement.sql, statement.params, result.rows, result.changes))
            self._count(result)
        return results


@contextmanager
def deterministic_ids() -> Iterator[None]:
    """Learner ids and tokens from counters, so two runs can be compared byte for byte."""
    counter = itertools.count(1)
    saved = auth.new_learner_id, auth.new_token
    auth.new_learner_id = lambda: f"u_{next(counter):04d}"  # type: ignore[assignment]
    auth.new_token = lambda: f"token-{next(counter):04d}"  # type: ignore[assignment]
    try:
        yield
    finally:
        auth.new_learner_id, auth.new_token = saved  # type: ignore[assignment]


async def run(db: Database, manifest: str) -> dict[str, Any]:
    """The scenario: every endpoint that writes, reads or awards, in a fixed order."""
    clock = Clock()
    recording = Recording(db)
    api = Api(
        Settings(db_path=":unused:", admin_token=ADMIN, tally_secret="t", secret="s" * 32),
        recording,
        clock,
    )  # type: ignore[arg-type]
    app = application(api)
    answers: list[Any] = []
    admin = {"Authorization": f"Bearer {ADMIN}"}
    await publish_manifest(recording, manifest, iso(clock()))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def call(method: str, url: str, **options: Any) -> Any:
            recording.begin(f"{method} {url}")
            response = await client.request(method, url, **options)
            body = response.json() if response.content else None
            answers.append([method, url, response.status_code, body])
            return body

        ada = await call(
            "POST",
            "/api/admin/learners",
            json={"name": "Ada", "email": "ada@example.org", "teamId": "blue"},
            headers=admin,
        )
        bob = await call(
            "POST",
            "/api/admin/learners",
            json={"name": "Bob", "email": "bob@example.org", "teamId": "blue"},
            headers=admin,
        )
        await call(
            "POST",
            "/api/admin/learners",
            json={"name": "Ada", "email": "ada@example.org", "teamId": "blue"},
            headers=admin,
        )
        await call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
        await call("GET", "/api/learner")
        actions = {  # what the player says of some reports (xAPI's played, paused, seeked)
            0: {"action": "played", "time": 0},
            50: {"action": "paused", "time": 60},
            60: {"action": "seeked", "timeFrom": 60, "timeTo": 30},
        }
        for second in range(0, 120, 10):
            await call(
                "POST",
                "/api/video-event",
                json={
                    "eventId": f"video-{second:04d}",
                    "stepId": "intro",
                    "intervals": [[second, second + 10]],
                    **actions.get(second, {}),
                },
            )
            clock.advance(seconds=5)
        await call(
            "POST",
            "/api/video-event",
            json={"eventId": "video-0000", "stepId": "intro", "intervals": [[0, 10]]},
        )
        await call(
            "POST",
            "/api/quiz-submission",
            json={"eventId": "quiz-0001", "stepId": "quiz-1", "answers": [0, [0]]},
        )
        await call(
            "POST",
            "/api/quiz-submission",
            json={"eventId": "quiz-0002", "stepId": "quiz-1", "answers": [1, [0, 2]]},
        )
        await call("POST", "/api/lesson-done", json={"eventId": "lesson-0001", "stepId": "texte"})
        await call("GET", "/api/tally-link?stepId=final")
        await call("GET", "/api/playback?stepId=intro")
        token = hidden_token("s" * 32, ada["userId"], "final", clock().timestamp())
        hook = tally_webhook(token, 100, "r1")
        await call(
            "POST",
            "/api/tally-hook",
            content=hook,
            headers={
                "Content-Type": "application/json",
                "Tally-Signature": sign_webhook("t", hook),
            },
        )
        page = await call("GET", "/api/xapi/statements?limit=4", headers=admin)
        await call("GET", page["more"], headers=admin)
        await call("GET", "/api/xapi/statements?since=2026-11-24T09:01:00Z", headers=admin)
        forwarder = Forwarder(
            recording,  # type: ignore[arg-type]
            LrsConfig("http://lrs.test/xapi", "sillon", "secret"),
            client=httpx.AsyncClient(transport=httpx.ASGITransport(app=stand_in_lrs())),
            now=clock,
        )
        recording.begin("LRS forward")
        answers.append(["LRS", "forward", await forwarder.flush(), forwarder.rejected])
        clock.advance(days=9)
        await call("GET", "/api/learner")
        await call("GET", "/api/leaderboard?period=7d")
        await call("GET", "/api/leaderboard?period=30d")
        await call("GET", "/api/leaderboard?period=all")
        await call("GET", f"/api/learner?userId={bob['userId']}", headers=admin)
        # Cohort insight: the teams, the versions, a team's figures, its learners as CSV.
        await call("GET", "/api/admin/teams", headers=admin)
        await call("GET", "/api/admin/versions", headers=admin)
        await call("GET", "/api/admin/insight?teamId=blue", headers=admin)
        recording.begin("GET /api/admin/insight.csv")
        sheet = await client.get("/api/admin/insight.csv?teamId=blue&table=learners", headers=admin)
        answers.append(["GET", "/api/admin/insight.csv", sheet.status_code, sheet.text])
        await call("POST", "/api/admin/reset", json={"userId": ada["userId"]}, headers=admin)
        await call("GET", "/api/learner")
        await call("DELETE", "/api/session")
        await call("GET", "/api/learner")
        health = await call("GET", "/api/health")
        health["database"] = "(the backend's name)"  # the one answer that names the backend
        # Statements the HTTP API does not reach on its own: the handout gate and the CLI's list.
        await call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/kms/M1/fiche.html",
            "headers": [(b"cookie", f"sillon_session={auth_cookie(client)}".encode())],
            "query_string": b"",
        }
        refused = await gate.check(api, Request(scope), "kms/M1/fiche.html")
        answers.append(
            ["GATE", "/kms/M1/fiche.html", refused.status_code if refused else 200, None]
        )
        answers.append(
            [
                "CLI",
                "list",
                200,
                [r["id"] for r in (await recording.execute(sql.all_learners())).rows],
            ]
        )
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in TABLES:
        rows = (await db.execute(Statement(f"SELECT * FROM {name}"))).rows
        tables[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
    return {"answers": answers, "tables": tables, "log": recording.log, "meters": recording.meters}


def stand_in_lrs() -> Starlette:
    """An in-process stand-in for an external LRS (none can run here): takes statement batches,
    refuses any batch holding a `failed` statement (400), as a strict LRS may."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def statements(request: Request) -> JSONResponse:
        batch = json.loads(await request.body())
        if any(s["verb"]["id"].endswith("/failed") for s in batch):
            return JSONResponse({"error": "refused"}, status_code=400)
        return JSONResponse([s["id"] for s in batch])

    return Starlette(routes=[Route("/xapi/statements", statements, methods=["POST"])])


def statement_functions() -> set[str]:
    """Every statement-building function of api/sql.py."""
    import inspect

    return {
        name
        for name, value in inspect.getmembers(sql, inspect.isfunction)
        if value.__module__ == sql.__name__ and not name.startswith("_")
    }


def auth_cookie(client: httpx.AsyncClient) -> str:
    return str(client.cookies.get(auth.COOKIE))


@contextmanager
def counting_statements() -> Iterator[set[str]]:
    """Record which functions of api/sql.py build the statements that run."""
    called: set[str] = set()
    originals = {name: getattr(sql, name) for name in statement_functions()}

    def wrap(name: str, function: Any) -> Any:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            called.add(name)
            return function(*args, **kwargs)

        return recorded

    for name, function in originals.items():
        setattr(sql, name, wrap(name, function))
    try:
        yield called
    finally:
        for name, function in originals.items():
            setattr(sql, name, function)


# Doubles that only an exact text round trip gives back bit for bit (the insight's medians).
EXACT_SECONDS = [1 / 3, 0.1 + 0.2, 60.123, 86519.999, 2.0**-30, 1e15 + 0.5, 5e-324, 0.0]


def timed_completions(seconds: list[float]) -> list[Statement]:
    """A learner of team blue per time, each with one timed completion of step 'lire'."""
    learners = [
        Statement(
            "INSERT INTO learners (id, name, email, team_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (f"u{n}", "N", f"u{n}@x", "blue", "t"),
        )
        for n in range(len(seconds))
    ]
    return learners + [
        Statement(
            "INSERT INTO completions (learner_id, step_id, kind, module_id, completed_at, "
            "team_id, seconds) VALUES (?, 'lire', 'lesson', 'M1', 't', 'blue', ?)",
            (f"u{n}", value),
        )
        for n, value in enumerate(seconds)
    ]


def tally_webhook(token: str, score: float, response_id: str) -> bytes:
    """The body Tally's webhook sends for a response (Tally's servers cannot run here): the
    signed hidden field and a calculated score, as the Sillon form defines them."""
    fields = [
        {"label": "sillon", "type": "HIDDEN_FIELDS", "value": token},
        {"label": "score", "type": "CALCULATED_FIELDS", "value": score},
    ]
    body = {
        "eventType": "FORM_RESPONSE",
        "data": {"responseId": response_id, "formId": "wMx9Qd", "fields": fields},
    }
    return json.dumps(body).encode()
