"""The API contract on a real SQLite file through the real app: identity, path, awards."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, cohort, event
from support.clock import ADMIN
from support.course import make_course
from test_validation import edit

RIGHT = [1, [0, 2]]  # the small course's quiz answers


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as running:
        yield running


def watch(
    app: Cohort, browser, spans: list[list[float]], step: str = "intro", eid: str | None = None
):  # type: ignore[no-untyped-def]
    return browser.post(
        "/api/video-event", json={"eventId": eid or event(), "stepId": step, "intervals": spans}
    )


def watch_whole_video(app: Cohort, browser) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Watch the 120 s intro at 2x, reporting every 5 s of wall clock like the player."""
    answer = {}
    for start in range(0, 120, 10):
        answer = watch(app, browser, [[start, start + 10]]).json()
        app.clock.advance(seconds=5)
    return answer


def rows(app: Cohort, query: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(app.db) as connection:
        return connection.execute(query, params).fetchall()


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


# -- progress and the path ---------------------------------------------------------------------


def test_api_learner_progress_shape(app: Cohort) -> None:
    created, browser = app.learner()
    body = browser.get("/api/learner").json()
    assert body["userId"] == created["userId"] and body["teamId"] == "t1"
    assert body["xp"] == 0 and body["level"] == 1 and body["completed"] == []
    assert body["currentStep"] == {
        "id": "intro",
        "type": "video",
        "title": "Introduction",
        "module": "M1",
    }
    assert [b["id"] for b in body["badges"]] == [
        "first-video",
        "video-5",
        "video-25",
        "first-quiz",
        "quiz-master",
        "perfectionist",
        "streak-7",
        "streak-30",
        "som-complete",
        "expert",
    ]
    assert all(b["earnedAt"] is None for b in body["badges"])
    as_admin = app.client.get(f"/api/learner?userId={created['userId']}", headers=app.admin())
    assert as_admin.json()["userId"] == created["userId"]
    assert_error(
        app.client.get("/api/learner?userId=u_nobody", headers=app.admin()), 404, "unknown_learner"
    )


def test_api_video_completes_from_server_rules(app: Cohort) -> None:
    _, browser = app.learner()
    first = watch(app, browser, [[0, 10]]).json()
    assert (first["watched"], first["required"], first["complete"]) == (10, 114, False)
    answer = watch_whole_video(app, browser)
    assert answer["complete"] is True and answer["nextStep"]["id"] == "quiz-1"
    assert {"cause": "video:intro", "amount": 10} in answer["xp"] and "first-video" in answer[
        "badges"
    ]
    progress = browser.get("/api/learner").json()
    assert progress["completed"] == ["intro"] and progress["currentStep"]["id"] == "quiz-1"
    assert progress["xp"] == 15, "video +10 and the first learning day +5"


def test_api_video_replay_returns_first_answer_and_changes_nothing(app: Cohort) -> None:
    _, browser = app.learner()
    eid = event()
    first = watch(app, browser, [[0, 10]], eid=eid).json()
    app.clock.advance(seconds=30)
    again = watch(app, browser, [[10, 60]], eid=eid).json()
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
    assert_error(watch(app, browser, spans), 422, code)  # type: ignore[arg-type]
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
    assert watch(app, browser, [[0, 8]]).status_code == 200
    for second in range(8, 120, 32):  # 32 s of media every 2 s of wall clock: 16x
        app.clock.advance(seconds=2)
        response = watch(app, browser, [[second, second + 32]])
        if response.status_code != 200:
            break
    assert_error(response, 422, "implausible_watch")
    assert browser.get("/api/learner").json()["currentStep"]["id"] == "intro"


def test_api_video_seeking_ahead_does_not_complete(app: Cohort) -> None:
    _, browser = app.learner()
    watch(app, browser, [[0, 5]])
    app.clock.advance(minutes=10)
    answer = watch(app, browser, [[110, 120]]).json()
    assert (answer["watched"], answer["complete"]) == (15, False)


def test_api_past_and_future_steps_are_refused(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(
        browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "texte"}),
        403,
        "step_locked",
    )
    assert_error(
        browser.post(
            "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": RIGHT}
        ),
        403,
        "step_locked",
    )
    assert_error(browser.get("/steps/quiz-1.html"), 403, "step_locked")
    assert browser.get("/steps/intro.html").status_code == 200
    video = browser.get("/api/playback?stepId=intro").json()["url"]
    assert browser.get(video).status_code == 200
    watch_whole_video(app, browser)
    assert_error(browser.get(video), 403, "video_locked")
    assert_error(watch(app, browser, [[0, 5]]), 409, "step_closed")
    assert_error(browser.get("/steps/intro.html"), 409, "step_closed")
    assert browser.get("/steps/quiz-1.html").status_code == 200
    assert_error(
        browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "nope"}),
        404,
        "unknown_step",
    )
    assert_error(browser.get("/steps/nope.html"), 404, "unknown_step")


