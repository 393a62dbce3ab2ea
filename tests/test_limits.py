"""Abuse limits (429 in the one error shape, nothing written) and CORS closed by default."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.client import Cohort, assert_error, cohort, event
from support.course import ROOT, make_course
from support.signin import open_link

from api import limits


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with cohort(make_course(tmp_path / "course", duration=120), tmp_path) as running:
        yield running


def guess(app: Cohort, token: str | None = None) -> httpx.Response:
    """An attempt to open a session with a token no link has (a new random one if not given)."""
    return app.client.post("/api/session", json={"inviteToken": token or secrets.token_urlsafe(32)})


def test_limits_session_failures_per_address(app: Cohort) -> None:
    """A guesser: 10 wrong tokens, then none may be tried, a right one neither, for 10 s (6 a
    minute) until the next failure is allowed."""
    for _ in range(10):
        assert_error(guess(app), 401, "bad_invite")
    refused = assert_error(guess(app), 429, "too_many_requests")
    assert refused["error"]["retryAfter"] == 10
    created = app.enroll()
    assert_error(open_link(app, created["inviteToken"])[0], 429, "too_many_requests")
    app.clock.advance(seconds=10)
    assert open_link(app, created["inviteToken"])[0].status_code == 200
    assert_error(guess(app), 401, "bad_invite")  # the success spent none of the failures
    assert_error(guess(app), 429, "too_many_requests")


def test_limits_session_tries_per_token(app: Cohort) -> None:
    """One token: 5 tries, whatever their answer, then one every 30 s (2 a minute)."""
    created = app.enroll()
    assert open_link(app, created["inviteToken"])[0].status_code == 200
    for _ in range(4):
        assert_error(open_link(app, created["inviteToken"])[0], 410, "link_used")
    refused = assert_error(open_link(app, created["inviteToken"])[0], 429, "too_many_requests")
    assert refused["error"]["retryAfter"] == 30
    app.clock.advance(seconds=30)
    assert_error(open_link(app, created["inviteToken"])[0], 410, "link_used")


def test_limits_session_openings_per_address(app: Cohort) -> None:
    """Two classes of 30 at once from one address, then 30 a minute (one every 2 s)."""
    invites = [app.enroll(f"L{n}")["inviteToken"] for n in range(limits.ADMIN.capacity - 1)]
    app.clock.advance(seconds=2)  # the admin calls' bucket, for two more learners
    invites += [app.enroll(f"M{n}")["inviteToken"] for n in range(2)]
    assert len(invites) == 61
    assert [open_link(app, token)[0].status_code for token in invites[:60]] == [200] * 60
    refused = assert_error(open_link(app, invites[60])[0], 429, "too_many_requests")
    assert refused["error"]["retryAfter"] == 2
    app.clock.advance(seconds=2)
    assert open_link(app, invites[60])[0].status_code == 200


def test_limits_figures_in_the_readme() -> None:
    """The README states the buckets that limits.py declares."""
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("- **Abuse limits**") :]
    paragraph = paragraph[: paragraph.index("\n\n")]
    assert (limits.SESSION.capacity, limits.SESSION.per_minute) == (60, 30)
    assert (limits.SESSION_FAILURES.capacity, limits.SESSION_FAILURES.per_minute) == (10, 6)
    assert (limits.LINK.capacity, limits.LINK.per_minute) == (5, 2)
    for figure in ("burst 60", "30 a minute", "10 wrong tokens", "6 a minute", "5 tries"):
        assert figure in " ".join(paragraph.split()), figure


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
