"""One scripted cohort run through the real API on any storage backend, recording everything.

Run it on SQLite, on D1 (wrangler's local D1 behind the REST `query` contract) and inside the
Worker's Pyodide on its D1 binding (tests/runtime/conformance_d1.py imports this module there,
so it imports only the API, support.clock and support.tally): the answers, the final tables
and the statements executed must be identical.

Certificates are signed with one issuer key on every runtime (the host makes it once per test
session and hands its PEM to the Pyodide run, as it hands the manifest): RSASSA-PKCS1-v1_5 is
deterministic, so with the certificate's draws fixed (`deterministic_ids`) each credential is
the same compact JWS everywhere.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from api import auth, certificates, gate, quiz, sql
from api.app import Api, application, publish_manifest
from api.clock import iso
from api.issuer import STATUS_LIST, STATUS_LIST_SIZE
from api.jws import IssuerKey
from api.lrs import Forwarder, LrsConfig
from api.settings import Settings
from api.storage import Database, Result, Statement
from api.tally import hidden_token, sign_webhook
from support.clock import ADMIN, Clock
from support.tally import tally_webhook

TABLES = [
    "course_versions",
    "learners",
    "sessions",
    "signin_links",
    "completions",
    "module_completions",
    "video_views",
    "quiz_attempts",
    "quiz_draws",
    "events",
    "learner_badges",
    "xp_logs",
    "xp_history",
    "guards",
    "cohort",
    "xapi_statements",
    "notes",
    "certificates",
]


class Recording:
    """Wraps a backend: remembers every statement and its result (rows and changes)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.name = db.name
        self.log: list[tuple[str, tuple[Any, ...], list[dict[str, Any]], int]] = []
        self.request = "setup"
        # per request: [statements, rows read, rows written] as the backend's meta reports them,
        # and the database calls (an execute or a batch: one round trip each on D1)
        self.meters: list[tuple[str, list[int]]] = []

    def begin(self, request: str) -> None:
        self.request = request
        self.meters.append((request, [0, 0, 0, 0]))

    def _call(self) -> None:
        if self.meters:
            self.meters[-1][1][3] += 1

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
        self._call()
        return result

    async def check_writes(self, probe: Statement) -> str | None:
        return await self.db.check_writes(probe)  # a probe, not part of the scenario's log

    def lagging(self) -> Recording:
        """The wrapped database's lagging view (a D1 session on the Worker), recorded into the
        same log and meters."""
        view = Recording(self.db.lagging())
        view.log, view.meters, view.request = self.log, self.meters, self.request
        return view

    async def batch(self, statements: list[Statement], wait: float | None = None) -> list[Result]:
        results = await self.db.batch(statements, wait)
        for statement, result in zip(statements, results, strict=True):
            self.log.append((statement.sql, statement.params, result.rows, result.changes))
            self._count(result)
        self._call()
        return results


@contextmanager
def deterministic_ids() -> Iterator[None]:
    """Learner ids and tokens from counters, quiz draws and certificates' status indexes from
    seeded generators, so two runs can be compared byte for byte."""
    counter = itertools.count(1)
    saved = auth.new_learner_id, auth.new_token
    drawing = quiz.DRAWS, quiz.new_draw_id
    issuing = (
        certificates.new_certificate_id,
        certificates.new_subject_id,
        certificates.new_status_index,
        certificates.new_salt,
    )
    auth.new_learner_id = lambda: f"u_{next(counter):04d}"  # type: ignore[assignment]
    auth.new_token = lambda: f"token-{next(counter):04d}"  # type: ignore[assignment]
    quiz.DRAWS = random.Random(14)
    quiz.new_draw_id = lambda: f"draw-{next(counter):04d}"
    indexes = random.Random(17)  # Mersenne Twister: the same draws on CPython and Pyodide
    certificates.new_certificate_id = lambda: f"00000000-0000-4000-8000-{next(counter):012d}"
    certificates.new_subject_id = lambda: f"00000000-0000-4000-9000-{next(counter):012d}"
    certificates.new_status_index = lambda: indexes.randrange(STATUS_LIST_SIZE)
    certificates.new_salt = lambda: f"{next(counter):032x}"
    try:
        yield
    finally:
        auth.new_learner_id, auth.new_token = saved  # type: ignore[assignment]
        quiz.DRAWS, quiz.new_draw_id = drawing
        (
            certificates.new_certificate_id,
            certificates.new_subject_id,
            certificates.new_status_index,
            certificates.new_salt,
        ) = issuing


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
# What the player says of some reports (xAPI's played, paused, seeked), by second of media.
ACTIONS: dict[int, dict[str, Any]] = {
    0: {"action": "played", "time": 0},
    50: {"action": "paused", "time": 60},
    60: {"action": "seeked", "timeFrom": 60, "timeTo": 30},
}


