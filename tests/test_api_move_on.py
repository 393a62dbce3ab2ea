"""A finished step stays open until the learner moves on (README, "One open step"): completion
and XP come when the rules say so, the step (its fragment, its files, its video) stays the
learner's open step until POST /api/next, which is idempotent and race-safe like every event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, event, in_flight, move_on
from support.course import edit
from support.journey import (
    RIGHT,
    finish_module_one,
    post_hook,
    reach_tally_step,
    rows,
    watch,
    watch_whole_video,
)
from support.small_course import lesson_done, small_cohort, submit_quiz
from support.tally import tally_payload

from builder.config import BuildConfig
from builder.pipeline import build


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


def test_move_on_done_video_step_stays_open_until_next(app: Cohort) -> None:
    _, browser = app.learner()
    video = browser.get("/api/playback?stepId=intro").json()["url"]
    answer = watch_whole_video(app, browser)
    assert answer["complete"] is True and answer["nextStep"]["id"] == "quiz-1"
    me = browser.get("/api/learner").json()
    assert (me["currentStep"]["id"], me["currentStepDone"], me["completed"]) == (
        "intro",
        True,
        ["intro"],
    )
    assert me["xp"] == 15, "completion and XP when the rules say so"
    # A reload, or Back from a link in the text: the step, its video and files are still served.
    assert browser.get("/steps/intro.html").status_code == 200
    assert browser.get(video).status_code == 200
    assert browser.get("/api/playback?stepId=intro").status_code == 200
    assert_error(browser.get("/steps/quiz-1.html"), 403, "step_locked")
    again = watch(browser, [[0, 10]]).json()
    assert (again["complete"], again["xp"], again["badges"]) == (True, [], []), "watched again"
    moved = move_on(browser, "intro")
    assert moved.status_code == 200, moved.text
    assert moved.json() == {
        "stepId": "intro",
        "nextStep": {"id": "quiz-1", "type": "quiz", "title": "Quiz un", "module": "M1"},
        "xp": [],
        "badges": [],
    }
    me = browser.get("/api/learner").json()
    assert (me["currentStep"]["id"], me["currentStepDone"]) == ("quiz-1", False)
    assert_error(browser.get("/steps/intro.html"), 409, "step_closed")
    assert_error(browser.get(video), 403, "media_locked")
    assert me["xp"] == 15, "moving on awards nothing"


def test_move_on_refused_before_the_step_is_done(app: Cohort) -> None:
    _, browser = app.learner()
    watch(browser, [[0, 10]])
    body = assert_error(move_on(browser, "intro"), 409, "step_not_done")
    assert body["error"]["message"] == "Step 'intro' is not done yet: finish it first."
    assert_error(move_on(browser, "quiz-1"), 403, "step_locked")
    assert_error(move_on(browser, "nope"), 404, "unknown_step")
    assert_error(
        app.client.post("/api/next", json={"eventId": event(), "stepId": "intro"}),
        401,
        "unauthorized",
    )
    assert rows(app, "SELECT open_step FROM learners") == [("intro",)]
    assert rows(app, "SELECT COUNT(*) FROM events WHERE kind = 'next'") == [(0,)]


def test_move_on_replay_moves_once(app: Cohort) -> None:
    _, browser = app.learner()
    watch_whole_video(app, browser)
    eid = event()
    first = move_on(browser, "intro", eid).json()
    assert submit_quiz(browser, "quiz-1", RIGHT).json()["passed"] is True
    assert move_on(browser, "intro", eid).json() == {**first, "replayed": True}
    assert browser.get("/api/learner").json()["currentStep"]["id"] == "quiz-1"
    assert_error(move_on(browser, "intro"), 409, "step_closed")


def test_move_on_keeps_its_answer_in_the_learner_row_not_in_events(app: Cohort) -> None:
    """A move on writes one row, the learner's (issue 18): its answer is `last_move`, which
    its replay gets. An older move replayed after a later one is decided as new (its step is
    closed: 409, nothing written); the last move's id is refused to any other kind of event."""
    _, browser = app.learner()
    watch_whole_video(app, browser)
    first_move = event()
    assert move_on(browser, "intro", first_move).status_code == 200
    assert rows(app, "SELECT COUNT(*) FROM events WHERE event_id = ?", first_move) == [(0,)]
    last = "SELECT json_extract(last_move, '$.eventId') FROM learners"
    assert rows(app, last) == [(first_move,)]
    reused = submit_quiz(browser, "quiz-1", RIGHT, eid=first_move)
    assert_error(reused, 409, "event_id_reused")
    assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(0,)]
    assert submit_quiz(browser, "quiz-1", RIGHT).json()["passed"] is True
    second_move = event()
    answer = move_on(browser, "quiz-1", second_move).json()
    assert rows(app, last) == [(second_move,)]
    before = rows(app, "SELECT * FROM learners"), rows(app, "SELECT COUNT(*) FROM events")
    assert_error(move_on(browser, "intro", first_move), 409, "step_closed")
    assert move_on(browser, "quiz-1", second_move).json() == {**answer, "replayed": True}
    assert (rows(app, "SELECT * FROM learners"), rows(app, "SELECT COUNT(*) FROM events")) == before


