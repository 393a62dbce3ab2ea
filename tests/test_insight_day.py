"""A teacher's day with the cohort insight (issue 15, point 18): a learner who never signed in
is told apart from one stuck on the first step, each learner says when they were last active
(API, CSV, the migration that backfills it, Cloudflare Access), and the admin page shows both
and re-issues a learner's link or resets them, in Chromium against a real `serve`."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import page_errors, screenshot
from support.client import Cohort, event
from support.course import ROOT
from support.insight import DAY, act, at, get, insight_cohort, table
from support.launch import ADMIN, Site

from api.sqlite import migrate

T0 = "2026-11-24T09:00:00.000Z"  # support.insight's clock start: when the team signs in
LAST_ACTIVE = "2026-11-24T11:00:00.000Z"  # Ada's return 2 h later (her session is seen again)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with insight_cohort(tmp_path) as running:
        yield running


def day_of_a_team(app: Cohort) -> None:
    """Team blue at T0: Ada and Bob sign in and open the course (placed on 'lire'), Ada comes
    back 2 h later, neither moves on; Gus signs in but never opens the course (not placed);
    Eve never signs in, but the teacher looked her up (which places her on 'lire'); Fay never
    signs in. Then eight days pass (more than the 7 stall days)."""
    at(app, 0)
    ada = app.learner("Ada", "blue")[1]
    assert ada.get("/api/learner").status_code == 200
    assert app.learner("Bob", "blue")[1].get("/api/learner").status_code == 200
    app.learner("Gus", "blue")
    eve = app.enroll("Eve", "blue")["userId"]
    app.enroll("Fay", "blue")
    looked = app.client.get(f"/api/learner?userId={eve}", headers=app.admin())
    assert looked.json()["currentStep"]["id"] == "lire"
    at(app, 7200)
    assert ada.get("/api/learner").status_code == 200
    at(app, 8 * DAY)


def test_insight_day_never_signed_in_is_on_no_step_and_never_stalled(app: Cohort) -> None:
    day_of_a_team(app)
    body = get(app, "/api/admin/insight?teamId=blue").json()
    lire = body["steps"][0]
    assert (lire["onStep"], lire["stalled"]) == (2, 2), "Ada and Bob: Eve never signed in"
    assert (body["learners"], body["neverSignedIn"], body["notStarted"], body["finished"]) == (
        5,
        2,  # Eve (placed by the teacher's look) and Fay
        1,  # Gus: signed in, never opened the course
        0,
    )
    on_steps = sum(step["onStep"] for step in body["steps"])
    parts = body["neverSignedIn"] + body["notStarted"] + body["finished"] + on_steps
    assert parts + body["elsewhere"] == body["learners"], "each learner counted once"
    rows = table(get(app, "/api/admin/insight.csv?teamId=blue"))
    assert (rows[0]["stepId"], rows[0]["onStep"], rows[0]["stalled"]) == ("lire", "2", "2")


def test_insight_day_learners_say_where_and_when_last_active(app: Cohort) -> None:
    day_of_a_team(app)
    listed = get(app, "/api/admin/learners?teamId=blue").json()["learners"]
    sheet = table(get(app, "/api/admin/insight.csv?teamId=blue&table=learners"))
    expected = [
        ("Ada", "lire", LAST_ACTIVE),
        ("Bob", "lire", T0),
        ("Eve", "(never signed in)", ""),
        ("Fay", "(never signed in)", ""),
        ("Gus", "(not started)", T0),
    ]
    assert [(r["name"], r["currentStep"], r["lastActive"]) for r in listed] == expected
    assert [(r["name"], r["currentStep"], r["lastActive"]) for r in sheet] == expected
    assert list(sheet[0])[-4:] == ["lastActive", "notes", "stalled", "lastReminded"]


def test_insight_day_last_active_follows_the_learner_to_the_hour(app: Cohort) -> None:
    at(app, 0)
    created, browser = app.learner("Ada", "blue")
    assert browser.get("/api/learner").status_code == 200

    def last_active() -> str:
        return str(get(app, "/api/admin/learners?teamId=blue").json()["learners"][0]["lastActive"])

    assert last_active() == T0  # signed in
    at(app, 1800)
    act(browser, "lire")
    assert last_active() == T0, "written at most once an hour"
    at(app, 3 * DAY)
    browser.get("/api/learner")
    assert last_active() == "2026-11-27T09:00:00.000Z"
    reissued = app.client.post(
        "/api/admin/invite",
        json={"userId": created["userId"], "revokeSessions": True},
        headers=app.admin(),
    )
    assert reissued.status_code == 201, reissued.text
    assert last_active() == "2026-11-27T09:00:00.000Z", "ending the sessions keeps it"
    assert get(app, "/api/admin/insight?teamId=blue").json()["neverSignedIn"] == 0


class StandInAccess:
    """The part of api.access.AccessVerifier the API calls: whose assertion it is."""

    def __init__(self, email: str) -> None:
        self.address = email

    def email(self, assertion: str) -> str:
        return self.address


def test_insight_day_access_learners_are_seen_without_a_session(tmp_path: Path) -> None:
    """Cloudflare Access mode: no session, so the request itself marks the learner seen."""
    verifier = StandInAccess("ada@example.org")
    with insight_cohort(tmp_path, access=verifier) as app:
        at(app, 0)
        app.enroll("Ada", "blue", email="ada@example.org")
        assert get(app, "/api/admin/insight?teamId=blue").json()["neverSignedIn"] == 1
        headers = {"Cf-Access-Jwt-Assertion": "signed"}
        at(app, 60)
        assert app.client.get("/api/learner", headers=headers).status_code == 200
        at(app, 600)
        body = {"eventId": event(), "stepId": "lire"}
        assert app.client.post("/api/lesson-done", json=body, headers=headers).status_code == 200
        learner = get(app, "/api/admin/learners?teamId=blue").json()["learners"][0]
        assert learner["lastActive"] == "2026-11-24T09:01:00.000Z"  # to the hour
        assert get(app, "/api/admin/insight?teamId=blue").json()["neverSignedIn"] == 0


# Learners as a database from before 0006 held them: Ada signed in (her session is gone, her
# invite says when), Bob's session was seen later than his last event, Cy has events only (an
# Access learner), Dee never signed in.
BEFORE_0006 = """
INSERT INTO learners (id, name, email, team_id, created_at) VALUES
  ('a', 'Ada', 'a@x', 'blue', 't0'), ('b', 'Bob', 'b@x', 'blue', 't0'),
  ('c', 'Cy', 'c@x', 'blue', 't0'), ('d', 'Dee', 'd@x', 'blue', 't0');
