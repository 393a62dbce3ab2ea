"""A mid-video report in one database call (api/watching.py), and every premise of it checked.

Two API objects on one SQLite file stand for two Worker isolates on one D1 database (each with
its own memory, as on Cloudflare); both are the real app through httpx's ASGI transport, and
every database call is counted (support.conformance.Recording). The Worker harness pins the
same figures on D1 (tests/test_worker_runtime_fresh.py).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from support.clock import ADMIN, Clock
from support.conformance import Recording
from support.course import make_course

from api.app import Api, Settings, application, publish_manifest
from api.clock import iso
from api.sqlite import SQLiteDatabase
from builder.config import BuildConfig
from builder.pipeline import build

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def manifest(tmp_path: Path, name: str, duration: float) -> str:
    content = make_course(tmp_path / name, duration=duration)
    config = BuildConfig.make(content=content, out=tmp_path / f"{name}-site", disk_cache=False)
    build(config)
    return (config.private / "manifest.json").read_text()


class Isolate:
    """One API object (its own memory) on the shared file, every database call counted."""

    def __init__(self, db_path: Path, clock: Clock) -> None:
        self.db = Recording(SQLiteDatabase(db_path))
        settings = Settings(db_path=str(db_path), admin_token=ADMIN, rate_limits=False)
        self.api = Api(settings, self.db, clock)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=application(self.api))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def report(self, eid: str, spans: list[list[float]], **extra: Any) -> httpx.Response:
        """A video report on `intro`; its database calls are the last meter's."""
        self.db.begin(f"report {eid}")
        body = {"eventId": f"event-{eid}", "stepId": "intro", "intervals": spans, **extra}
        return await self.client.post("/api/video-event", json=body)

    async def user_id(self) -> str:
        self.db.begin("learner")
        return str((await self.client.get("/api/learner")).json()["userId"])

    def calls(self) -> tuple[int, int, int]:
        """The last request's (database calls, statements, rows changed by its writes)."""
        statements, _, _, calls = self.db.meters[-1][1]
        return calls, statements, sum(entry[3] for entry in self.db.log[-statements:])


def run(tmp_path: Path, scenario: Callable[[Isolate, Isolate, Clock], Awaitable[None]]) -> Path:
    """Publish the 120 s course, enrol Ada signed in on both isolates, run the scenario."""
    db_path, clock = tmp_path / "db.sqlite3", Clock()
    text = manifest(tmp_path, "course", 120)

    async def main() -> None:
        a, b = Isolate(db_path, clock), Isolate(db_path, clock)
        await publish_manifest(a.db, text, iso(clock()))  # type: ignore[arg-type]
        body = {"name": "Ada", "email": "ada@example.org", "teamId": "t"}
        created = await a.client.post("/api/admin/learners", json=body, headers=ADMIN_HEADERS)
        invite = {"inviteToken": created.json()["inviteToken"]}
        assert (await a.client.post("/api/session", json=invite)).status_code == 200
        b.client.cookies = a.client.cookies  # the same browser, answered by either isolate
        try:
            await scenario(a, b, clock)
        finally:
            await a.client.aclose()
            await b.client.aclose()

    asyncio.run(main())
    return db_path


