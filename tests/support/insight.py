"""The cohort of the insight tests: a course of text lessons and a one-question quiz (every
time is the clock's, exactly), a hand-made cohort walking it through the real API, and the
admin reads and CSV tables they are checked against."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from builder.config import BuildConfig
from builder.pipeline import build
from support.client import Cohort, cohort, event, move_on
from support.clock import Clock
from support.course import edit, write

DAY = 86400
T0 = Clock().now  # the test clock's start: Tuesday 2026-11-24, 09:00 UTC (10:00 in Paris)
STEPS_HEADER = [
    "teamId",
    "courseVersion",
    "position",
    "stepId",
    "title",
    "kind",
    "module",
    "onStep",
    "stalled",
    "completed",
    "completedShare",
    "medianSeconds",
    "quizTried",
    "firstTryPassed",
    "firstTryRate",
]
People = dict[str, tuple[dict[str, Any], TestClient]]


def insight_course(root: Path) -> Path:
    """Two modules of text lessons and a one-question quiz: times are the clock's, exactly."""
    content = root / "content"
    write(content / "course.yaml", "title: Suivi\nlanguage: fr\nmodules: [m1, m2]\n")
    write(content / "modules/m1/module.yaml", "id: M1\ntitle: Un\nsteps: [lire.md, quiz.yaml]\n")
    write(content / "modules/m1/lire.md", "---\nid: lire\ntitle: Lire\n---\nTexte.\n")
    write(
        content / "modules/m1/quiz.yaml",
        """
        id: quiz
        title: Le quiz
        questions:
          - prompt: Oui ?
            choices: [non, oui]
            answer: 1
        """,
    )
    write(content / "modules/m2/module.yaml", "id: M2\ntitle: Deux\nsteps: [pratique.md, fin.md]\n")
    write(content / "modules/m2/pratique.md", "---\nid: pratique\ntitle: Pratique\n---\nTexte.\n")
    write(content / "modules/m2/fin.md", "---\nid: fin\ntitle: Fin\n---\nTexte.\n")
    return content


@contextmanager
def insight_cohort(tmp_path: Path, **settings: Any) -> Iterator[Cohort]:
    """The insight course built into tmp_path and served in-process."""
    with cohort(insight_course(tmp_path / "course"), tmp_path, **settings) as running:
        yield running


def at(app: Cohort, seconds: float) -> None:
    """Set the clock `seconds` after T0."""
    app.clock.now = T0 + timedelta(seconds=seconds)


def act(browser: TestClient, action: str) -> None:
    """A lesson read (its step id), or the quiz answered: 'quiz-right' or 'quiz-wrong'; a done
    step is left at once (the Next button)."""
    step = "quiz" if action.startswith("quiz") else action
    if action.startswith("quiz"):
        answers = [1] if action == "quiz-right" else [0]
        body = {"eventId": event(), "stepId": "quiz", "answers": answers}
        response = browser.post("/api/quiz-submission", json=body)
        assert response.json()["passed"] is (action == "quiz-right"), response.text
    else:
        response = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": action})
    assert response.status_code == 200, response.text
    if action != "quiz-wrong":
        assert move_on(browser, step).status_code == 200


def scenario(app: Cohort) -> People:
    """Team blue: Ada finishes over three days, Bob stops on day one, Cyd fails the quiz twice,
    Dan never moves (placed ten days before the end), Eve never signs in. Team red: Rex."""
    people: People = {}
    at(app, -8 * DAY)
    for name, team in [("Dan", "blue"), ("Ada", "blue"), ("Bob", "blue"), ("Cyd", "blue")]:
        if name == "Ada":
            at(app, 0)
        people[name] = app.learner(name, team)
        assert people[name][1].get("/api/learner").status_code == 200  # placed on 'lire'
    people["Rex"] = app.learner("Rex", "red")
    people["Rex"][1].get("/api/learner")
    app.enroll("Eve", "blue")
    for seconds, name, action in [
        (30, "Cyd", "lire"),  # 30 s on 'lire'
        (40, "Cyd", "quiz-wrong"),
        (60, "Ada", "lire"),  # 60 s
        (120, "Ada", "quiz-wrong"),
        (120, "Bob", "lire"),  # 120 s
        (150, "Bob", "quiz-right"),  # 30 s on 'quiz', first try
        (180, "Ada", "quiz-right"),  # 120 s on 'quiz', second try
        (1000, "Rex", "lire"),
        (1010, "Rex", "quiz-right"),
        (DAY + 300, "Ada", "pratique"),  # 86,520 s
        (2 * DAY + 50, "Cyd", "quiz-wrong"),
        (2 * DAY + 400, "Ada", "fin"),  # 86,500 s
    ]:
        at(app, seconds)
        act(people[name][1], action)
    at(app, 2 * DAY + 600)
    return people


def get(app: Cohort, path: str) -> httpx.Response:
    """An admin GET that must answer 200."""
    response = app.client.get(path, headers=app.admin())
    assert response.status_code == 200, response.text
    return response


def table(response: httpx.Response) -> list[dict[str, str]]:
    """The rows of a CSV download (checked: its type, and a BOM for spreadsheet programs)."""
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf"), "a BOM, for spreadsheet programs"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def publish_second_version(app: Cohort, tmp_path: Path) -> str:
    """Add a step 'bonus' at the end and publish the result, as `python build.py publish`."""
    edit(
        app.content,
        "modules/m2/module.yaml",
        "[pratique.md, fin.md]",
        "[pratique.md, fin.md, bonus.md]",
    )
    write(app.content / "modules/m2/bonus.md", "---\nid: bonus\ntitle: Bonus\n---\nTexte.\n")
    config = BuildConfig.make(
        content=app.content, out=tmp_path / "v2", private=tmp_path / "v2-private", disk_cache=False
    )
    build(config)
    response = app.client.post(
        "/api/admin/publish",
        content=(config.private / "manifest.json").read_bytes(),
        headers={**app.admin(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    version: str = response.json()["version"]
    return version