async def run(db: Database, manifest: str, key: IssuerKey | None = None) -> dict[str, Any]:
    """The scenario: every endpoint that writes, reads or awards, in a fixed order. `key`
    signs certificates: give every run to be compared the same one (by default, the host's
    one key of this test session)."""
    clock = Clock()
    recording = Recording(db)
    settings = Settings(
        db_path=":unused:",
        admin_token=ADMIN,
        tally_secret="t",
        secret="s" * 32,
        issuer_key=key or session_key(),
    )
    api = Api(settings, recording, clock)  # type: ignore[arg-type]
    await publish_manifest(recording, manifest, iso(clock()))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=application(api))
    agent = {"User-Agent": "Sillon conformance"}  # the same device name on every runtime
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=agent
    ) as client:
        scenario = Scenario(api, recording, client, clock)
        ada, bob = await scenario.enrol()
        await scenario.notes_ahead()
        await scenario.learn()
        await scenario.tally(ada["userId"])
        await scenario.notes_kept()
        await scenario.xapi()
        await scenario.weeks_later(bob["userId"])
        await scenario.insight()
        await scenario.certificates()
        await scenario.reset(ada)
        await scenario.signin(ada)
        await scenario.beyond_http(ada)
        await scenario.draws(manifest)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in TABLES:
        rows = (await db.execute(Statement(f"SELECT * FROM {name}"))).rows
        tables[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
    answers = scenario.answers
    return {"answers": answers, "tables": tables, "log": recording.log, "meters": recording.meters}


class Scenario:
    """The scenario's stages, each a few requests whose answers are recorded in order."""

    def __init__(
        self, api: Api, recording: Recording, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        self.api, self.recording, self.client, self.clock = api, recording, client, clock
        self.answers: list[Any] = []

    async def call(self, method: str, url: str, **options: Any) -> Any:
        """One request, metered and recorded: its JSON answer."""
        self.recording.begin(f"{method} {url}")
        response = await self.client.request(method, url, **options)
        body = response.json() if response.content else None
        self.answers.append([method, url, response.status_code, body])
        return body

    async def admin(self, method: str, url: str, **options: Any) -> Any:
        return await self.call(method, url, headers=ADMIN_HEADERS, **options)

    async def enrol(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Ada and Bob enrolled (and Ada twice: a conflict), Ada signed in."""
        learners = []
        for name in ("Ada", "Bob", "Ada"):
            body = {"name": name, "email": f"{name.lower()}@example.org", "teamId": "blue"}
            learners.append(await self.admin("POST", "/api/admin/learners", json=body))
        ada, bob, _ = learners
        await self.call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
        await self.call("GET", "/api/learner")
        await self.call("GET", "/api/certificate")  # 409: not before the end of the course
        return ada, bob

    async def learn(self) -> None:
        """The video at 2x (played, paused, seeked, one replay), the quiz failed then passed,
        the text lesson, moving on after each, the Tally link and the playback."""
        for second in range(0, 120, 10):
            body = {
                "eventId": f"video-{second:04d}",
                "stepId": "intro",
                "intervals": [[second, second + 10]],
                **ACTIONS.get(second, {}),
            }
            await self.call("POST", "/api/video-event", json=body)
            self.clock.advance(seconds=5)
        replay = {"eventId": "video-0000", "stepId": "intro", "intervals": [[0, 10]]}
        await self.call("POST", "/api/video-event", json=replay)
        await self.move_on("intro")
        for number, answers in ((1, [0, [0]]), (2, [1, [0, 2]])):
            body = {"eventId": f"quiz-{number:04d}", "stepId": "quiz-1", "answers": answers}
            await self.call("POST", "/api/quiz-submission", json=body)
        await self.move_on("quiz-1")
        lesson = {"eventId": "lesson-0001", "stepId": "texte"}
        await self.call("POST", "/api/lesson-done", json=lesson)
        await self.move_on("texte")
        await self.call("GET", "/api/tally-link?stepId=final")
        await self.call("GET", "/api/playback?stepId=intro")

    async def notes_ahead(self) -> None:
        """The notebook on the first step: a note there, none on a step ahead or unknown."""
        await self.call("PUT", "/api/notes/intro", json={"text": "# Intro\n\n- à revoir\n"})
        await self.call("PUT", "/api/notes/quiz-1", json={"text": "la réponse ?"})
        await self.call("PUT", "/api/notes/nowhere", json={"text": "x"})

    async def notes_kept(self) -> None:
        """The course finished: a note on a closed step, one deleted, the notebook read."""
        await self.call("PUT", "/api/notes/quiz-1", json={"text": "Relire les jointures"})
        await self.call("PUT", "/api/notes/texte", json={"text": "brouillon"})
        await self.call("PUT", "/api/notes/texte", json={"text": ""})
        await self.call("GET", "/api/notes")

    async def move_on(self, step: str) -> None:
        """The Next button on a done step."""
        await self.call("POST", "/api/next", json={"eventId": f"next-{step}", "stepId": step})

    async def tally(self, user_id: str) -> None:
        """The Tally quiz scored by its signed webhook, then the end of the course."""
        token = hidden_token("s" * 32, user_id, "final", self.clock().timestamp())
        hook = tally_webhook(token, 100, "r1")
        headers = {"Content-Type": "application/json", "Tally-Signature": sign_webhook("t", hook)}
        await self.call("POST", "/api/tally-hook", content=hook, headers=headers)
        await self.move_on("final")  # the end of the course: its summary
        await self.call("GET", "/api/learner")

    async def xapi(self) -> None:
        """The statements resource paged and filtered, then forwarded to a stand-in LRS."""
        page = await self.admin("GET", "/api/xapi/statements?limit=4")
        await self.admin("GET", page["more"])
        await self.admin("GET", "/api/xapi/statements?since=2026-11-24T09:01:00Z")
        forwarder = Forwarder(
            self.recording,  # type: ignore[arg-type]
            LrsConfig("http://lrs.test/xapi", "sillon", "secret"),
            client=httpx.AsyncClient(transport=httpx.ASGITransport(app=stand_in_lrs())),
        )
        self.recording.begin("LRS forward")
        self.answers.append(["LRS", "forward", await forwarder.flush(), forwarder.rejected])

    async def weeks_later(self, bob: str) -> None:
        """Nine days on: the learner, the leaderboards, Bob as the admin sees him."""
        self.clock.advance(days=9)
        await self.call("GET", "/api/learner")
        for period in ("7d", "30d", "all"):
            await self.call("GET", f"/api/leaderboard?period={period}")
        await self.admin("GET", f"/api/learner?userId={bob}")

    async def insight(self) -> None:
        """Cohort insight: the teams, the versions, a team's figures, its learners as CSV."""
        await self.admin("GET", "/api/admin/teams")
        await self.admin("GET", "/api/admin/versions")
        await self.admin("GET", "/api/admin/insight?teamId=blue")
        self.recording.begin("GET /api/admin/insight.csv")
        url = "/api/admin/insight.csv?teamId=blue&table=learners"
        sheet = await self.client.get(url, headers=ADMIN_HEADERS)
        self.answers.append(["GET", "/api/admin/insight.csv", sheet.status_code, sheet.text])

    async def certificates(self) -> None:
        """The course finished: Ada's certificate issued, then the same one again; the issuer's
        key, profile and revocation list; the certificate revoked (again: 409), the list
        again, the teacher's list, the public link (and an unknown one)."""
        mine = await self.call("GET", "/api/certificate")
        mine["pdfUrl"] = "(serve's PDF; null on the Worker, which has no WeasyPrint)"
        again = await self.call("GET", "/api/certificate")
        again["pdfUrl"] = mine["pdfUrl"]
        await self.call("GET", "/.well-known/jwks.json")
        await self.call("GET", "/.well-known/issuer.json")
        await self.status_list()
        self.clock.advance(minutes=5)
        revoke = f"/api/admin/certificates/{mine['id']}/revoke"
        await self.admin("POST", revoke, json={"reason": "copied the exam"})
        await self.admin("POST", revoke, json={"reason": "twice"})
        await self.status_list()
        await self.admin("GET", "/api/admin/certificates")
        await self.call("GET", f"/api/certificates/{mine['id']}")
        await self.call("GET", "/api/certificates/00000000-0000-4000-8000-000000000000")

    async def status_list(self) -> None:
        """The revocation list: a signed credential (text), recorded as it is: its GZIP bytes
        are the same on every Python (api/issuer.py fixes the header's OS byte, which Python
        3.11 and Pyodide's 3.13 write differently)."""
        self.recording.begin(f"GET {STATUS_LIST}")
        response = await self.client.get(STATUS_LIST)
        seen = {"type": response.headers["content-type"], "credential": response.text}
        self.answers.append(["GET", STATUS_LIST, response.status_code, seen])

    async def reset(self, ada: dict[str, Any]) -> None:
        """Ada reset by the admin, then signed out; the health check."""
        await self.admin("POST", "/api/admin/reset", json={"userId": ada["userId"]})
        await self.call("GET", "/api/learner")
        await self.call("DELETE", "/api/session")
        await self.call("GET", "/api/learner")
        health = await self.call("GET", "/api/health")
        health["database"] = "(the backend's name)"  # the one answer that names the backend

    async def signin(self, ada: dict[str, Any]) -> None:
        """Ada's link re-issued (her sessions ended) and used twice (the second is refused);
        a device link opens a second session, the sessions listed, the other one ended."""
        body = {"userId": ada["userId"], "revokeSessions": True}
        again = await self.admin("POST", "/api/admin/invite", json=body)
        for _ in range(2):
            await self.call("POST", "/api/session", json={"inviteToken": again["inviteToken"]})
        link = await self.call("POST", "/api/device-link")
        token = link["url"].split("#", 1)[1]
        await self.call("POST", "/api/session", json={"inviteToken": token})
        await self.call("GET", "/api/sessions")
        await self.call("DELETE", "/api/sessions")

    async def draws(self, manifest: str) -> None:
        """A republish whose first step is quiz-1 drawing one question of two: Dee's attempt
        drawn (twice the same), answered as shown and failed, drawn anew and passed."""
        course = json.loads(manifest)
        drawing = next(s for s in course["steps"] if s["id"] == "quiz-1")
        course["steps"] = [{**drawing, "draw": 1}, *course["steps"]]
        course["steps"] = [s for n, s in enumerate(course["steps"]) if n == 0 or s is not drawing]
        course["version"] = course["version"][:16] + "-drawing"
        await self.admin("POST", "/api/admin/publish", content=json.dumps(course))
        body = {"name": "Dee", "email": "dee@example.org", "teamId": "blue"}
        dee = await self.admin("POST", "/api/admin/learners", json=body)
        self.client.cookies.clear()
        await self.call("POST", "/api/session", json={"inviteToken": dee["inviteToken"]})
        keys = [q["answer"] for q in drawing["questions"]]
        for number, right in enumerate((False, True)):
            await self.call("GET", "/api/quiz-attempt?stepId=quiz-1")
            shown = (await self.call("GET", "/api/quiz-attempt?stepId=quiz-1"))["questions"][0]
            answer = sorted(shown["choices"].index(c) for c in keys[shown["question"]])
            if not right:
                answer = [c for c in range(len(shown["choices"])) if c not in answer][:1]
            given = answer if drawing["questions"][shown["question"]]["multiple"] else answer[0]
            body = {"eventId": f"draw-{number:04d}", "stepId": "quiz-1", "answers": [given]}
            await self.call("POST", "/api/quiz-submission", json=body)

    async def beyond_http(self, ada: dict[str, Any]) -> None:
        """Statements the HTTP API does not reach on its own: the handout gate, the CLI's list."""
        await self.call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/kms/M1/fiche.html",
            "headers": [(b"cookie", f"sillon_session={auth_cookie(self.client)}".encode())],
            "query_string": b"",
        }
        refused = await gate.check(self.api, Request(scope), "kms/M1/fiche.html")
        status = refused.status_code if refused else 200
        self.answers.append(["GATE", "/kms/M1/fiche.html", status, None])
        listed = (await self.recording.execute(sql.all_learners())).rows
        self.answers.append(["CLI", "list", 200, [r["id"] for r in listed]])
        # A Cloudflare Access learner (no session) seen: what api/context.py writes for them.
        now = self.clock()
        seen = sql.learner_seen(ada["userId"], iso(now), iso(now - timedelta(hours=1)))
        (result,) = await self.recording.batch([seen])
        self.answers.append(["ACCESS", "seen", 200, result.changes])


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
    """Every statement-building function of api/sql.py (and api/sql_signin.py, api/sql_xapi.py
    and api/sql_certificates.py, which it re-exports): the ones that make statements (`S`)."""
    import inspect

    modules = (sql.__name__, "api.sql_signin", "api.sql_xapi", "api.sql_certificates")
    return {
        name
        for name, value in inspect.getmembers(sql, inspect.isfunction)
        if value.__module__ in modules
        and not name.startswith("_")
        and inspect.signature(value).return_annotation in ("S", "list[S]")
    }


def session_key() -> IssuerKey:
    """The host's one issuer key of this test session (support/certified.py makes it once).
    Never made in Pyodide (no `cryptography` there): the host hands its PEM there."""
    from support.certified import issuer_key

    return issuer_key()


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
