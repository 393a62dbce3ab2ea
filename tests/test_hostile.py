"""Hostile input: injection strings in stored text, traversal in paths, absurd numbers."""

from __future__ import annotations

import http.client
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.client import Cohort, assert_error, cohort, event
from support.course import make_course
from support.launch import Site

EVIL = [
    "<script>alert('name')</script>",
    '"><img src=x onerror=alert(1)>',
    "Robert'); DROP TABLE learners;--",
    "\u202eevil\u0000zero",
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with cohort(make_course(tmp_path / "course", duration=120), tmp_path) as running:
        yield running


def test_hostile_text_is_stored_verbatim_and_harmless(app: Cohort) -> None:
    for number, name in enumerate(EVIL):
        created = app.enroll(name, team="<b>team</b>", email=f"evil{number}@example.org")
        assert (
            app.client.get(f"/api/learner?userId={created['userId']}", headers=app.admin()).json()[
                "name"
            ]
            == name
        )
    with sqlite3.connect(app.db) as db:
        assert db.execute("SELECT COUNT(*) FROM learners").fetchone() == (len(EVIL),)
        assert db.execute("SELECT COUNT(*) FROM badges").fetchone() == (10,)


@pytest.mark.parametrize(
    "answers, code",
    [
        ([10**100, [0]], "invalid_answers"),
        ([1, [-(10**30)]], "invalid_answers"),
        ([1.5, [0]], "invalid_answers"),
        ([None, None], "unanswered"),  # blank questions: refused, no attempt
    ],
)
def test_hostile_absurd_quiz_numbers(app: Cohort, answers: object, code: str) -> None:
    _, browser = app.learner()
    from support.journey import watch_and_move_on

    watch_and_move_on(app, browser)
    response = browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": answers}
    )
    assert_error(response, 422, code)


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """Send the path exactly as written (no client-side normalisation of '..')."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../schema.sql",
        "/static/..%2f..%2fschema.sql",
        "/kms/../../site-private/manifest.json",
        "/kms/%2e%2e/%2e%2e/site-private/manifest.json",
        "/media/..%2f..%2fsite-private%2fmanifest.json",
        "/steps/..%2f..%2fsite-private%2fmanifest.json",
        "/../site-private/manifest.json",
        "/%2e%2e/db.sqlite3",
        "/_headers",
        "/.site-new/index.html",
    ],
)
def test_hostile_path_traversal_reveals_nothing(site: Site, path: str) -> None:
    status, body = raw_get(site.port, path)
    assert status in (400, 401, 403, 404), (status, body[:200])
    assert b'"answer"' not in body and b"CREATE TABLE" not in body and b"SQLite format" not in body


def test_hostile_names_never_execute_in_pages(browser: Any, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    site.enroll(EVIL[0], team="blue")  # a teammate with a script for a name
    evil = site.enroll(EVIL[1], team="blue")
    page.goto(evil["inviteUrl"])
    page.wait_for_url(site.url + "/", timeout=30_000)
    page.goto(site.url + "/board/")
    page.wait_for_selector(".leaderboard tbody tr", timeout=30_000)
    page.click("[role='tab'][data-period='all']")
    page.wait_for_selector(".leaderboard tr.me", timeout=30_000)
    assert EVIL[1] in page.inner_text(".leaderboard")
    assert page.query_selector(".leaderboard img") is None
    page.goto(site.url + "/me/")
    page.wait_for_selector("[data-fill='me-badges-todo'] li", timeout=30_000)
    context.close()
    assert dialogs == []
