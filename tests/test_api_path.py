"""The learner's path through the real app on a real SQLite file: videos completed by the
server's rules, steps that are locked or closed, step fragments, playback, event ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, cohort, event, move_on
from support.course import make_course
from support.journey import RIGHT, rows, watch, watch_whole_video
from support.small_course import lesson_done, small_cohort, submit_quiz


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


# -- videos ------------------------------------------------------------------------------------


def test_api_video_completes_from_server_rules(app: Cohort) -> None:
    _, browser = app.learner()
    first = watch(browser, [[0, 10]]).json()
    assert (first["watched"], first["required"], first["complete"]) == (10, 114, False)
    answer = watch_whole_video(app, browser)
    assert answer["complete"] is True and answer["nextStep"]["id"] == "quiz-1"
    assert {"cause": "video:intro", "amount": 10} in answer["xp"] and "first-video" in answer[
        "badges"
    ]
    progress = browser.get("/api/learner").json()
    assert progress["completed"] == ["intro"] and progress["currentStep"]["id"] == "intro"
    assert progress["currentStepDone"] is True, "done, it stays open until the learner moves on"
    assert progress["xp"] == 15, "video +10 and the first learning day +5"


def test_api_video_replay_returns_first_answer_and_changes_nothing(app: Cohort) -> None:
    _, browser = app.learner()
    eid = event()
    first = watch(browser, [[0, 10]], eid=eid).json()
    app.clock.advance(seconds=30)
    again = watch(browser, [[10, 60]], eid=eid).json()
    assert again == {**first, "replayed": True}
    assert rows(app, "SELECT watched FROM video_views") == [(10.0,)]


@pytest.mark.parametrize(
    "spans, code",
    [
        ([[0, 60]], "implausible_watch"),  # a minute of video in the first report
        ([[0, 500]], "invalid_intervals"),  # beyond the real duration
        ([[30, 10]], "invalid_intervals"),
        ([[-5, 3]], "invalid_intervals"),
        ([[0, "10"]], "invalid_intervals"),
        ("0-10", "invalid_intervals"),
        ([[0, 1]] * 201, "invalid_intervals"),
    ],
)
def test_api_video_refuses_impossible_reports(app: Cohort, spans: object, code: str) -> None:
    _, browser = app.learner()
    assert_error(watch(browser, spans), 422, code)  # type: ignore[arg-type]
    assert rows(app, "SELECT COUNT(*) FROM video_views") == [(0,)]
    assert rows(app, "SELECT COUNT(*) FROM events") == [(0,)]


def test_api_video_refuses_infinite_numbers(app: Cohort) -> None:
    _, browser = app.learner()
    for raw in (b"[[0, 1e400]]", b"[[0, Infinity]]", b"[[NaN, 3]]"):
        body = b'{"eventId": "%s", "stepId": "intro", "intervals": %s}' % (event().encode(), raw)
        response = browser.post(
            "/api/video-event", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422) and "error" in response.json()
    assert rows(app, "SELECT COUNT(*) FROM video_views") == [(0,)]


def test_api_video_16x_speed_is_refused(app: Cohort) -> None:
    _, browser = app.learner()
    assert watch(browser, [[0, 8]]).status_code == 200
    for second in range(8, 120, 32):  # 32 s of media every 2 s of wall clock: 16x
        app.clock.advance(seconds=2)
        response = watch(browser, [[second, second + 32]])
        if response.status_code != 200:
            break
    assert_error(response, 422, "implausible_watch")
    assert browser.get("/api/learner").json()["currentStep"]["id"] == "intro"


@pytest.mark.parametrize("duration", [3, 8, 10, 12, 30])
def test_api_short_video_completes_only_after_its_time_at_the_speed_cap(
    tmp_path: Path, duration: int
) -> None:
    """Attack: claim a short video whole in the first report (the 10 s grace admits it). It is
    recorded but completes only once the required share at 2x, less the 4 s slack, has
    passed on the wall clock since that first report: never before, for every duration."""
    content = make_course(tmp_path / "course", duration=duration, unlock="module")
    with cohort(content, tmp_path) as app:
        _, browser = app.learner()
        earliest = max(0.0, 0.95 * duration / 2 - 4)
        claimed = min(duration, 10)
        first = watch(browser, [[0, claimed]]).json()
        elapsed = (duration - claimed) / 2  # the rest as soon as 2x allows it
        if elapsed:
            app.clock.advance(seconds=elapsed)
            first = watch(browser, [[claimed, duration]]).json()
        wait = earliest - elapsed
        assert first["complete"] is (wait <= 0), first
        assert first["completesIn"] == (round(wait, 3) if wait > 0 else None), first
        if wait <= 0:
            return
        app.clock.advance(seconds=wait / 2)
        early = watch(browser, []).json()
        assert early["complete"] is False and early["completesIn"] == round(wait / 2, 3), early
        assert rows(app, "SELECT step_id FROM completions") == []
        app.clock.advance(seconds=wait / 2)
        done = watch(browser, []).json()
        assert done["complete"] is True and done["completesIn"] is None, done
        assert rows(app, "SELECT step_id FROM completions") == [("intro",)]


def test_api_video_seeking_ahead_does_not_complete(app: Cohort) -> None:
    _, browser = app.learner()
    watch(browser, [[0, 5]])
    app.clock.advance(minutes=10)
    answer = watch(browser, [[110, 120]]).json()
    assert (answer["watched"], answer["complete"]) == (15, False)


def test_api_playback_of_the_open_video(app: Cohort) -> None:
    _, browser = app.learner()
    body = browser.get("/api/playback?stepId=intro").json()
    assert (
        body["url"].startswith("/media/clip.") and body["duration"] == 120 and body["resumeAt"] == 0
    )
    assert browser.get(body["url"]).status_code == 200
    watch(browser, [[0, 10]])
    app.clock.advance(seconds=10)
    watch(browser, [[10, 25], [40, 45]])
    body = browser.get("/api/playback?stepId=intro").json()
    assert (body["intervals"], body["resumeAt"], body["maxRate"]) == ([[0, 25], [40, 45]], 25, 2.0)
    assert_error(browser.get("/api/playback?stepId=quiz-1"), 403, "step_locked")
    assert_error(app.client.get(body["url"]), 401, "unauthorized")


# -- the order of the steps --------------------------------------------------------------------


def test_api_past_and_future_steps_are_refused(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(lesson_done(browser, "texte"), 403, "step_locked")
    assert_error(submit_quiz(browser, "quiz-1", RIGHT), 403, "step_locked")
    assert_error(browser.get("/steps/quiz-1.html"), 403, "step_locked")
    assert browser.get("/steps/intro.html").status_code == 200
    video = browser.get("/api/playback?stepId=intro").json()["url"]
    assert browser.get(video).status_code == 200
    watch_whole_video(app, browser)
    assert browser.get(video).status_code == 200, (
        "a done step stays open until the learner moves on"
    )
    assert_error(browser.get("/steps/quiz-1.html"), 403, "step_locked")
    assert move_on(browser, "intro").status_code == 200
    assert_error(browser.get(video), 403, "media_locked")
    assert_error(watch(browser, [[0, 5]]), 409, "step_closed")
    assert_error(browser.get("/steps/intro.html"), 409, "step_closed")
    assert browser.get("/steps/quiz-1.html").status_code == 200
    assert_error(lesson_done(browser, "nope"), 404, "unknown_step")
    assert_error(browser.get("/steps/nope.html"), 404, "unknown_step")


def test_api_step_fragments_need_a_session(app: Cohort) -> None:
    assert_error(app.client.get("/steps/intro.html"), 401, "unauthorized")
    assert app.client.get("/steps/intro.html", headers=app.admin()).status_code == 200


def test_api_event_id_reused_for_another_kind(app: Cohort) -> None:
    _, browser = app.learner()
    eid = event()
    watch(browser, [[0, 5]], eid=eid)
    assert_error(submit_quiz(browser, "quiz-1", RIGHT, eid=eid), 409, "event_id_reused")
    assert_error(lesson_done(browser, "intro", eid="short"), 422, "invalid")


def test_api_wrong_endpoint_for_step_kind(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(lesson_done(browser, "intro"), 422, "not_a_text_lesson")
    assert_error(submit_quiz(browser, "intro", []), 422, "not_a_quiz")
