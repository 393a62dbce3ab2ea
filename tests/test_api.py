"""The API contract on a real SQLite file through the real app: enrolment, sessions, identity,
the learner's progress, and the routes themselves. The path, quizzes and awards:
test_api_path.py, test_api_quiz.py, test_api_awards.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, cohort, event
from support.clock import ADMIN
from support.course import make_course
from support.journey import rows
from support.small_course import small_cohort

# The badges the small course (1 video, 2 quizzes, 2 modules) can award, in the badges' order:
# not "Video 5", "Video 25", "Quiz Master" nor "Expert".
BADGES = ["first-video", "first-quiz", "perfectionist", "streak-7", "streak-30", "som-complete"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


# -- identity ----------------------------------------------------------------------------------


def test_api_enroll_returns_invite(app: Cohort) -> None:
    response = app.client.post(
        "/api/admin/learners",
        json={"name": "Ada", "email": "ADA@example.org", "teamId": "t1"},
        headers=app.admin(),
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"userId", "inviteToken", "inviteUrl"}
    assert body["inviteUrl"] == f"http://testserver/join/#{body['inviteToken']}"
    assert rows(app, "SELECT email, team_id, tz FROM learners") == [
        ("ada@example.org", "t1", "Europe/Paris")
    ]
    assert body["inviteToken"] not in str(rows(app, "SELECT * FROM learners")), (
        "only a hash is stored"
    )


@pytest.mark.parametrize(
    "headers, status, code",
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong"}, 401, "unauthorized"),
        ({"Authorization": ADMIN}, 401, "unauthorized"),
    ],
)
def test_api_enroll_refuses_without_admin_token(
    app: Cohort, headers: dict[str, str], status: int, code: str
) -> None:
    response = app.client.post(
        "/api/admin/learners", json={"name": "A", "email": "a@b.c", "teamId": "t"}, headers=headers
    )
    assert_error(response, status, code)
    assert rows(app, "SELECT COUNT(*) FROM learners") == [(0,)]


def test_api_admin_disabled_without_token(tmp_path: Path) -> None:
    content = make_course(tmp_path / "course")
    with cohort(content, tmp_path, admin_token=None) as running:
        response = running.client.post(
            "/api/admin/learners", json={}, headers={"Authorization": "Bearer x"}
        )
        assert_error(response, 403, "admin_disabled")


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"name": "A", "email": "a@b.c"}, 422, "invalid"),
        ({"name": "", "email": "a@b.c", "teamId": "t"}, 422, "invalid"),
        ({"name": "A", "email": "nope", "teamId": "t"}, 422, "invalid"),
        ({"name": "A", "email": "a@b.c", "teamId": "t", "tz": "Mars/Olympus"}, 422, "invalid"),
        ({"name": "A" * 201, "email": "a@b.c", "teamId": "t"}, 422, "invalid"),
        (["not", "an", "object"], 422, "invalid"),
    ],
)
def test_api_enroll_validates_body(app: Cohort, body: object, status: int, code: str) -> None:
    assert_error(
        app.client.post("/api/admin/learners", json=body, headers=app.admin()), status, code
    )
    assert rows(app, "SELECT COUNT(*) FROM learners") == [(0,)]


def test_api_rejects_bad_bodies(app: Cohort) -> None:
    headers = {**app.admin(), "Content-Type": "application/json"}
    assert_error(
        app.client.post("/api/admin/learners", content=b"{nope", headers=headers),
        400,
        "invalid_json",
    )
    assert_error(
        app.client.post("/api/admin/learners", content=b'{"a": NaN}', headers=headers),
        400,
        "invalid_json",
    )
    assert_error(
        app.client.post("/api/admin/learners", content=b"\xff\xfe", headers=headers),
        400,
        "invalid_json",
    )
    assert_error(
        app.client.post(
            "/api/admin/learners",
            content=b"name=a",
            headers={**app.admin(), "Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
        "unsupported_media_type",
    )
    assert_error(
        app.client.post(
            "/api/admin/learners", content=b"{" + b" " * 70_000 + b"}", headers=headers
        ),
        413,
        "too_large",
    )
    assert_error(
        app.client.post("/api/admin/learners", content=b"[" * 5000 + b"]" * 5000, headers=headers),
        400,
        "invalid_json",
    )


def test_api_enroll_twice_is_a_conflict(app: Cohort) -> None:
    app.enroll("Ada", email="ada@example.org")
    response = app.client.post(
        "/api/admin/learners",
        json={"name": "Ada", "email": "ada@example.org", "teamId": "t1"},
        headers=app.admin(),
    )
    assert_error(response, 409, "already_enrolled")


def test_api_session_cookie_flags_and_logout(app: Cohort) -> None:
    created = app.enroll()
    response = app.client.post("/api/session", json={"inviteToken": created["inviteToken"]})
    assert response.status_code == 200 and response.json()["userId"] == created["userId"]
    cookie = response.headers["set-cookie"]
    assert (
        "sillon_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie
        and "Path=/" in cookie
    )
    assert "Secure" not in cookie, "plain http: no Secure flag (https gets it)"
    assert app.client.get("/api/learner").status_code == 200
    assert app.client.delete("/api/session").status_code == 204
    assert_error(app.client.get("/api/learner"), 401, "unauthorized")


def test_api_session_secure_cookie_over_https(app: Cohort) -> None:
    from starlette.testclient import TestClient

    created = app.enroll()
    browser = TestClient(app.client.app, base_url="https://testserver")
    response = browser.post("/api/session", json={"inviteToken": created["inviteToken"]})
    assert "Secure" in response.headers["set-cookie"]


def test_api_bad_invite_and_tampered_cookie(app: Cohort) -> None:
    assert_error(
        app.client.post("/api/session", json={"inviteToken": "made-up"}), 401, "bad_invite"
    )
    _, browser = app.learner()
    browser.cookies.set("sillon_session", browser.cookies["sillon_session"][:-2] + "xx")
    assert_error(browser.get("/api/learner"), 401, "unauthorized")
    assert_error(app.client.get("/api/learner"), 401, "unauthorized")


def test_api_identity_never_from_body_or_query(app: Cohort) -> None:
    ada, ada_browser = app.learner("Ada")
    bob, _ = app.learner("Bob")
    response = ada_browser.post(
        "/api/lesson-done", json={"eventId": event(), "stepId": "intro", "userId": bob["userId"]}
    )
    assert_error(response, 400, "identity_in_body")
    assert_error(ada_browser.get(f"/api/learner?userId={bob['userId']}"), 401, "unauthorized")
    assert ada_browser.get("/api/learner").json()["userId"] == ada["userId"]


# -- progress ----------------------------------------------------------------------------------


def test_api_learner_progress_shape(app: Cohort) -> None:
    created, browser = app.learner()
    body = browser.get("/api/learner").json()
    assert body["userId"] == created["userId"] and body["teamId"] == "t1"
    assert body["xp"] == 0 and body["level"] == 1 and body["completed"] == []
    assert body["xpToNextLevel"] == 250
    assert body["currentStep"] == {
        "id": "intro",
        "type": "video",
        "title": "Introduction",
        "module": "M1",
    }
    assert [b["id"] for b in body["badges"]] == BADGES
    assert all(b["earnedAt"] is None for b in body["badges"])
    as_admin = app.client.get(f"/api/learner?userId={created['userId']}", headers=app.admin())
    assert as_admin.json()["userId"] == created["userId"]
    assert_error(
        app.client.get("/api/learner?userId=u_nobody", headers=app.admin()), 404, "unknown_learner"
    )


# -- the routes --------------------------------------------------------------------------------


def test_api_openapi_documents_every_route(app: Cohort) -> None:
    document = app.client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    from starlette.routing import Route

    for route in app.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/api/") and "{" not in route.path:
            for method in route.methods or []:
                if method != "HEAD":
                    assert method.lower() in document["paths"][route.path], (method, route.path)


def test_api_unknown_endpoint_and_method(app: Cohort) -> None:
    assert_error(app.client.get("/api/nothing"), 404, "not_found")
    assert_error(app.client.get("/api/video-event"), 405, "method_not_allowed")
    assert_error(app.client.put("/api/session"), 405, "method_not_allowed")
    assert app.client.get("/api/health").json() == {"ok": True, "database": "sqlite"}
