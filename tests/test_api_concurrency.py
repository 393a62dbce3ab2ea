"""Concurrent duplicates against a real uvicorn on 127.0.0.1: one award, whatever the race."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import ROOT
from test_serve import free_port

ADMIN = "concurrency-admin-token"


class Live:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "db.sqlite3"
        env = {
            **os.environ,
            "SILLON_DB": str(self.db),
            "SILLON_ADMIN_TOKEN": ADMIN,
            "SILLON_SECRET": "x" * 32,
        }
        self.log = (workdir / "serve.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "build.py"),
                "serve",
                "--content",
                str(ROOT / "content"),
                "--out",
                str(workdir / "site"),
                "--port",
                str(self.port),
            ],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                if httpx.get(self.url + "/api/learner", timeout=1).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            import time

            time.sleep(0.05)

    def learner(self) -> httpx.Client:
        created = httpx.post(
            self.url + "/api/admin/learners",
            json={"name": "Ada", "email": f"{uuid.uuid4().hex}@example.org", "teamId": "t"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        ).json()
        client = httpx.Client(base_url=self.url, timeout=10)
        assert (
            client.post("/api/session", json={"inviteToken": created["inviteToken"]}).status_code
            == 200
        )
        return client

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    server = Live(tmp_path)
    yield server
    server.stop()


def fire(client: httpx.Client, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(lambda body: client.post("/api/video-event", json=body), bodies))


def test_concurrency_50_identical_completions_award_once(live: Live) -> None:
    client = live.learner()
    body = {"eventId": str(uuid.uuid4()), "stepId": "som01-bienvenue", "intervals": [[0, 9]]}
    responses = fire(client, [body] * 50)
    assert {r.status_code for r in responses} == {200}
    answers = [{k: v for k, v in r.json().items() if k != "replayed"} for r in responses]
    assert all(a == answers[0] for a in answers) and answers[0]["complete"] is True
    with sqlite3.connect(live.db) as db:
        assert db.execute(
            "SELECT COUNT(*) FROM xp_logs WHERE cause = 'video:som01-bienvenue'"
        ).fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
        assert db.execute("SELECT xp, videos_done FROM learners").fetchone() == (15, 1)
        assert db.execute("SELECT SUM(amount) FROM xp_logs").fetchone() == (15,)


def test_concurrency_50_different_completions_of_one_step(live: Live) -> None:
    client = live.learner()
    bodies = [
        {"eventId": str(uuid.uuid4()), "stepId": "som01-bienvenue", "intervals": [[0, 9]]}
        for _ in range(50)
    ]
    responses = fire(client, bodies)
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409} and statuses.count(200) >= 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "step_closed"
    with sqlite3.connect(live.db) as db:
        assert db.execute("SELECT COUNT(*) FROM xp_logs WHERE cause LIKE 'video:%'").fetchone() == (
            1,
        )
        assert db.execute("SELECT open_step FROM learners").fetchone() == ("som01-tables",)
        (xp,) = db.execute("SELECT xp FROM learners").fetchone()
        assert db.execute("SELECT SUM(amount) FROM xp_logs").fetchone() == (xp,)
