"""The Python Worker entry (api/worker.py) and the D1 binding backend.

Python Workers cannot run offline here (workerd downloads its Pyodide bundle at start-up), so
these tests put STAND-INS for the runtime's modules (`workers`, `asgi`, `js`, `pyodide.ffi`) and
for the bindings (`env.DB` over a real SQLite file, `env.ASSETS` over the built site) in place.
Everything of ours runs for real: the Starlette app, the gate, the D1 binding adapter. The real
runtime is exercised by `wrangler deploy --dry-run` (test_worker_deploy_dry_run).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apiclient import ADMIN
from conftest import make_course

from api.storage import Statement
from builder.config import BuildConfig
from builder.pipeline import build


class JsException(Exception):
    pass


class StandInResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @classmethod
    def new(cls, body: bytes, options: dict[str, Any]) -> StandInResponse:
        return cls(options["status"], dict(options["headers"]), body)


class StandInRequest:
    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.url, self.method, self.headers, self.body = url, method, headers or {}, body

    @classmethod
    def new(cls, url: str, like: StandInRequest) -> StandInRequest:
        return cls(url, like.method, dict(like.headers), like.body)


async def asgi_fetch(app: Any, request: StandInRequest, env: Any) -> StandInResponse:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.request(
            request.method, request.url, headers=request.headers, content=request.body
        )
    return StandInResponse(
        response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
    )


class StandInFetchResponse:
    def __init__(self, status: int, text: str) -> None:
        self.status, self._text = status, text

    async def text(self) -> str:
        return self._text


async def stand_in_fetch(url: str, init: dict[str, Any]) -> StandInFetchResponse:
    """The runtime's fetch, over a real HTTP client (the LRS stand-in is on 127.0.0.1)."""
    async with httpx.AsyncClient() as client:
        response = await client.request(
            init["method"], url, headers=init["headers"], content=init["body"].encode()
        )
    return StandInFetchResponse(response.status_code, response.text)