INSERT INTO signin_links (token_hash, learner_id, kind, created_at, used_at) VALUES
  ('ha', 'a', 'invite', 't0', '2026-01-02'), ('hd', 'd', 'invite', 't0', NULL);
INSERT INTO sessions (token_hash, learner_id, created_at, expires_at, last_seen) VALUES
  ('sb', 'b', '2026-01-01', '2026-03-01', '2026-01-09');
INSERT INTO events (learner_id, event_id, kind, response, created_at) VALUES
  ('b', 'e1', 'lesson', '{}', '2026-01-05'), ('c', 'e2', 'lesson', '{}', '2026-01-07');
"""


def test_insight_day_migration_backfills_last_active(tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for migration in sorted((ROOT / "migrations").glob("*.sql")):
        if migration.name < "0006":
            (before / migration.name).write_text(migration.read_text())
    db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    migrate(db, before)
    db.executescript(BEFORE_0006)
    assert "0006_last_active.sql" in migrate(db)
    found = db.execute("SELECT id, active_at FROM learners ORDER BY id").fetchall()
    assert found == [("a", "2026-01-02"), ("b", "2026-01-09"), ("c", "2026-01-07"), ("d", None)]
    db.execute("UPDATE sessions SET last_seen = '2026-02-01' WHERE token_hash = 'sb'")
    db.execute(
        "INSERT INTO sessions (token_hash, learner_id, created_at, expires_at, last_seen) "
        "VALUES ('sd', 'd', '2026-02-02', '2026-03-02', '2026-02-02')"
    )
    found = db.execute("SELECT id, active_at FROM learners WHERE id IN ('b', 'd')").fetchall()
    assert found == [("b", "2026-02-01"), ("d", "2026-02-02")], "the triggers keep it"


# -- the admin page, in Chromium -----------------------------------------------------------------


def seed(site: Site) -> dict[str, str]:
    """Team blue: Ada signs in and watches the first video; Eve never signs in."""
    ada = site.enroll("Ada", team="blue")
    with httpx.Client(base_url=site.url) as learner:
        learner.post("/api/session", json={"inviteToken": ada["inviteToken"]})
        assert learner.get("/api/learner").status_code == 200
        body = {"eventId": event(), "stepId": "som01-bienvenue", "intervals": []}
        assert learner.post("/api/video-event", json=body).status_code == 200
        time.sleep(0.3)  # 95% of 9 s at 2x, less the 4 s slack: 0.275 s
        body = {"eventId": event(), "stepId": "som01-bienvenue", "intervals": [[0, 9]]}
        assert learner.post("/api/video-event", json=body).json()["complete"] is True
    eve = site.enroll("Eve", team="blue")
    return {"Ada": ada["userId"], "Eve": eve["userId"]}


def cells(page: Any, name: str) -> list[str]:
    row = page.locator("#admin-learners tbody tr", has_text=name).locator("td")
    return [" ".join(t.split()) for t in row.all_text_contents()]


def check_never_signed_in(page: Any) -> None:
    """Eve counted apart and named so in the learners table, which says when Ada was active."""
    assert page.text_content("[data-fill='never-signed-in']") == "1"
    page.click("#admin-learners summary")
    page.wait_for_selector("#admin-learners tbody tr", timeout=15_000)
    heads = page.locator("#admin-learners thead th").all_text_contents()
    assert "Dernière activité" in heads
    active = heads.index("Dernière activité") - 1  # the name is the row's header cell
    eve, ada = cells(page, "Eve"), cells(page, "Ada")
    assert eve[0] == ""  # never signed in: nobody to remind (the first column's box)
    assert (eve[1], eve[active]) == ("Jamais connecté", "–")
    assert ada[active] not in ("", "–") and ada[-2:] == ["Nouveau lien", "Réinitialiser"]
    page.locator("#admin-learners").scroll_into_view_if_needed()
    screenshot(page, "admin-insight-day-1280")


def check_reset(page: Any, site: Site, ada: str) -> None:
    """Ada's reset asks first: dismissed, nothing happens; accepted, her progress goes and the
    figures are shown again."""
    from playwright.sync_api import expect  # as support.browser: only for browser tests

    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        if len(asked) == 1:
            dialog.dismiss()
        else:
            dialog.accept()

    def completions() -> int:
        return int(site.rows("SELECT COUNT(*) FROM completions WHERE learner_id = ?", ada)[0][0])

    page.on("dialog", answer)
    row = page.locator("#admin-learners tbody tr", has_text="Ada")
    reset = row.locator("button[data-action='reset']")
    reset.click()
    assert completions() == 1, "dismissed: nothing happens"
    reset.click()
    page.wait_for_selector("#admin-reset-done:not([hidden])", timeout=15_000)
    assert "Ada" in asked[0] and len(asked) == 2
    assert "Ada" in page.text_content("#admin-reset-done")
    assert completions() == 0
    finished_by = "#admin-steps tbody tr[data-step-id='som01-bienvenue'] td:nth-child(6)"
    expect(page.locator(finished_by)).to_have_text(re.compile(r"^0 "), timeout=15_000)
    assert page.text_content("[data-fill='never-signed-in']") == "1"


@pytest.mark.slow
def test_insight_day_admin_page_tells_never_signed_in_and_resets(browser: Any, site: Site) -> None:
    ids = seed(site)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = page_errors(page)
    try:
        page.goto(site.url + "/admin/")
        page.fill("#admin-token", ADMIN)
        page.click("#admin-login button[type=submit]")
        page.wait_for_selector("#admin-steps tbody tr", timeout=15_000)
        check_never_signed_in(page)
        check_reset(page, site, ids["Ada"])
    finally:
        context.close()
    assert not problems, problems
