"""Crash safety: kill -9 the real server under load; every acknowledged event survives and the
database stays sound. A batch failing midway writes nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support.launch import ADMIN
from test_api_concurrency import Live

from api.sqlite import SQLiteDatabase
from api.storage import Conflict, Statement


def test_crash_kill_9_under_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    live = Live(tmp_path)
    clients = []
    for _ in range(8):
        clients.append(live.learner())
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(client: httpx.Client) -> None:
        position = 0.0
        while not stop.is_set():
            eid = str(uuid.uuid4())
            body = {
                "eventId": eid,
                "stepId": "som01-bienvenue",
                "intervals": [[position, position + 0.01]],
            }
            try:
                response = client.post("/api/video-event", json=body, timeout=5)
            except httpx.TransportError:
                return
            if response.status_code == 200:
                with lock:
                    acknowledged.append(eid)
                position += 0.01

    with ThreadPoolExecutor(max_workers=8) as pool:
        for client in clients:
            pool.submit(load, client)
        time.sleep(2.0)
        os.kill(live.process.pid, signal.SIGKILL)  # no shutdown, no checkpoint
        live.process.wait(timeout=10)
        stop.set()
    live.log.close()
    assert len(acknowledged) > 50, "the load really ran"
    with sqlite3.connect(live.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in db.execute("SELECT event_id FROM events")}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost"
    restarted = Live(tmp_path)  # the same database opens and serves again
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
