"""Crash safety: kill -9 the real server under load; every acknowledged event survives and the
database stays sound. A batch failing midway writes nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support.course import EXAMPLE
from support.launch import ADMIN, Site

from api.sqlite import SQLiteDatabase
from api.storage import Conflict, Statement

pytestmark = [pytest.mark.live, pytest.mark.slow]


class Load:
    """Learners reporting tiny spans of the first video as fast as they can, until stopped or
    the server is gone: per learner, how far the server acknowledged (the end of the last span
    answered 200) and how many reports."""

    def __init__(self) -> None:
        self.acknowledged: dict[str, float] = {}
        self.answered = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self, client: httpx.Client) -> None:
        learner = client.get("/api/learner").json()["userId"]
        position = 0.0
        while not self.stop.is_set():
            end = round(position + 0.01, 2)
            body = {
                "eventId": str(uuid.uuid4()),
                "stepId": "som01-bienvenue",
                "intervals": [[position, end]],
            }
            try:
                response = client.post("/api/video-event", json=body, timeout=5)
            except httpx.TransportError:
                return
            if response.status_code == 200:
                with self.lock:
                    self.acknowledged[learner] = end
                    self.answered += 1
                position = end


def assert_serves_again(workdir: Path) -> None:
    """The same database opens and serves again."""
    restarted = Site(workdir, EXAMPLE)
    try:
        assert httpx.get(restarted.url + "/api/health").json() == {"ok": True, "database": "sqlite"}
        assert (
            httpx.post(
                restarted.url + "/api/admin/learners",
                json={"name": "After", "email": "after@example.org", "teamId": "t"},
                headers={"Authorization": f"Bearer {ADMIN}"},
            ).status_code
            == 201
        )
    finally:
        restarted.stop()


def test_crash_kill_9_under_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    live = Site(tmp_path, EXAMPLE)
    clients = [live.learner(team="t") for _ in range(8)]
    load = Load()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for client in clients:
            pool.submit(load.run, client)
        time.sleep(2.0)
        live.kill()  # no shutdown, no checkpoint
        load.stop.set()
    assert load.answered > 50 and len(load.acknowledged) == 8, "the load really ran"
    with sqlite3.connect(live.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        saved = dict(db.execute("SELECT learner_id, intervals FROM video_views").fetchall())
    # Most reports are plain (api/watching.py): acknowledged means the intervals are saved. The
    # one report in flight at the kill may be saved though its answer was lost: one span more.
    for learner, end in load.acknowledged.items():
        in_flight = round(end + 0.01, 2)
        assert json.loads(saved[learner]) in ([[0, end]], [[0, in_flight]]), (
            f"{learner}: acknowledged up to {end}, saved {saved[learner]}"
        )
    assert_serves_again(tmp_path)


def test_crash_failing_batch_writes_nothing(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "db.sqlite3")
    insert = "INSERT INTO learners (id, name, email, team_id, created_at) VALUES (?, ?, ?, ?, ?)"
    asyncio.run(db.batch([Statement(insert, ("u1", "A", "a@x", "t", "now"))]))
    with pytest.raises(Conflict):
        asyncio.run(
            db.batch(
                [
                    Statement(insert, ("u2", "B", "b@x", "t", "now")),
                    Statement("UPDATE learners SET xp = 99 WHERE id = ?", ("u1",)),
                    Statement(insert, ("u3", "C", "a@x", "t", "now")),  # duplicate email
                ]
            )
        )
    rows = asyncio.run(db.execute(Statement("SELECT id, xp FROM learners ORDER BY id"))).rows
    assert rows == [{"id": "u1", "xp": 0}]
