"""Concurrent duplicates against a real uvicorn on 127.0.0.1: one award, whatever the race."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support.course import ROOT
from support.launch import Site

pytestmark = pytest.mark.live  # a real `python build.py serve` process


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Site]:
    """`serve` on the example course (the repository's own content/)."""
    server = Site(tmp_path, ROOT / "content")
    yield server
    server.stop()


def started(client: httpx.Client) -> None:
    """The player's first report as playback starts; the 9 s video may complete 0.275 s later
    (95% at 2x, less the 4 s slack)."""
    body = {"eventId": str(uuid.uuid4()), "stepId": "som01-bienvenue", "intervals": []}
    assert client.post("/api/video-event", json=body).status_code == 200
    time.sleep(0.3)


def fire(
    client: httpx.Client, bodies: list[dict[str, object]], url: str = "/api/video-event"
) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(lambda body: client.post(url, json=body), bodies))


def test_concurrency_50_identical_completions_award_once(live: Site) -> None:
    client = live.learner()
    started(client)
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
        # the completion, recorded once; `started` is a plain report (api/watching.py): none
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
        learner = "SELECT xp, videos_done FROM learners WHERE team_id = 't'"  # not serve's demo
        assert db.execute(learner).fetchone() == (15, 1)
        assert db.execute("SELECT SUM(amount) FROM xp_logs").fetchone() == (15,)


def test_concurrency_50_different_completions_of_one_step(live: Site) -> None:
    client = live.learner()
    started(client)
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
        mine = "FROM learners WHERE team_id = 't'"  # not serve's demo learner
        # done, and still open until the learner moves on (README, "One open step")
        assert db.execute("SELECT open_step " + mine).fetchone() == ("som01-bienvenue",)
        (xp,) = db.execute("SELECT xp " + mine).fetchone()
        assert db.execute("SELECT SUM(amount) FROM xp_logs").fetchone() == (xp,)
    moves = [{"eventId": str(uuid.uuid4()), "stepId": "som01-bienvenue"} for _ in range(50)]
    statuses = sorted(r.status_code for r in fire(client, moves, "/api/next"))
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409}, statuses
    with sqlite3.connect(live.db) as db:
        assert db.execute("SELECT open_step " + mine).fetchone() == ("som01-tables",)
