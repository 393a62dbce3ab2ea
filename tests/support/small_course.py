"""The small course (support.course.make_course: a 120 s video, the handout unlocked by module)
served in-process for the API tests, and the step calls a learner's browser makes on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from support.client import Cohort, cohort, event
from support.course import make_course


@contextmanager
def small_cohort(tmp_path: Path, **settings: Any) -> Iterator[Cohort]:
    """The small course built into tmp_path and served on tmp_path/sillon.sqlite3."""
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path, **settings) as running:
        yield running


def lesson_done(browser: TestClient, step: str, eid: str | None = None) -> httpx.Response:
    """Mark a text lesson read."""
    return browser.post("/api/lesson-done", json={"eventId": eid or event(), "stepId": step})


def submit_quiz(
    browser: TestClient, step: str, answers: object, eid: str | None = None
) -> httpx.Response:
    """Submit a built-in quiz's answers."""
    body = {"eventId": eid or event(), "stepId": step, "answers": answers}
    return browser.post("/api/quiz-submission", json=body)
