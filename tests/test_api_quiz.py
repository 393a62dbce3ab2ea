"""Quizzes through the real app on a real SQLite file: the built-in quiz graded on the server,
and the Tally quiz scored by its signed webhook (support.tally stands in for Tally's side)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, cohort, move_on
from support.course import make_course
from support.journey import RIGHT, post_hook, reach_tally_step, rows, watch_and_move_on
from support.small_course import small_cohort, submit_quiz
from support.tally import tally_payload


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


# -- the built-in quiz -------------------------------------------------------------------------


def test_api_quiz_graded_on_server_with_retake(app: Cohort) -> None:
    _, browser = app.learner()
    watch_and_move_on(app, browser)
    wrong = submit_quiz(browser, "quiz-1", [0, [0]]).json()
    assert (
        wrong["score"],
        wrong["passed"],
        wrong["correct"],
        wrong["explanations"],
        wrong["nextStep"],
        wrong["feedback"],
    ) == (0, False, None, [], None, "score"), "a failure never says which question was right"
    half = submit_quiz(browser, "quiz-1", [1, [0]]).json()
    assert (half["score"], half["passed"], half["correct"]) == (0.5, False, None)
    right = submit_quiz(browser, "quiz-1", RIGHT).json()
    assert (right["score"], right["passed"], right["perfect"]) == (1, True, True)
    assert right["correct"] == [True, True], "a pass says everything"
    assert right["explanations"] == ["", "<p>Divisibles par deux.</p>"]
    assert {"cause": "quiz:quiz-1", "amount": 50} in right["xp"]
    assert {"cause": "module:M1", "amount": 100} in right["xp"]
    assert not any(a["cause"].startswith("quiz-perfect:") for a in right["xp"]), (
        "the perfect bonus is for a perfect first attempt only"
    )
    assert set(right["badges"]) >= {"first-quiz", "som-complete"}
    assert "perfectionist" not in right["badges"]
    assert right["nextStep"]["id"] == "texte"
    assert rows(app, "SELECT COUNT(*), SUM(passed) FROM quiz_attempts") == [(3, 1)]


@pytest.mark.parametrize(
    "answers", [[1], [1, [0, 2], 0], [5, [0]], [1, [0, 0]], [[0, 1], [0]], "1,0", [True, [0]]]
)
def test_api_quiz_rejects_malformed_answers(app: Cohort, answers: object) -> None:
    _, browser = app.learner()
    watch_and_move_on(app, browser)
    assert_error(submit_quiz(browser, "quiz-1", answers), 422, "invalid_answers")
    assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(0,)]


# -- Tally -------------------------------------------------------------------------------------


def test_api_tally_hook_scores_the_open_step_once(app: Cohort) -> None:
    _, browser = app.learner()
    token = reach_tally_step(app, browser)
    low = post_hook(app, tally_payload(token, 40, "resp-low")).json()
    assert (low["passed"], low["score"]) == (False, 0.4)
    body = tally_payload(token, 90, "resp-high")
    passed = post_hook(app, body).json()
    assert (passed["passed"], passed["perfect"]) == (True, False)
    assert {"cause": "quiz:final", "amount": 50} in passed["xp"] and {
        "cause": "module:M2",
        "amount": 100,
    } in passed["xp"]
    assert post_hook(app, body).json() == {**passed, "replayed": True}, (
        "Tally retries: same answer, nothing new"
    )
    progress = browser.get("/api/learner").json()
    assert progress["currentStep"]["id"] == "final" and progress["currentStepDone"] is True
    assert progress["completed"][-1] == "final"
    assert move_on(browser, "final").json()["nextStep"] is None, "the end of the course"
    assert browser.get("/api/learner").json()["currentStep"] is None
    assert rows(app, "SELECT COUNT(*) FROM xp_logs WHERE cause = 'quiz:final'") == [(1,)]
    assert rows(app, "SELECT source, passed FROM quiz_attempts WHERE step_id = 'final'") == [
        ("tally", 0),
        ("tally", 1),
    ]
    assert browser.get("/kms/").status_code == 200


def test_api_tally_hook_refuses_bad_signatures_and_forged_fields(app: Cohort) -> None:
    _, browser = app.learner()
    token = reach_tally_step(app, browser)
    body = tally_payload(token, 100)
    assert_error(post_hook(app, body, signature=None), 401, "bad_signature")
    assert_error(post_hook(app, body, signature="bm90IHRoZSBzaWduYXR1cmU="), 401, "bad_signature")
    learner_id, step, expires, mac = token.split(".")
    forged = ".".join(["u_someoneelse", step, expires, mac])
    assert_error(post_hook(app, tally_payload(forged, 100)), 401, "bad_hidden_field")
    assert_error(post_hook(app, tally_payload("garbage", 100)), 422, "bad_hidden_field")
    assert_error(post_hook(app, tally_payload(token, 250)), 422, "no_score")
    assert_error(post_hook(app, tally_payload(token, 100, form="otherForm")), 422, "wrong_form")
    app.clock.advance(days=8)
    assert_error(post_hook(app, tally_payload(token, 100)), 422, "expired_hidden_field")
    assert rows(app, "SELECT COUNT(*) FROM quiz_attempts WHERE step_id = 'final'") == [(0,)]


def test_api_tally_link_only_for_the_open_tally_step(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(browser.get("/api/tally-link?stepId=final"), 403, "step_locked")
    assert_error(browser.get("/api/tally-link?stepId=intro"), 422, "not_a_tally_quiz")
    assert_error(app.client.get("/api/tally-link?stepId=final"), 401, "unauthorized")


def test_api_tally_disabled_without_secret(tmp_path: Path) -> None:
    content = make_course(tmp_path / "course")
    with cohort(content, tmp_path, tally_secret=None) as running:
        assert_error(
            running.client.post(
                "/api/tally-hook", content=b"{}", headers={"Content-Type": "application/json"}
            ),
            503,
            "tally_disabled",
        )
