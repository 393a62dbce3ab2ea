"""Failing examples the progression model (tests/test_model.py) found, made small: an answer
announcing awards not made after a reset, and two races under D1-style interleaving (every
statement a round trip, as in tests/test_api_interleaving.py)."""

from __future__ import annotations

from pathlib import Path

from support.client import Call, cohort, event, in_flight
from support.course import make_course
from support.journey import finish_module_one, rows, watch_whole_video


def test_answer_after_reset_awards_nothing(tmp_path: Path) -> None:
    """Found by the model: enroll, watch the video, admin reset, watch it again.

    XP and badges are earned once (the reset keeps them, the database awards nothing again), but
    the second completion answers `xp: [{"cause": "video:intro", "amount": 10}]` and
    `badges: ["first-video"]`: the player would show XP and a badge that were not awarded.
    """
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        created, browser = app.learner()
        first = watch_whole_video(app, browser)
        assert first["complete"] and first["badges"] == ["first-video"]
        reset = app.client.post(
            "/api/admin/reset", json={"userId": created["userId"]}, headers=app.admin()
        )
        assert reset.status_code == 200
        xp = browser.get("/api/learner").json()["xp"]
        again = watch_whole_video(app, browser)
        assert again["complete"] is True
        assert browser.get("/api/learner").json()["xp"] == xp, "nothing awarded twice"
        assert (again["xp"], again["badges"]) == ([], []), (
            f"the answer reports awards that were not made: {again['xp']}, {again['badges']}"
        )


def test_d1_race_admin_reset_during_lesson_done_keeps_a_completion(tmp_path: Path) -> None:
    """Found by the model, with D1-style interleaving (each statement a round trip).

    A lesson-done and an admin reset in flight together both answer 200. The lesson read the
    learner before the reset and writes after it: `completions` keeps 'texte' while the reset
    put the open step back to 'intro'. The path rule is broken (the open step should follow the
    furthest completion), and once the learner passes quiz-1 again the open step is 'texte', a
    step they completed. Sequentially, the reset would have removed every completion.
    """
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        created, browser = app.learner()
        finish_module_one(app, browser)  # the open step is then 'texte'
        cookie = {"sillon_session": browser.cookies["sillon_session"]}
        lesson = {"eventId": event(), "stepId": "texte"}
        responses = in_flight(
            app,
            [
                (cookie, {}, "/api/lesson-done", lesson),
                ({}, app.admin(), "/api/admin/reset", {"userId": created["userId"]}),
            ],
            yielding=True,
        )
        # Either order is a correct outcome: the lesson first (200, then the reset removes its
        # completion) or the reset first (the lesson is then locked, 403). Never both halves.
        lesson_status, reset_status = (r.status_code for r in responses)
        assert (lesson_status in (200, 403), reset_status) == (True, 200), [
            r.text for r in responses
        ]
        progress = app.client.get(
            f"/api/learner?userId={created['userId']}", headers=app.admin()
        ).json()
        assert progress["currentStep"]["id"] == "intro"
        assert rows(app, "SELECT step_id FROM completions") == [], (
            "a completion written by a request that read the learner before the reset survives it"
        )


def test_d1_race_two_lesson_done_complete_the_step_twice(tmp_path: Path) -> None:
    """Found by the model, with D1-style interleaving: two lesson-done for the open lesson
    (two event ids, e.g. two tabs) both answer `complete` with the day's +5 XP, though the
    database awards it once. The lesson stays open until the learner moves on: sequentially the
    second answers `complete` with no XP and writes nothing.
    """
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        _, browser = app.learner()
        finish_module_one(app, browser)  # the open step is then 'texte'
        app.clock.advance(days=1)  # a new learning day: the lesson earns +5
        xp = browser.get("/api/learner").json()["xp"]
        cookie = {"sillon_session": browser.cookies["sillon_session"]}
        calls: list[Call] = [
            (cookie, {}, "/api/lesson-done", {"eventId": event(), "stepId": "texte"})
            for _ in range(2)
        ]
        responses = in_flight(app, calls, yielding=True)
        answered = sum(
            award["amount"] for r in responses if r.status_code == 200 for award in r.json()["xp"]
        )
        assert browser.get("/api/learner").json()["xp"] == xp + 5, "the database awards once"
        assert answered == 5, f"the answers announce {answered} XP for 5 awarded"
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        assert all(r.json()["complete"] for r in responses)
