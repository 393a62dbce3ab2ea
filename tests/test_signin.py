"""The sign-in lifecycle (issue 14, item 5): every link signs in once, hashed and expiring; a
learner gets back in through a device link or a link the teacher re-issues (by email:
test_signin_email.py); sessions slide 30 days from their last use and can be listed and ended.
Concurrency on a real SQLite file, and once on wrangler's local D1."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.client import Cohort, assert_error, in_flight
from support.course import make_course
from support.journey import rows
from support.signin import browser, open_link, token_of
from support.small_course import small_cohort

import build
from api import auth, signin

USED = (
    "This sign-in link was already used. Ask your teacher for a new link, or sign in with a "
    "link from a device where you are signed in (your profile: Add a device) or by email."
)
EXPIRED = (
    "This sign-in link has expired or was replaced by a newer one. Ask your teacher for a new "
    "link, or sign in with a link from a device where you are signed in (your profile: Add a "
    "device) or by email."
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


# -- an invite signs in once --------------------------------------------------------------------


def test_signin_invite_opens_one_session_only(app: Cohort) -> None:
    created = app.enroll()
    first, _ = open_link(app, created["inviteToken"])
    assert first.status_code == 200
    second, other = open_link(app, created["inviteToken"])
    body = assert_error(second, 410, "link_used")
    assert body["error"]["message"] == USED
    assert "sillon_session" not in other.cookies
    assert rows(app, "SELECT COUNT(*) FROM sessions") == [(1,)]


def test_signin_50_parallel_uses_of_one_link_open_one_session(tmp_path: Path) -> None:
    with small_cohort(tmp_path, rate_limits=False) as app:  # 50 from one address: no 429
        created = app.enroll()
        calls = [({}, {}, "/api/session", {"inviteToken": created["inviteToken"]})] * 50
        # Every database call first lets the other requests run, as D1's round trips do.
        responses = in_flight(app, calls, yielding=True)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 410}
    for response in responses:
        if response.status_code == 410:
            assert_error(response, 410, "link_used")
    assert rows(app, "SELECT COUNT(*) FROM sessions") == [(1,)]


def test_signin_tokens_are_stored_hashed(app: Cohort) -> None:
    created = app.enroll()
    answer, me = open_link(app, created["inviteToken"])
    link = me.post("/api/device-link").json()
    cookie = me.cookies["sillon_session"]
    stored = str(rows(app, "SELECT * FROM signin_links")) + str(rows(app, "SELECT * FROM sessions"))
    for secret in (created["inviteToken"], token_of(link["url"]), cookie):
        assert secret not in stored
        assert auth.token_hash(secret) in stored


def test_signin_invite_of_a_learner_enrolled_before_0004_works_once(tmp_path: Path) -> None:
    """A database migrated from 0003: the unused invite signs in once; one that already opened
    a session counts as used."""
    from api.sqlite import MIGRATIONS, migrate

    old = tmp_path / "old"
    old.mkdir()
    for path in sorted(MIGRATIONS.glob("000[123]_*.sql")):
        (old / path.name).write_text(path.read_text())
    db = tmp_path / "sillon.sqlite3"
    connection = sqlite3.connect(db, isolation_level=None)
    migrate(connection, old)
    fresh, used = "fresh-invite-token-0123456789", "used-invite-token-0123456789"
    for uid, token in (("u_fresh", fresh), ("u_used", used)):
        connection.execute(
            "INSERT INTO learners (id, name, email, team_id, invite_hash, created_at) "
            "VALUES (?, ?, ?, 't1', ?, '2026-11-01T00:00:00.000Z')",
            (uid, uid, f"{uid}@example.org", auth.token_hash(token)),
        )
    connection.execute(
        "INSERT INTO sessions (token_hash, learner_id, created_at, expires_at) "
        "VALUES ('h', 'u_used', '2026-11-02T00:00:00.000Z', '2026-12-02T00:00:00.000Z')"
    )
    connection.close()
    content = make_course(tmp_path / "course", duration=120)
    from support.client import cohort

    with cohort(content, tmp_path) as running:
        assert open_link(running, fresh)[0].status_code == 200
        assert_error(open_link(running, fresh)[0], 410, "link_used")
        assert_error(open_link(running, used)[0], 410, "link_used")


# -- add a device --------------------------------------------------------------------------------


def test_signin_device_link_with_qr_code_works_once(app: Cohort) -> None:
    _, laptop = app.learner()
    answer = laptop.post("/api/device-link")
    assert answer.status_code == 201, answer.text
    link = answer.json()
    assert answer.headers["cache-control"] == "no-store"
    assert set(link) == {"url", "expiresAt", "qrSvg"}
    assert link["url"].startswith("http://testserver/join/#")
    assert link["expiresAt"] == "2026-11-24T09:10:00.000Z"
    assert link["qrSvg"].lstrip().startswith(("<?xml", "<svg")) and "</svg>" in link["qrSvg"]
    phone_answer, phone = open_link(app, token_of(link["url"]), "Mozilla/5.0 (iPhone)")
    assert phone_answer.status_code == 200
    assert phone.get("/api/learner").status_code == 200
    assert laptop.get("/api/learner").status_code == 200, "the laptop stays signed in"
    assert_error(open_link(app, token_of(link["url"]))[0], 410, "link_used")


def test_signin_device_link_expires_after_10_minutes(app: Cohort) -> None:
    _, laptop = app.learner()
    early = token_of(laptop.post("/api/device-link").json()["url"])
    late = token_of(laptop.post("/api/device-link").json()["url"])
    app.clock.advance(minutes=9, seconds=59)
    assert open_link(app, early)[0].status_code == 200
    app.clock.advance(seconds=1)
    body = assert_error(open_link(app, late)[0], 410, "link_expired")
    assert body["error"]["message"] == EXPIRED


def test_signin_device_link_needs_a_session(app: Cohort) -> None:
    assert_error(browser(app).post("/api/device-link"), 401, "unauthorized")
    assert rows(app, "SELECT COUNT(*) FROM signin_links WHERE kind = 'device'") == [(0,)]


# -- the teacher re-issues a link ---------------------------------------------------------------


def test_signin_admin_reissue_revokes_the_old_link(app: Cohort) -> None:
    created, old_browser = app.learner()
    lost = app.enroll("Bob")  # never used: a lost invite
    answer = app.client.post(
        "/api/admin/invite", json={"userId": lost["userId"]}, headers=app.admin()
    )
    assert answer.status_code == 201, answer.text
    fresh = answer.json()
    assert set(fresh) == {"userId", "inviteToken", "inviteUrl", "sessionsEnded"}
    assert fresh["sessionsEnded"] == 0
    assert fresh["inviteUrl"] == f"http://testserver/join/#{fresh['inviteToken']}"
    assert_error(open_link(app, lost["inviteToken"])[0], 410, "link_expired")
    assert open_link(app, fresh["inviteToken"])[0].status_code == 200
    # Without revokeSessions the learner's devices stay signed in.
    again = app.client.post(
        "/api/admin/invite", json={"userId": created["userId"]}, headers=app.admin()
    )
    assert again.status_code == 201 and again.json()["sessionsEnded"] == 0
    assert old_browser.get("/api/learner").status_code == 200


def test_signin_admin_reissue_can_end_every_session(app: Cohort) -> None:
    created, first = app.learner()
    second = app.sign_in(first.post("/api/device-link").json()["url"].split("#", 1)[1])
    answer = app.client.post(
        "/api/admin/invite",
        json={"userId": created["userId"], "revokeSessions": True},
        headers=app.admin(),
    )
    assert answer.status_code == 201 and answer.json()["sessionsEnded"] == 2
    assert_error(first.get("/api/learner"), 401, "unauthorized")
    assert_error(second.get("/api/learner"), 401, "unauthorized")
    assert open_link(app, answer.json()["inviteToken"])[0].status_code == 200


def test_signin_admin_reissue_refusals(app: Cohort) -> None:
    created = app.enroll()
    assert_error(
        app.client.post("/api/admin/invite", json={"userId": created["userId"]}),
        401,
        "unauthorized",
    )
    assert_error(
        app.client.post("/api/admin/invite", json={"userId": "u_nobody"}, headers=app.admin()),
        404,
        "unknown_learner",
    )
    assert_error(
        app.client.post(
            "/api/admin/invite",
            json={"userId": created["userId"], "revokeSessions": "yes"},
            headers=app.admin(),
        ),
        422,
        "invalid",
    )
    # The old invite still works: a refused re-issue changed nothing.
    assert open_link(app, created["inviteToken"])[0].status_code == 200


def test_signin_enroll_again_points_to_reissue(app: Cohort) -> None:
    created = app.enroll(email="ada@example.org")
    again = app.client.post(
        "/api/admin/learners",
        json={"name": "Ada", "email": "ada@example.org", "teamId": "t1"},
        headers=app.admin(),
    )
    message = assert_error(again, 409, "already_enrolled")["error"]["message"]
    assert "POST /api/admin/invite" in message and created["userId"] in message


def test_signin_cli_learners_invite_reissues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_course(tmp_path)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "db.sqlite3"
    monkeypatch.setenv("SILLON_DB", str(db))
    monkeypatch.setenv("SILLON_BASE_URL", "https://learn.example.org")
    assert build.main(["publish", "--content", "content"]) == 0
    assert (
        build.main(
            ["learners", "add", "--name", "Ada", "--email", "ada@example.org", "--team", "blue"]
        )
        == 0
    )
    first = capsys.readouterr().out.strip()
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO sessions (token_hash, learner_id, created_at, last_seen, expires_at) "
            "SELECT 'h', id, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', "
            "'2999-01-01T00:00:00.000Z' FROM learners"
        )
    assert build.main(["learners", "invite", "ADA@example.org"]) == 0
    out, err = capsys.readouterr()
    second = out.strip()
    assert second.startswith("https://learn.example.org/join/#") and second != first
    assert "0 session(s) ended" in err
    assert build.main(["learners", "invite", "ada@example.org", "--revoke-sessions"]) == 0
    third = capsys.readouterr()
    assert "1 session(s) ended" in third.err
    with sqlite3.connect(db) as connection:
        live = connection.execute(
            "SELECT token_hash FROM signin_links WHERE used_at IS NULL AND "
            "(expires_at IS NULL OR expires_at > '2999-01-01')"
        ).fetchall()
        assert live == [(auth.token_hash(token_of(third.out.strip())),)]
        assert connection.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
    assert build.main(["learners", "invite", "nobody@example.org"]) == 2
    assert "nobody@example.org is not enrolled" in capsys.readouterr().err


# -- sessions: list, sign out everywhere else, sliding expiry -----------------------------------

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_signin_sessions_listed_and_ended_everywhere_else(app: Cohort) -> None:
    created = app.enroll()
    _, laptop = open_link(app, created["inviteToken"], CHROME)
    app.clock.advance(minutes=1)
    _, phone = open_link(app, token_of(laptop.post("/api/device-link").json()["url"]), IPHONE)
    listed = laptop.get("/api/sessions")
    assert listed.status_code == 200
    assert listed.json() == {
        "sessions": [
            {
                "device": "Chrome on Linux",
                "createdAt": "2026-11-24T09:00:00.000Z",
                "lastSeen": "2026-11-24T09:00:00.000Z",
                "current": True,
            },
            {
                "device": "Safari on iPhone",
                "createdAt": "2026-11-24T09:01:00.000Z",
                "lastSeen": "2026-11-24T09:01:00.000Z",
                "current": False,
            },
        ]
    }
    other = app.enroll("Bob")
    _, bob = open_link(app, other["inviteToken"])
    ended = laptop.delete("/api/sessions")
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert_error(phone.get("/api/learner"), 401, "unauthorized")
    assert laptop.get("/api/learner").status_code == 200
    assert bob.get("/api/learner").status_code == 200, "only your own sessions end"
    assert [s["current"] for s in laptop.get("/api/sessions").json()["sessions"]] == [True]


def test_signin_sign_out_ends_this_session(app: Cohort) -> None:
    _, me = app.learner()
    assert me.delete("/api/session").status_code == 204
    assert_error(me.get("/api/sessions"), 401, "unauthorized")


def test_signin_session_expires_after_30_days_without_use(app: Cohort) -> None:
    _, me = app.learner()
    for _ in range(3):  # used every 29 days: still signed in after 87 days
        app.clock.advance(days=29)
        assert me.get("/api/learner").status_code == 200
    app.clock.advance(days=30)
    assert_error(me.get("/api/learner"), 401, "unauthorized")


def test_signin_last_seen_written_at_most_once_an_hour(app: Cohort) -> None:
    _, me = app.learner()
    app.clock.advance(minutes=59)
    me.get("/api/learner")
    assert rows(app, "SELECT last_seen, expires_at FROM sessions") == [
        ("2026-11-24T09:00:00.000Z", "2026-12-24T09:00:00.000Z")
    ]
    app.clock.advance(minutes=2)
    me.get("/api/learner")
    assert rows(app, "SELECT last_seen, expires_at FROM sessions") == [
        ("2026-11-24T10:01:00.000Z", "2026-12-24T10:01:00.000Z")
    ]


@pytest.mark.parametrize(
    "agent, device",
    [
        (CHROME, "Chrome on Linux"),
        (IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
            "Firefox on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("x" * 300, "x" * 60),
        ("", "Unknown device"),
    ],
)
def test_signin_device_names_from_user_agent(agent: str, device: str) -> None:
    assert signin.device_name(agent) == device


# -- the single-use guard on D1 ------------------------------------------------------------------


@pytest.mark.wrangler
def test_signin_one_link_opens_one_session_on_d1(tmp_path: Path) -> None:
    """50 batches consuming one link at once through wrangler's local D1: one session."""
    from datetime import UTC, datetime

    from support.wrangler import local_d1

    from api import sql
    from api.d1 import D1HttpDatabase

    token = "a-link-token-0123456789"
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    stamp = "2026-11-24T09:00:00.000Z"

    async def race() -> list[bool]:
        db = D1HttpDatabase(d1.url)
        try:
            await db.batch(
                [
                    sql.enroll("u_1", "Ada", "ada@example.org", "t1", "UTC", stamp),
                    sql.new_link(auth.token_hash(token), "u_1", "device", stamp, None),
                ]
            )
            tries = [
                signin.redeem(db, auth.token_hash(token), f"session-{n}", "d", now)
                for n in range(50)
            ]
            return list(await asyncio.gather(*tries))
        finally:
            await db.close()

    d1 = next(local_d1(tmp_path / "d1"))
    try:
        opened = asyncio.run(race())
        with sqlite3.connect(d1.sqlite_file()) as stored:
            count = stored.execute("SELECT COUNT(*) FROM sessions").fetchone()
    finally:
        d1.stop()
    assert opened.count(True) == 1 and opened.count(False) == 49
    assert count == (1,)


