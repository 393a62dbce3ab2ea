"""A serve with an issuer key (certificates on), and a learner taken to the end of its course
through the public HTTP API, the way the player drives it: each video reported watched (again
after the speed cap's wait), each quiz answered right, each lesson read, the Tally quiz's
webhook (a stand-in for Tally's servers, which cannot be reached here), then Next."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from api.jws import IssuerKey
from support.launch import ADMIN, TALLY_SECRET, Site
from support.tally import signed, tally_webhook

_KEY: list[IssuerKey] = []


def issuer_key() -> IssuerKey:
    """One key for the whole test run (signing tests compare credentials made with it)."""
    if not _KEY:
        _KEY.append(IssuerKey.generate(2048))
    return _KEY[0]


class CertifiedSite(Site):
    """`build.py serve` with SILLON_ISSUER_KEY set (the PEM, as an operator exports it)."""

    def __init__(self, workdir: Path, content: Path) -> None:
        self.environment = {"SILLON_ISSUER_KEY": issuer_key().pem()}
        super().__init__(workdir, content)

    def finish(self, name: str) -> tuple[str, httpx.Client]:
        """A new learner who finished the course; their email and signed-in client."""
        email = f"learner-{uuid.uuid4().hex[:8]}@example.org"
        enrolled = httpx.post(
            self.url + "/api/admin/learners",
            json={"name": name, "email": email, "teamId": "blue"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert enrolled.status_code == 201, enrolled.text
        client = httpx.Client(base_url=self.url, timeout=10)
        invite = enrolled.json()["inviteToken"]
        answer = client.post("/api/session", json={"inviteToken": invite})
        assert answer.status_code == 200, answer.text
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            (manifest,) = db.execute(
                "SELECT manifest FROM course_versions ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        assert client.get("/api/learner").status_code == 200  # placed on the course
        for step in json.loads(manifest)["steps"]:
            take(client, step)
        assert client.get("/api/learner").json()["currentStep"] is None
        return email, client


def take(client: httpx.Client, step: dict[str, Any]) -> None:
    """One step done as the player does it (a video reported again after the speed cap's wait,
    a quiz answered right, the Tally quiz by its signed webhook), then Next."""
    body: dict[str, Any] = {"eventId": str(uuid.uuid4()), "stepId": step["id"]}
    if step.get("tally"):
        link = client.get(f"/api/tally-link?stepId={step['id']}").json()["formUrl"]
        hook = tally_webhook(link.split("sillon=", 1)[1], 90, uuid.uuid4().hex)
        done = client.post("/api/tally-hook", content=hook, headers=signed(hook, TALLY_SECRET))
    elif step.get("video"):
        body["intervals"] = [[0, step["video"]["duration"]]]
        done = client.post("/api/video-event", json=body)
        if done.status_code == 200 and done.json()["completesIn"]:
            time.sleep(done.json()["completesIn"] + 0.05)  # the speed cap's wait
            body |= {"eventId": str(uuid.uuid4()), "intervals": []}
            done = client.post("/api/video-event", json=body)
    elif step["kind"] == "quiz":
        body["answers"] = right_answers(client, step)
        done = client.post("/api/quiz-submission", json=body)
    else:
        done = client.post("/api/lesson-done", json=body)
    assert done.status_code == 200, done.text
    move = {"eventId": str(uuid.uuid4()), "stepId": step["id"]}
    assert client.post("/api/next", json=move).status_code == 200


def right_answers(client: httpx.Client, step: dict[str, Any]) -> list[Any]:
    """A built-in quiz's right answers in the positions shown (a drawing quiz: its draw)."""
    return answers_shown(step, lambda: client.get(f"/api/quiz-attempt?stepId={step['id']}").json())


def answers_shown(step: dict[str, Any], attempt: Callable[[], dict[str, Any]]) -> list[Any]:
    """The right answers of a manifest's quiz step in the positions the learner is shown: the
    authored order, or for a drawing quiz the draw `attempt()` answers (GET /api/quiz-attempt)."""
    questions = step["questions"]
    shown = [(n, list(range(q["choices"]))) for n, q in enumerate(questions)]
    if step.get("draw"):
        shown = [(q["question"], q["choices"]) for q in attempt()["questions"]]
    answers: list[Any] = []
    for number, order in shown:
        right = [at for at, choice in enumerate(order) if choice in questions[number]["answer"]]
        answers.append(right if questions[number]["multiple"] else right[0])
    return answers