def test_api_step_fragments_need_a_session(app: Cohort) -> None:
    assert_error(app.client.get("/steps/intro.html"), 401, "unauthorized")
    assert app.client.get("/steps/intro.html", headers=app.admin()).status_code == 200


def test_api_quiz_graded_on_server_with_retake(app: Cohort) -> None:
    _, browser = app.learner()
    watch_whole_video(app, browser)
    wrong = browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": [0, [0]]}
    ).json()
    assert (
        wrong["score"],
        wrong["passed"],
        wrong["correct"],
        wrong["explanations"],
        wrong["nextStep"],
    ) == (0, False, [False, False], [], None)
    half = browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": [1, [0]]}
    ).json()
    assert (half["score"], half["passed"]) == (0.5, False)
    right = browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": RIGHT}
    ).json()
    assert (right["score"], right["passed"], right["perfect"]) == (1, True, True)
    assert right["explanations"] == ["", "<p>Divisibles par deux.</p>"]
    assert {"cause": "quiz:quiz-1", "amount": 50} in right["xp"] and {
        "cause": "quiz-perfect:quiz-1",
        "amount": 25,
    } in right["xp"]
    assert {"cause": "module:M1", "amount": 100} in right["xp"]
    assert set(right["badges"]) >= {"first-quiz", "perfectionist", "som-complete"}
    assert right["nextStep"]["id"] == "texte"
    assert rows(app, "SELECT COUNT(*), SUM(passed) FROM quiz_attempts") == [(3, 1)]


@pytest.mark.parametrize(
    "answers", [[1], [1, [0, 2], 0], [5, [0]], [1, [0, 0]], [[0, 1], [0]], "1,0", [True, [0]]]
)
def test_api_quiz_rejects_malformed_answers(app: Cohort, answers: object) -> None:
    _, browser = app.learner()
    watch_whole_video(app, browser)
    response = browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": answers}
    )
    assert_error(response, 422, "invalid_answers")
    assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(0,)]


def test_api_xp_equals_sum_of_logs_and_awards_once(app: Cohort) -> None:
    _, browser = app.learner()
    watch_whole_video(app, browser)
    browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": RIGHT}
    )
    eid = event()
    for _ in range(3):
        browser.post("/api/lesson-done", json={"eventId": eid, "stepId": "texte"})
    ((xp,),) = rows(app, "SELECT xp FROM learners")
    assert rows(app, "SELECT SUM(amount) FROM xp_logs") == [(xp,)]
    assert xp == 10 + 50 + 25 + 100 + 5
    causes = [c for (c,) in rows(app, "SELECT cause FROM xp_logs")]
    assert len(causes) == len(set(causes))


def test_api_event_id_reused_for_another_kind(app: Cohort) -> None:
    _, browser = app.learner()
    eid = event()
    watch(app, browser, [[0, 5]], eid=eid)
    response = browser.post(
        "/api/quiz-submission", json={"eventId": eid, "stepId": "quiz-1", "answers": RIGHT}
    )
    assert_error(response, 409, "event_id_reused")
    assert_error(
        browser.post("/api/lesson-done", json={"eventId": "short", "stepId": "intro"}),
        422,
        "invalid",
    )


def test_api_wrong_endpoint_for_step_kind(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(
        browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "intro"}),
        422,
        "not_a_text_lesson",
    )
    assert_error(
        browser.post(
            "/api/quiz-submission", json={"eventId": event(), "stepId": "intro", "answers": []}
        ),
        422,
        "not_a_quiz",
    )


def finish_module_one(app: Cohort, browser) -> None:  # type: ignore[no-untyped-def]
    watch_whole_video(app, browser)
    response = browser.post(
        "/api/quiz-submission", json={"eventId": event(), "stepId": "quiz-1", "answers": RIGHT}
    )
    assert response.json()["passed"]