def saved(db_path: Path) -> list[list[float]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT intervals FROM video_views").fetchall()
    return [span for (text,) in rows for span in json.loads(text)]


def test_watching_plain_reports_take_one_call_and_another_isolate_is_never_lost(
    tmp_path: Path,
) -> None:
    async def scenario(a: Isolate, b: Isolate, clock: Clock) -> None:
        first = await a.report("r0", [[0, 2]], action="played", time=0)
        assert first.status_code == 200 and first.json()["xp"], first.text
        clock.advance(seconds=15)
        steady = await a.report("r1", [[2, 32]])
        assert steady.json()["watched"] == 32 and steady.json()["xp"] == []
        assert a.calls() == (1, 1, 1), "a plain report known to this isolate: one call, one row"
        await b.user_id()  # b has read the course (a cold isolate reads it once)
        clock.advance(seconds=15)
        elsewhere = await b.report("r2", [[32, 62]])  # the next report reaches another isolate
        assert elsewhere.json()["watched"] == 62
        # b knew nothing: the session read brings the view; then the one-statement save
        assert b.calls() == (2, 2, 1), b.calls()
        clock.advance(seconds=15)
        back = await a.report("r3", [[62, 92]])  # a's memory is stale: its premise fails
        assert back.status_code == 200 and back.json()["watched"] == 92, back.text
        # refused in one call (nothing changed), then read again and saved as b did
        assert a.calls() == (3, 3, 1), a.calls()
        clock.advance(seconds=15)
        again = await a.report("r4", [[92, 100]])
        assert again.json()["watched"] == 100 and a.calls() == (1, 1, 1)
        replay = await a.report("r4", [[92, 100]])  # plain: decided again, same answer
        assert replay.json() == again.json() and a.calls() == (1, 1, 1)
        # A pause: the save, a guard on it and the xAPI statement, in the same one call.
        pause = {"action": "paused", "time": 104}
        paused = await a.report("r5", [[100, 104]], **pause)
        assert paused.status_code == 200 and a.calls() == (1, 3, 2), paused.text
        assert (await a.report("r5", [[100, 104]], **pause)).json() == paused.json()
        assert a.calls() == (1, 3, 1), "sent again: the statement's derived id adds none"
        clock.advance(seconds=15)
        await b.report("r6", [[104, 110]], action="played", time=104)
        clock.advance(seconds=15)
        # a's premise fails: the guard aborts its one call, statement and all; then it reads
        seeked = await a.report("r7", [[110, 112]], action="seeked", timeFrom=112, timeTo=100)
        assert seeked.status_code == 200 and a.calls()[0] > 1, seeked.text

    db_path = run(tmp_path, scenario)
    assert saved(db_path) == [[0, 112]]
    with sqlite3.connect(db_path) as db:
        events = [row[0] for row in db.execute("SELECT event_id FROM events ORDER BY rowid")]
        verbs = [row[0] for row in db.execute("SELECT statement FROM xapi_statements")]
    assert events == ["event-r0"], "only the report that did more than merge is recorded"
    said = [json.loads(text)["verb"]["display"]["en-US"] for text in verbs]
    assert said == ["played", "paused", "played", "seeked"], said


def test_watching_every_premise_checked_in_the_one_call(tmp_path: Path) -> None:
    """What the isolate knew no longer holds: each time the answer is the database's."""
    other = manifest(tmp_path, "longer", 300)

    async def scenario(a: Isolate, b: Isolate, clock: Clock) -> None:
        async def steady(eid: str, spans: list[list[float]]) -> httpx.Response:
            clock.advance(seconds=15)
            return await a.report(eid, spans)

        await a.report("p0", [[0, 2]], action="played", time=0)
        assert (await steady("p1", [[2, 20]])).status_code == 200 and a.calls()[0] == 1
        # A publish (made elsewhere): the answer is the new version's (its duration).
        await publish_manifest(SQLiteDatabase(tmp_path / "db.sqlite3"), other, iso(clock()))
        clock.advance(seconds=2)  # past the version cache's recheck
        published = await steady("p2", [[20, 30]])
        assert published.status_code == 200 and published.json()["duration"] == 300
        assert (await steady("p3", [[30, 40]])).json()["duration"] == 300
        assert a.calls() == (1, 1, 1)
        # A reset (by an admin, elsewhere): the view is gone, a report starts it again.
        reset = await b.client.post(
            "/api/admin/reset", json={"userId": await b.user_id()}, headers=ADMIN_HEADERS
        )
        assert reset.status_code == 200
        after_reset = await steady("p4", [[40, 44]])
        assert after_reset.status_code == 200 and after_reset.json()["watched"] == 4
        assert (await steady("p5", [[44, 48]])).json()["watched"] == 8
        assert a.calls() == (1, 1, 1)
        # Signed out (on another isolate): refused, nothing written.
        assert (await b.client.delete("/api/session")).status_code in (200, 204)
        # A pause: its xAPI statement rides behind the save's guard, so nothing is written.
        clock.advance(seconds=15)
        paused = await a.report("p6", [[48, 52]], action="paused", time=52)
        assert paused.status_code == 401 and a.calls()[2] == 0, paused.text
        signed_out = await steady("p7", [[48, 52]])
        assert signed_out.status_code == 401 and a.calls()[2] == 0, signed_out.text

    db_path = run(tmp_path, scenario)
    assert saved(db_path) == [[40, 48]]
