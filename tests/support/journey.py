"""A learner's way through the small course (support.course.make_course, a 120 s video) on the
in-process app, as the player walks it: the video reported every 5 s of wall clock at 2x, the
quiz answered, the Tally webhook posted."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
from starlette.testclient import TestClient

from support.client import Cohort, event, move_on
from support.clock import TALLY_SECRET
from support.tally import signed

RIGHT = [1, [0, 2]]  # the small course's quiz-1 answers


def watch(
    browser: TestClient, spans: list[list[float]], step: str = "intro", eid: str | None = None
) -> httpx.Response:
    """One video report of the spans watched."""
    body = {"eventId": eid or event(), "stepId": step, "intervals": spans}
    return browser.post("/api/video-event", json=body)


def watch_through(app: Cohort, browser: TestClient) -> list[httpx.Response]:
    """Watch the 120 s intro at 2x, reporting every 5 s of wall clock like the player."""
    reports = []
    for start in range(0, 120, 10):
        reports.append(watch(browser, [[start, start + 10]]))
        app.clock.advance(seconds=5)
    return reports


def watch_whole_video(app: Cohort, browser: TestClient) -> dict[str, Any]:
    """The intro watched through: the last report's answer."""
    answer: dict[str, Any] = watch_through(app, browser)[-1].json()
    return answer


def watch_and_move_on(app: Cohort, browser: TestClient) -> dict[str, Any]:
    """The intro watched through, then left (the Next button): quiz-1 is open."""
    answer = watch_whole_video(app, browser)
    assert move_on(browser, "intro").status_code == 200
    return answer


def finish_module_one(app: Cohort, browser: TestClient) -> None:
    """The video, then quiz-1 passed, moving on after each: the open step is then 'texte' (M2)."""
    assert [r.status_code for r in watch_through(app, browser)] == [200] * 12
    assert move_on(browser, "intro").status_code == 200
    body = {"eventId": event(), "stepId": "quiz-1", "answers": RIGHT}
    assert browser.post("/api/quiz-submission", json=body).json()["passed"] is True
    assert move_on(browser, "quiz-1").status_code == 200


def reach_tally_step(app: Cohort, browser: TestClient) -> str:
    """Module one, then the text lesson: the Tally quiz is open; its signed hidden field."""
    finish_module_one(app, browser)
    browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "texte"})
    move_on(browser, "texte")
    link = browser.get("/api/tally-link?stepId=final").json()
    assert link["formUrl"].startswith("https://tally.so/r/wMx9Qd?sillon=")
    token: str = link["formUrl"].split("sillon=", 1)[1]
    return token


def post_hook(app: Cohort, body: bytes, signature: str | None = "sign") -> httpx.Response:
    """POST the webhook, signed (`"sign"`), unsigned (None) or with the given signature."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers = signed(body, TALLY_SECRET)
    elif signature is not None:
        headers["Tally-Signature"] = signature
    return app.client.post("/api/tally-hook", content=body, headers=headers)


def rows(app: Cohort, query: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of the app's SQLite file."""
    with sqlite3.connect(app.db) as connection:
        return connection.execute(query, params).fetchall()