def test_api_course_end_and_kms_unlock_per_module(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(browser.get("/kms/M1/fiche.html"), 403, "kms_locked")
    assert_error(browser.get("/kms/"), 403, "kms_locked")
    finish_module_one(app, browser)
    assert browser.get("/kms/M1/fiche.html").status_code == 200
    assert browser.get("/kms/M1/script.sql").status_code == 200
    assert browser.get("/kms/").status_code == 200
    done = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "texte"}).json()
    assert done["nextStep"] == {
        "id": "final",
        "type": "quiz",
        "title": "Évaluation",
        "module": "M2",
    }
    assert_error(app.client.get("/kms/M1/fiche.html"), 401, "unauthorized")


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
    watch(app, browser, [[0, 10]])
    app.clock.advance(minutes=30)  # 23:30 local: the same day
    watch(app, browser, [[10, 20]])
    app.clock.advance(minutes=60)  # 00:30 local: the next day
    watch(app, browser, [[20, 30]])
    app.clock.advance(days=2)  # a day skipped: the streak starts again
    watch(app, browser, [[30, 40]])
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


def test_api_republish_keeps_learners_moving_forward(app: Cohort, tmp_path: Path) -> None:
    from builder.config import BuildConfig
    from builder.pipeline import build

    _, browser = app.learner()
    finish_module_one(app, browser)  # open: texte (M2)
    content = app.content
    # Insert a new step before the learner's position and one after it; remove the quiz.
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
    config = BuildConfig.make(
        content=content, out=tmp_path / "site", private=tmp_path / "private", disk_cache=False
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
    done = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "texte"}).json()
    assert done["nextStep"]["id"] == "bonus"
    assert_error(
        browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "nouveau"}),
        409,
        "step_closed",
    )


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


# -- Tally ---------------------------------------------------------------------------------------


def tally_payload(
    token: str, score: float, response_id: str = "resp-0001", form: str = "wMx9Qd"
) -> bytes:
    import json

    payload = {
        "eventId": "evt-" + response_id,
        "eventType": "FORM_RESPONSE",
        "createdAt": "2026-11-24T10:00:00.000Z",
        "data": {
            "responseId": response_id,
            "formId": form,
            "fields": [
                {
                    "key": "question_1",
                    "label": "Votre nom",
                    "type": "INPUT_TEXT",
                    "value": "<script>x</script>",
                },
                {"key": "question_2", "label": "sillon", "type": "HIDDEN_FIELDS", "value": token},
                {
                    "key": "question_3",
                    "label": "score",
                    "type": "CALCULATED_FIELDS",
                    "value": score,
                },
            ],
        },
    }
    return json.dumps(payload).encode()


def post_hook(app: Cohort, body: bytes, signature: str | None = "sign"):  # type: ignore[no-untyped-def]
    from support.clock import TALLY_SECRET

    from api.tally import sign_webhook

    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["Tally-Signature"] = sign_webhook(TALLY_SECRET, body)
    elif signature is not None:
        headers["Tally-Signature"] = signature
    return app.client.post("/api/tally-hook", content=body, headers=headers)


def reach_tally_step(app: Cohort, browser) -> str:  # type: ignore[no-untyped-def]
    finish_module_one(app, browser)
    browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "texte"})
    link = browser.get("/api/tally-link?stepId=final").json()
    assert link["formUrl"].startswith("https://tally.so/r/wMx9Qd?sillon=")
    token: str = link["formUrl"].split("sillon=", 1)[1]
    return token


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
    assert progress["currentStep"] is None and progress["completed"][-1] == "final"
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


def test_api_playback_of_the_open_video(app: Cohort) -> None:
    _, browser = app.learner()
    body = browser.get("/api/playback?stepId=intro").json()
    assert (
        body["url"].startswith("/media/clip.") and body["duration"] == 120 and body["resumeAt"] == 0
    )
    assert browser.get(body["url"]).status_code == 200
    watch(app, browser, [[0, 10]])
    app.clock.advance(seconds=10)
    watch(app, browser, [[10, 25], [40, 45]])
    body = browser.get("/api/playback?stepId=intro").json()
    assert (body["intervals"], body["resumeAt"], body["maxRate"]) == ([[0, 25], [40, 45]], 25, 2.0)
    assert_error(browser.get("/api/playback?stepId=quiz-1"), 403, "step_locked")
    assert_error(app.client.get(body["url"]), 401, "unauthorized")
