"""Awards and what follows the path through the real app on a real SQLite file: XP once per
cause, the handout opening by module, leaderboards, streaks by local day, an admin reset, and a
republished course."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, event, move_on
from support.course import edit
from support.journey import (
    RIGHT,
    finish_module_one,
    rows,
    watch,
    watch_and_move_on,
    watch_whole_video,
)
from support.small_course import lesson_done, small_cohort, submit_quiz

from builder.config import BuildConfig
from builder.pipeline import build


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


def test_api_course_end_and_kms_unlock_per_module(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(browser.get("/kms/M1/fiche.html"), 403, "kms_locked")
    assert_error(browser.get("/kms/"), 403, "kms_locked")
    finish_module_one(app, browser)
    assert browser.get("/kms/M1/fiche.html").status_code == 200
    assert browser.get("/kms/M1/script.sql").status_code == 200
    assert browser.get("/kms/").status_code == 200
    done = lesson_done(browser, "texte").json()
    assert done["nextStep"] == {
        "id": "final",
        "type": "quiz",
        "title": "Évaluation",
        "module": "M2",
    }
    assert_error(app.client.get("/kms/M1/fiche.html"), 401, "unauthorized")


def test_api_xp_equals_sum_of_logs_and_awards_once(app: Cohort) -> None:
    _, browser = app.learner()
    watch_and_move_on(app, browser)
    submit_quiz(browser, "quiz-1", RIGHT)
    move_on(browser, "quiz-1")
    eid = event()
    for _ in range(3):
        lesson_done(browser, "texte", eid=eid)
    ((xp,),) = rows(app, "SELECT xp FROM learners")
    assert rows(app, "SELECT SUM(amount) FROM xp_logs") == [(xp,)]
    assert xp == 10 + 50 + 25 + 100 + 5
    causes = [c for (c,) in rows(app, "SELECT cause FROM xp_logs")]
    assert len(causes) == len(set(causes))


def test_api_leaderboard_team_periods_and_rank(app: Cohort) -> None:
    ada, ada_browser = app.learner("Ada", "blue")
    bob, bob_browser = app.learner("Bob", "blue")
    app.learner("Cyd", "red")
    finish_module_one(app, ada_browser)
    app.clock.advance(days=10)
    watch_whole_video(app, bob_browser)
    board = bob_browser.get("/api/leaderboard?period=all").json()
    assert [(e["name"], e["xp"], e["me"]) for e in board["entries"]] == [
        ("Ada", 190, False),
        ("Bob", 15, True),
    ]
    week = bob_browser.get("/api/leaderboard?teamId=blue&period=7d").json()
    assert [(e["name"], e["xp"]) for e in week["entries"]] == [("Bob", 15), ("Ada", 0)]
    assert [e["rank"] for e in week["entries"]] == [1, 2]
    assert_error(bob_browser.get("/api/leaderboard?teamId=red"), 403, "other_team")
    assert_error(bob_browser.get("/api/leaderboard?period=1y"), 422, "invalid")
    assert_error(app.client.get("/api/leaderboard?teamId=blue"), 401, "unauthorized")
    red = app.client.get("/api/leaderboard?teamId=red&period=30d", headers=app.admin()).json()
    assert [e["name"] for e in red["entries"]] == ["Cyd"]
    assert ada["userId"] != bob["userId"]


def test_api_streak_counts_local_days_once(app: Cohort) -> None:
    _, browser = app.learner("Ada", tz="Pacific/Auckland")  # UTC+13 in November
    app.clock.now = app.clock.now.replace(hour=10)  # 23:00 in Auckland
    watch(browser, [[0, 10]])
    app.clock.advance(minutes=30)  # 23:30 local: the same day
    watch(browser, [[10, 20]])
    app.clock.advance(minutes=60)  # 00:30 local: the next day
    watch(browser, [[20, 30]])
    app.clock.advance(days=2)  # a day skipped: the streak starts again
    watch(browser, [[30, 40]])
    body = browser.get("/api/learner").json()
    assert body["streak"] == {"current": 1, "best": 2, "lastDay": "2026-11-27"}
    assert sorted(c for (c,) in rows(app, "SELECT cause FROM xp_logs")) == [
        "day:2026-11-24",
        "day:2026-11-25",
        "day:2026-11-27",
    ]


def test_api_admin_reset_starts_again_keeping_awards(app: Cohort) -> None:
    created, browser = app.learner()
    finish_module_one(app, browser)
    xp = browser.get("/api/learner").json()["xp"]
    assert_error(
        app.client.post("/api/admin/reset", json={"userId": created["userId"]}), 401, "unauthorized"
    )
    response = app.client.post(
        "/api/admin/reset", json={"userId": created["userId"]}, headers=app.admin()
    )
    assert response.json()["currentStep"]["id"] == "intro"
    body = browser.get("/api/learner").json()
    assert (body["currentStep"]["id"], body["completed"], body["xp"]) == ("intro", [], xp)
    watch_whole_video(app, browser)
    assert browser.get("/api/learner").json()["xp"] == xp, (
        "awards are earned once, even after a reset"
    )


def insert_steps_around_the_learner(content: Path) -> None:
    """A new step before the learner's position ('texte') and one after it; no more quiz-1."""
    edit(
        content,
        "modules/m1/module.yaml",
        "steps: [intro.md, quiz.yaml]",
        "steps: [nouveau.md, intro.md]",
    )
    (content / "modules/m1/nouveau.md").write_text(
        "---\nid: nouveau\ntitle: Nouveau\n---\nTexte.\n"
    )
    edit(
        content,
        "modules/m2/module.yaml",
        "steps: [texte.md, tally.yaml]",
        "steps: [texte.md, bonus.md, tally.yaml]",
    )
    (content / "modules/m2/bonus.md").write_text("---\nid: bonus\ntitle: Bonus\n---\nTexte.\n")


def test_api_republish_keeps_learners_moving_forward(app: Cohort, tmp_path: Path) -> None:
    _, browser = app.learner()
    finish_module_one(app, browser)  # open: texte (M2)
    insert_steps_around_the_learner(app.content)
    config = BuildConfig.make(
        content=app.content, out=tmp_path / "site", private=tmp_path / "private", disk_cache=False
    )
    build(config)
    manifest = (tmp_path / "private/manifest.json").read_bytes()
    response = app.client.post(
        "/api/admin/publish",
        content=manifest,
        headers={**app.admin(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    body = browser.get("/api/learner").json()
    assert body["currentStep"]["id"] == "texte", "the inserted step 'nouveau' is behind the learner"
    done = lesson_done(browser, "texte").json()
    assert done["nextStep"]["id"] == "bonus"
    assert_error(lesson_done(browser, "nouveau"), 409, "step_closed")
