"""Requests interleaved between their read and their write, as on D1 (no transactions across
round trips): a database wrapper that yields before every statement makes the race happen."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from support.clock import ADMIN, Clock
from support.course import make_course

from api.app import Api, Settings, application, publish_manifest
from api.learning import iso
from api.sqlite import SQLiteDatabase
from api.storage import Result, Statement
from builder.config import BuildConfig
from builder.pipeline import build

# Six reports of two seconds each, after the first one ([0, 1]): together [0, 13].
REPORTS = [[[1, 3]], [[3, 5]], [[5, 7]], [[7, 9]], [[9, 11]], [[11, 13]]]


class YieldingDatabase(SQLiteDatabase):
    """SQLite, but every call lets other requests run first (like a network round trip)."""

    async def execute(self, statement: Statement) -> Result:
        await asyncio.sleep(0)
        return await super().execute(statement)

    async def batch(self, statements: list[Statement], wait: float | None = None) -> list[Result]:
        await asyncio.sleep(0)
        return await super().batch(statements, wait)


async def sign_in_and_start(client: httpx.AsyncClient) -> None:
    """Enroll Ada, sign her in, and report the video's first second."""
    created = await client.post(
        "/api/admin/learners",
        json={"name": "Ada", "email": "ada@example.org", "teamId": "t"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    session = await client.post("/api/session", json={"inviteToken": created.json()["inviteToken"]})
    assert session.status_code == 200
    first = await client.post(
        "/api/video-event",
        json={"eventId": "event-0000", "stepId": "intro", "intervals": [[0, 1]]},
    )
    assert first.status_code == 200


async def report_at_once(client: httpx.AsyncClient) -> list[httpx.Response]:
    """Send the REPORTS all at once; a report that lost every retry is sent again, once."""
    bodies: list[dict[str, Any]] = [
        {"eventId": f"event-{n:04d}", "stepId": "intro", "intervals": spans}
        for n, spans in enumerate(REPORTS, start=1)
    ]
    answers = await asyncio.gather(*(client.post("/api/video-event", json=b) for b in bodies))
    # A report that lost every retry answers 503 busy: the player's queue sends it again.
    for index, answer in enumerate(answers):
        if answer.status_code == 503:
            assert answer.json()["error"]["code"] == "busy"
            answers[index] = await client.post("/api/video-event", json=bodies[index])
    return answers


def test_interleaved_video_reports_are_never_lost(tmp_path: Path) -> None:
    content = make_course(tmp_path / "course", duration=120)
    config = BuildConfig.make(content=content, out=tmp_path / "site", disk_cache=False)
    build(config)
    clock = Clock()
    db_path = tmp_path / "db.sqlite3"
    api = Api(Settings(db_path=str(db_path), admin_token=ADMIN), YieldingDatabase(db_path), clock)

    async def scenario() -> list[httpx.Response]:
        await publish_manifest(api.db, (config.private / "manifest.json").read_text(), iso(clock()))
        transport = httpx.ASGITransport(app=application(api))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await sign_in_and_start(client)
            clock.advance(seconds=5)
            return await report_at_once(client)

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    with sqlite3.connect(db_path) as db:
        ((intervals, watched),) = db.execute(
            "SELECT intervals, watched FROM video_views"
        ).fetchall()
        assert json.loads(intervals) == [[0, 13]] and watched == 13
        # Recorded: the one report that counted the learning day; the others only merged
        # intervals, plain reports that are decided again if sent again (api/watching.py).
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM guards").fetchone() == (0,)