def test_move_on_passed_quiz_and_read_lesson_stay_open_without_new_attempts(app: Cohort) -> None:
    _, browser = app.learner()
    watch_whole_video(app, browser)
    move_on(browser, "intro")
    assert submit_quiz(browser, "quiz-1", RIGHT).json()["passed"] is True
    assert browser.get("/steps/quiz-1.html").status_code == 200
    again = assert_error(submit_quiz(browser, "quiz-1", RIGHT), 409, "step_done")
    assert again["error"]["message"] == "Step 'quiz-1' is passed: move on to the next step."
    assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(1,)]
    move_on(browser, "quiz-1")
    first = lesson_done(browser, "texte").json()
    second = lesson_done(browser, "texte").json()
    assert (second["complete"], second["xp"], second["nextStep"]) == (True, [], first["nextStep"])
    assert rows(app, "SELECT COUNT(*) FROM xapi_statements WHERE statement LIKE '%texte%'") == [
        (1,)
    ], "a second click records nothing"


def test_move_on_at_the_end_of_the_course(app: Cohort) -> None:
    _, browser = app.learner()
    token = reach_tally_step(app, browser)
    assert post_hook(app, tally_payload(token, 90)).json()["passed"] is True
    me = browser.get("/api/learner").json()
    assert (me["currentStep"]["id"], me["currentStepDone"], me["summary"]) == ("final", True, None)
    assert move_on(browser, "final").json()["nextStep"] is None
    me = browser.get("/api/learner").json()
    assert (me["currentStep"], me["currentStepDone"]) == (None, False)
    # The end of the course: a summary for the finished panel.
    assert me["summary"]["quizzes"] == [
        {"stepId": "quiz-1", "title": "Quiz un", "score": 1.0},
        {"stepId": "final", "title": "Évaluation", "score": 0.9},
    ]
    ((seconds,),) = rows(app, "SELECT SUM(seconds) FROM completions")
    assert me["summary"]["seconds"] == round(seconds) > 0


def test_move_on_tally_result_is_polled_on_the_attempt(app: Cohort) -> None:
    """The player polls GET /api/quiz-attempt for a Tally step: a new attempt and its score."""
    _, browser = app.learner()
    token = reach_tally_step(app, browser)
    before = browser.get("/api/quiz-attempt?stepId=final").json()
    assert (before["tried"], before["lastScore"]) == (0, None)
    post_hook(app, tally_payload(token, 40, "resp-low"))
    failed = browser.get("/api/quiz-attempt?stepId=final").json()
    assert (failed["tried"], failed["failed"], failed["lastScore"]) == (1, 1, 0.4)
    post_hook(app, tally_payload(token, 90, "resp-high"))
    passed = browser.get("/api/quiz-attempt?stepId=final").json()
    assert (passed["tried"], passed["failed"], passed["lastScore"]) == (2, 0, 0.9)


def test_move_on_races_a_reset_and_never_leaves_an_undone_step(app: Cohort) -> None:
    """Sent with an admin reset (D1-style: each statement a round trip): either order is
    right, but the move never lands on the reset learner, whose 'intro' is no longer done."""
    created, browser = app.learner()
    watch_whole_video(app, browser)
    cookie = {"sillon_session": browser.cookies["sillon_session"]}
    responses = in_flight(
        app,
        [
            (cookie, {}, "/api/next", {"eventId": event(), "stepId": "intro"}),
            ({}, app.admin(), "/api/admin/reset", {"userId": created["userId"]}),
        ],
        yielding=True,
    )
    assert [r.status_code for r in responses][1] == 200
    assert responses[0].status_code in (200, 409), responses[0].text
    me = browser.get("/api/learner").json()
    assert (me["currentStep"]["id"], me["currentStepDone"], me["completed"]) == (
        "intro",
        False,
        [],
    )


def test_move_on_republish_keeps_the_done_step_open(app: Cohort, tmp_path: Path) -> None:
    _, browser = app.learner()
    finish_module_one(app, browser)
    assert lesson_done(browser, "texte").status_code == 200  # done, not left
    edit(
        app.content,
        "modules/m2/module.yaml",
        "steps: [texte.md, tally.yaml]",
        "steps: [texte.md, bonus.md, tally.yaml]",
    )
    (app.content / "modules/m2/bonus.md").write_text("---\nid: bonus\ntitle: Bonus\n---\nTexte.\n")
    config = BuildConfig.make(
        content=app.content, out=tmp_path / "site", private=tmp_path / "private", disk_cache=False
    )
    build(config)
    manifest = (tmp_path / "private/manifest.json").read_bytes()
    headers = {**app.admin(), "Content-Type": "application/json"}
    assert app.client.post("/api/admin/publish", content=manifest, headers=headers).is_success
    me = browser.get("/api/learner").json()
    assert (me["currentStep"]["id"], me["currentStepDone"]) == ("texte", True)
    assert move_on(browser, "texte").json()["nextStep"]["id"] == "bonus"


def test_move_on_is_documented(app: Cohort) -> None:
    document = app.client.get("/api/openapi.json").json()
    assert "post" in document["paths"]["/api/next"]
    progress = document["components"]["schemas"]["Progress"]["properties"]
    assert progress["currentStepDone"]["type"] == "boolean"