class StandInStatement:
    def __init__(self, db: StandInD1, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.db, self.sql, self.params = db, sql, params

    def bind(self, *params: Any) -> StandInStatement:
        return StandInStatement(self.db, self.sql, params)

    async def all(self) -> dict[str, Any]:
        return self.db.run([self])[0]


class StandInD1:
    """env.DB: prepare/bind/all/batch over a real SQLite file, errors as D1 raises them."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.executescript((Path(__file__).parent.parent / "schema.sql").read_text())

    def prepare(self, sql: str) -> StandInStatement:
        return StandInStatement(self, sql)

    async def batch(self, statements: list[StandInStatement]) -> list[dict[str, Any]]:
        return self.run(statements)

    def run(self, statements: list[StandInStatement]) -> list[dict[str, Any]]:
        self.connection.execute("BEGIN")
        try:
            results = []
            for statement in statements:
                cursor = self.connection.execute(statement.sql, statement.params)
                rows = [dict(r) for r in cursor.fetchall()]
                meta = {
                    "changes": max(cursor.rowcount, 0),
                    "last_row_id": cursor.lastrowid,
                    "duration": 0,
                }
                results.append({"results": rows, "success": True, "meta": meta})
        except sqlite3.Error as exc:
            self.connection.execute("ROLLBACK")
            raise JsException(f"D1_ERROR: {exc}") from None
        self.connection.execute("COMMIT")
        return results


class StandInAssets:
    """env.ASSETS: the built site, counting what it was asked for."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.served: list[str] = []

    async def fetch(self, request: StandInRequest) -> StandInResponse:
        path = httpx.URL(request.url).path
        self.served.append(path)
        file = self.site / path.lstrip("/")
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            return StandInResponse(404, {}, b"")
        return StandInResponse(200, {"content-type": "text/html"}, file.read_bytes())


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    workers = types.ModuleType("workers")

    class WorkerEntrypoint:
        def __init__(self, env: Any) -> None:
            self.env = env

    workers.WorkerEntrypoint = WorkerEntrypoint  # type: ignore[attr-defined]
    js = types.ModuleType("js")
    js.Request = StandInRequest  # type: ignore[attr-defined]
    js.Response = StandInResponse  # type: ignore[attr-defined]
    asgi = types.ModuleType("asgi")
    asgi.fetch = asgi_fetch  # type: ignore[attr-defined]
    ffi = types.ModuleType("pyodide.ffi")
    ffi.to_js = lambda value, **options: value  # type: ignore[attr-defined]
    js.Object = types.SimpleNamespace(fromEntries=dict)  # type: ignore[attr-defined]
    js.fetch = stand_in_fetch  # type: ignore[attr-defined]
    ffi.JsException = JsException  # type: ignore[attr-defined]
    ffi.jsnull = None  # type: ignore[attr-defined]
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = ffi  # type: ignore[attr-defined]
    for name, module in {
        "workers": workers,
        "js": js,
        "asgi": asgi,
        "pyodide": pyodide,
        "pyodide.ffi": ffi,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "api.worker", raising=False)
    yield


def course_site(tmp_path: Path) -> BuildConfig:
    config = BuildConfig.make(
        content=make_course(tmp_path / "course", duration=120),
        out=tmp_path / "site",
        disk_cache=False,
    )
    build(config)
    return config


def test_worker_serves_api_and_gates_assets(runtime: None, tmp_path: Path) -> None:
    from api import worker

    config = course_site(tmp_path)
    env = types.SimpleNamespace(
        DB=StandInD1(tmp_path / "d1.sqlite3"),
        ASSETS=StandInAssets(config.out),
        SILLON_ADMIN_TOKEN=ADMIN,
        SILLON_SECRET="s" * 32,
    )
    entry = worker.Default(env)
    base = "https://learn.example.org"

    def call(
        method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> StandInResponse:
        raw = (
            b""
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        all_headers = {"content-type": "application/json", **(headers or {})}
        return asyncio.run(entry.fetch(StandInRequest(base + path, method, all_headers, raw)))

    admin = {"authorization": f"Bearer {ADMIN}"}
    assert json.loads(call("GET", "/api/health").body) == {"ok": True, "database": "sqlite"}
    assert (
        call(
            "POST", "/api/admin/publish", (config.private / "manifest.json").read_bytes(), admin
        ).status
        == 201
    )
    created = json.loads(
        call(
            "POST",
            "/api/admin/learners",
            {"name": "Ada", "email": "ada@example.org", "teamId": "t"},
            admin,
        ).body
    )
    assert created["inviteUrl"].startswith("https://learn.example.org/join/#")
    session = call("POST", "/api/session", {"inviteToken": created["inviteToken"]})
    assert "Secure" in session.headers["set-cookie"], "https: the cookie is Secure"
    cookie = {"cookie": session.headers["set-cookie"].split(";", 1)[0]}

    open_step = call("GET", "/steps/intro.html", headers=cookie)
    assert open_step.status == 200 and b'data-step-id="intro"' in open_step.body
    locked = call("GET", "/steps/quiz-1.html", headers=cookie)
    assert locked.status == 403 and json.loads(locked.body)["error"]["code"] == "step_locked"
    anonymous = call("GET", "/steps/intro.html")
    assert anonymous.status == 401
    browser = {**cookie, "accept": "text/html", "sec-fetch-mode": "navigate"}
    assert call("GET", "/steps/quiz-1.html", headers=browser).status == 303
    handout = call("GET", "/kms/M1/fiche.html", headers=browser)
    assert handout.status == 403 and b"kms-locked" in handout.body, (
        "the locked view, from the assets"
    )
    home = call("GET", "/", headers=cookie)
    assert home.status == 200
    assert "/steps/quiz-1.html" not in env.ASSETS.served, "a refused path never reaches the assets"
    assert "/steps/intro.html" in env.ASSETS.served and "/kms/locked.html" in env.ASSETS.served


def test_worker_d1_binding_backend_runs_the_conformance_scenario(
    runtime: None, tmp_path: Path
) -> None:
    from conformance import deterministic_ids, run

    from api.d1 import D1BindingDatabase
    from api.sqlite import SQLiteDatabase

    config = course_site(tmp_path)
    manifest = (config.private / "manifest.json").read_text()
    with deterministic_ids():
        expected = asyncio.run(run(SQLiteDatabase(tmp_path / "local.sqlite3"), manifest))
    with deterministic_ids():
        actual = asyncio.run(
            run(D1BindingDatabase(StandInD1(tmp_path / "binding.sqlite3")), manifest)
        )
    assert actual["answers"] == expected["answers"] and actual["tables"] == expected["tables"]


def test_worker_d1_binding_errors(runtime: None, tmp_path: Path) -> None:
    from api.d1 import D1BindingDatabase
    from api.storage import Conflict, DatabaseError

    db = D1BindingDatabase(StandInD1(tmp_path / "d1.sqlite3"))
    with pytest.raises(Conflict, match="CHECK constraint failed"):
        asyncio.run(db.batch([Statement("INSERT INTO guards (ok) VALUES (0)")]))
    with pytest.raises(DatabaseError, match="no such table"):
        asyncio.run(db.execute(Statement("SELECT * FROM nowhere")))
    row = asyncio.run(db.execute(Statement("SELECT ? AS empty, ? AS n", (None, 3)))).rows
    assert row == [{"empty": None, "n": 3}]


def test_worker_deploy_dry_run(tmp_path: Path) -> None:
    """The real wrangler bundles the staged Python Worker with its vendored packages."""
    from wrangler import run as wrangler

    from api.deploy import stage

    config = course_site(tmp_path)
    staged = stage(tmp_path / "worker", config.out)
    assert (tmp_path / "worker/python_modules/starlette").is_dir()
    done = wrangler(
        ["deploy", "--dry-run", "-c", str(staged), "--outdir", str(tmp_path / "dist")],
        staged.parent,
        tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for expected in (
        "api/app.py",
        "api/gate.py",
        "api/d1.py",
        "Vendored Modules",
        "env.DB (sillon)",
        "env.ASSETS",
        "--dry-run: exiting now.",
    ):
        assert expected in output, expected
    assert ".html" not in output.split("Read ")[0], "no page of the site is bundled as a module"
    assert (tmp_path / "dist" / "worker.py").is_file(), "the entry is in the bundle"


def test_worker_cron_forwards_xapi_statements(runtime: None, tmp_path: Path) -> None:
    """The cron trigger's scheduled(): waiting statements go to the LRS (a stand-in on
    127.0.0.1, tests/test_xapi.LrsStandIn); an unreachable LRS leaves them waiting."""
    from test_xapi import LrsStandIn

    from api import worker

    config = course_site(tmp_path)
    lrs = LrsStandIn()
    env = types.SimpleNamespace(
        DB=StandInD1(tmp_path / "d1.sqlite3"),
        ASSETS=StandInAssets(config.out),
        SILLON_ADMIN_TOKEN=ADMIN,
        SILLON_SECRET="s" * 32,
        SILLON_LRS_URL=lrs.url,
        SILLON_LRS_USERNAME="sillon",
        SILLON_LRS_PASSWORD="pw",
    )
    entry = worker.Default(env)
    base = "https://learn.example.org"

    def call(path: str, body: object, headers: dict[str, str]) -> StandInResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = StandInRequest(
            base + path, "POST", {"content-type": "application/json", **headers}, raw
        )
        return asyncio.run(entry.fetch(request))

    admin = {"authorization": f"Bearer {ADMIN}"}
    call("/api/admin/publish", (config.private / "manifest.json").read_bytes(), admin)
    created = json.loads(
        call(
            "/api/admin/learners", {"name": "Ada", "email": "a@example.org", "teamId": "t"}, admin
        ).body
    )
    session = call("/api/session", {"inviteToken": created["inviteToken"]}, {})
    cookie = {"cookie": session.headers["set-cookie"].split(";", 1)[0]}
    played = {
        "eventId": "event-0001",
        "stepId": "intro",
        "intervals": [],
        "action": "played",
        "time": 0,
    }
    assert call("/api/video-event", played, cookie).status == 200
    try:
        lrs.unavailable = 1
        asyncio.run(entry.scheduled(types.SimpleNamespace(cron="* * * * *")))
        assert lrs.received == [], "503: kept for the next trigger"
        asyncio.run(entry.scheduled(types.SimpleNamespace(cron="* * * * *")))
        assert [s["verb"]["id"] for s in lrs.received] == [
            "https://w3id.org/xapi/video/verbs/played"
        ]
        assert lrs.users == {"sillon:pw"}
        asyncio.run(entry.scheduled(types.SimpleNamespace(cron="* * * * *")))
        assert lrs.requests == 2, "nothing twice"
    finally:
        lrs.close()