# -- in Chromium: the join page's refusal, the profile's devices, the header's sign out ----------


def test_signin_browser_pages(browser: Any, site: Any) -> None:
    """Real Chromium on `serve`: a used link says so (in the course's French) and offers the
    email form; the profile adds a device (QR code) and signs out everywhere else; the header
    signs out. No page error, no CSP violation."""
    from support.browser import WAIT, page_errors, screenshot, sign_in

    laptop = browser.new_context()
    page = laptop.new_page()
    errors = page_errors(page)
    created = sign_in(page, site)
    page.goto(site.url + "/me/")
    page.wait_for_selector("#me-sessions li", timeout=WAIT)
    page.click("#me-add-device")
    page.wait_for_selector("#me-device-link:not([hidden])", timeout=WAIT)
    url = page.input_value("#me-device-url")
    assert "/join/#" in url
    page.wait_for_function(
        "() => document.getElementById('me-device-qr').naturalWidth > 0", timeout=WAIT
    )  # the QR code's SVG decoded as an image
    screenshot(page, "signin-add-device")
    phone = browser.new_context(user_agent=IPHONE).new_page()
    phone.goto(url)
    phone.wait_for_url(site.url + "/", timeout=WAIT)
    page.reload()
    page.wait_for_selector("#me-sessions li:nth-child(2)", timeout=WAIT)
    assert "Safari on iPhone" in page.inner_text("#me-sessions")
    page.click("#me-sign-out-others")
    page.wait_for_function(
        "() => document.querySelectorAll('#me-sessions li').length === 1", timeout=WAIT
    )
    again = browser.new_context().new_page()
    again.goto(created["inviteUrl"])
    again.wait_for_selector("#join-failed:not([hidden])", timeout=WAIT)
    assert "déjà servi" in again.inner_text("#join-failed")
    again.fill("#join-email-address", "ada@example.org")
    again.click("#join-email button[type=submit]")
    again.wait_for_function(
        "() => document.getElementById('join-email-status').textContent.length > 0", timeout=WAIT
    )
    assert "n'est pas disponible" in again.inner_text("#join-email-status")
    screenshot(again, "signin-link-used")
    page.click("[data-action='sign-out']")
    page.wait_for_url(site.url + "/", timeout=WAIT)
    status = page.evaluate("fetch('/api/learner').then(function (r) { return r.status; })")
    assert status == 401
    assert errors == []
