"""Abuse limits (429 in the one error shape, nothing written) and CORS closed by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, cohort, event
from support.course import make_course

from api import limits


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with cohort(make_course(tmp_path / "course", duration=120), tmp_path) as running:
        yield running


def test_limits_session_attempts_per_address(app: Cohort) -> None:
    for _ in range(limits.SESSION.capacity):
        assert_error(
            app.client.post("/api/session", json={"inviteToken": "guess"}), 401, "bad_invite"
        )
    refused = app.client.post("/api/session", json={"inviteToken": "guess"})
    assert_error(refused, 429, "too_many_requests")
    assert int(refused.headers["retry-after"]) >= 1
    created = app.enroll()
    assert_error(
        app.client.post("/api/session", json={"inviteToken": created["inviteToken"]}),
        429,
        "too_many_requests",
    )
    app.clock.advance(seconds=60)
    assert (
        app.client.post("/api/session", json={"inviteToken": created["inviteToken"]}).status_code
        == 200
    )


def test_limits_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SILLON_RATE_LIMITS=off (behind a limiter of one's own): no 429; anything else is refused."""
    from api.settings import Settings

    assert Settings.from_env({"SILLON_RATE_LIMITS": "off"}).rate_limits is False
    with pytest.raises(ValueError, match="SILLON_RATE_LIMITS"):
        Settings.from_env({"SILLON_RATE_LIMITS": "maybe"})
    content = make_course(tmp_path / "course", duration=120)
    with cohort(content, tmp_path, rate_limits=False) as running:
        for _ in range(limits.SESSION.capacity * 2):
            guess = running.client.post("/api/session", json={"inviteToken": "guess"})
            assert_error(guess, 401, "bad_invite")


@pytest.mark.slow
def test_limits_learner_events_per_session(app: Cohort) -> None:
    _, browser = app.learner()
    for _ in range(limits.EVENTS.capacity):
        response = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "nope"})
        assert response.status_code == 404
    assert_error(
        browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "intro"}),
        429,
        "too_many_requests",
    )
    _, other = app.learner("Bob")
    assert (
        other.post("/api/lesson-done", json={"eventId": event(), "stepId": "nope"}).status_code
        == 404
    ), "per session"
    app.clock.advance(seconds=1)
    assert (
        browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "nope"}).status_code
        == 404
    )


def test_limits_admin_calls_per_address(app: Cohort) -> None:
    for _ in range(limits.ADMIN.capacity - 1):  # the fixture's own publish is not an HTTP call
        app.client.post("/api/admin/learners", json={}, headers={"Authorization": "Bearer wrong"})
    responses = [
        app.client.post("/api/admin/learners", json={}, headers={"Authorization": "Bearer wrong"})
        for _ in range(3)
    ]
    assert responses[-1].status_code == 429
    assert_error(responses[-1], 429, "too_many_requests")


def test_limits_cors_closed_by_default(app: Cohort) -> None:
    preflight = app.client.options(
        "/api/learner",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = app.client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_limits_cors_allow_list(tmp_path: Path) -> None:
    with cohort(
        make_course(tmp_path / "course"), tmp_path, cors_origins=["https://school.example"]
    ) as running:
        allowed = running.client.get("/api/health", headers={"Origin": "https://school.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://school.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = running.client.get("/api/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
