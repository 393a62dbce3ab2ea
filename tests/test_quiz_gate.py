"""The quiz gate (issue 14, README "Quizzes"), through the real app on a real SQLite file: a
failed attempt tells pass/fail and, by default, the score, never which question was right
(unless the quiz says `feedback: questions`); a blank question is no attempt; failures are
paced by a growing cooldown on the server's clock; the perfect bonus needs a perfect first
attempt; `draw: k` shows each attempt k questions of the pool, decided and kept by the server."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from support.browser import WAIT, page_errors, sign_in
from support.client import Call, Cohort, assert_error, event, in_flight
from support.journey import post_hook, reach_tally_step, rows
from support.launch import Site
from support.quiz_course import (
    CHOICES,
    KEYS,
    QUIZ,
    at_the_quiz,
    gate_cohort,
    right_count,
    shown_right,
    state,
    submit,
    write_gate_course,
)
from support.small_course import small_cohort
from support.tally import tally_payload

from builder.config import BuildConfig
from builder.pipeline import build

WRONG = [(k + 1) % CHOICES for k in KEYS]  # every question wrong


def failing(rng: random.Random) -> list[int]:
    """Answers of a learner who knows nothing, that fail (fewer than 4 right of 5)."""
    while True:
        answers = [rng.randrange(CHOICES) for _ in KEYS]
        if right_count(answers) < 4:
            return answers


def first_failure(app: Cohort, answers: list[int], name: str) -> dict[str, Any]:
    """A new learner's first (failed) attempt: the whole answer, as a prober reads it."""
    response = submit(at_the_quiz(app, name), answers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["passed"] is False
    return body


# -- what a failed attempt tells ---------------------------------------------------------------


@pytest.mark.parametrize("feedback", ["score", "none", "questions"])
def test_quiz_gate_failure_tells_what_the_feedback_allows(tmp_path: Path, feedback: str) -> None:
    """Failed attempts of learners who know nothing, grouped by what a prober could learn from
    them: with `score` the answer depends on the score only, with `none` on nothing at all;
    with `questions` it names the questions that were right."""
    rng = random.Random(14)
    with gate_cohort(tmp_path, feedback=feedback) as app:
        answers = [failing(rng) for _ in range(12)]
        answers += [[KEYS[0], *WRONG[1:]], [WRONG[0], KEYS[1], *WRONG[2:]]]  # same score
        told = [first_failure(app, a, f"L{n}") for n, a in enumerate(answers)]
    by_score: dict[int, set[str]] = {}
    for given, answer in zip(answers, told, strict=True):
        by_score.setdefault(right_count(given), set()).add(json.dumps(answer, sort_keys=True))
    if feedback == "score":
        assert all(len(seen) == 1 for seen in by_score.values()), by_score
        assert {a["correct"] for a in told} == {None}
        assert {a["score"] for a in told} == {n / 5 for n in by_score}
    elif feedback == "none":
        assert len(set().union(*by_score.values())) == 1, by_score
        assert told[0]["score"] is None and told[0]["correct"] is None
    else:
        assert any(len(seen) > 1 for seen in by_score.values()), "which questions were right"
        for given, answer in zip(answers, told, strict=True):
            assert answer["correct"] == [a == k for a, k in zip(given, KEYS, strict=True)]
    assert all(a["explanations"] == [] and a["feedback"] == feedback for a in told)


def probe(app: Cohort, rounds: int = 30) -> tuple[int, dict[str, Any]]:
    """The issue's prober: keep the questions said right, move the others to their next
    choice, skipping each cooldown on the test clock. The attempts it took, the last answer."""
    browser = at_the_quiz(app, "Prober")
    answers = list(WRONG)
    for attempt in range(1, rounds + 1):
        app.clock.advance(seconds=state(browser)["retryAfter"])
        answer = submit(browser, answers).json()
        if answer["passed"] or answer["correct"] is None:
            return attempt, answer
        answers = [
            a if ok else (a + 1) % CHOICES for a, ok in zip(answers, answer["correct"], strict=True)
        ]
    raise AssertionError("the prober never passed")


def test_quiz_gate_probing_works_only_with_questions_feedback(tmp_path: Path) -> None:
    """With `questions`, the prober passes within the number of choices and reaches a perfect
    score, far sooner than blind guessing (64 attempts expected to pass); it still earns no
    perfect bonus. With `score` and `none` it learns nothing to keep after one attempt."""
    with gate_cohort(tmp_path / "questions", feedback="questions") as app:
        attempts, last = probe(app)
        assert attempts <= CHOICES and last["passed"] is True
        assert not any(a["cause"].startswith("quiz-perfect:") for a in last["xp"])
        assert "perfectionist" not in last["badges"]
    for feedback in ("score", "none"):
        with gate_cohort(tmp_path / feedback, feedback=feedback) as app:
            attempts, last = probe(app)
            assert (attempts, last["passed"], last["correct"]) == (1, False, None)


def test_quiz_gate_perfect_bonus_only_on_the_first_attempt(tmp_path: Path) -> None:
    with gate_cohort(tmp_path) as app:
        first = submit(at_the_quiz(app, "Ada"), list(KEYS)).json()
        assert first["perfect"] is True and "perfectionist" in first["badges"]
        assert {"cause": f"quiz-perfect:{QUIZ}", "amount": 25} in first["xp"]
        later = at_the_quiz(app, "Bob")
        assert submit(later, WRONG).json()["passed"] is False
        second = submit(later, list(KEYS)).json()
        assert (second["passed"], second["perfect"]) == (True, True)
        assert "perfectionist" not in second["badges"]
        assert not any(a["cause"].startswith("quiz-perfect:") for a in second["xp"])
        assert rows(app, "SELECT COUNT(*) FROM xp_logs WHERE cause LIKE 'quiz-perfect:%'") == [(1,)]


# -- every question answered -------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers, question",
    [([2, [], 3, 1, 2], 2), ([2, 0, 3, 1, None], 5), ([None, [], None, [], None], 1)],
)
def test_quiz_gate_blank_question_is_refused_and_not_an_attempt(
    tmp_path: Path, answers: list[object], question: int
) -> None:
    with gate_cohort(tmp_path) as app:
        browser = at_the_quiz(app)
        for _ in range(4):
            refused = assert_error(submit(browser, answers), 422, "unanswered")
            assert refused["error"]["message"] == (
                f"question {question} has no answer: answer every question"
            )
        assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(0,)]
        assert state(browser)["retryAfter"] == 0, "blanks do not count towards the cooldown"
        first = submit(browser, list(KEYS)).json()
        assert "perfectionist" in first["badges"], "still the first attempt"


# -- the cooldown ------------------------------------------------------------------------------


def test_quiz_gate_cooldown_grows_after_three_failures(tmp_path: Path) -> None:
    """Defaults: three failures free, then 1 min, 5 min, 30 min, then 2 h for every further
    failure, counted on the server's clock; an early attempt is 429 and records nothing."""
    with gate_cohort(tmp_path) as app:
        browser = at_the_quiz(app)
        waits = [submit(browser, WRONG).json()["retryAfter"] for _ in range(3)]
        assert waits == [0, 0, 60]
        for wait in (60, 300, 1800, 7200, 7200):
            early = submit(browser, WRONG)
            body = assert_error(early, 429, "quiz_cooldown")
            assert body["error"]["retryAfter"] == wait and early.headers["retry-after"] == str(wait)
            assert state(browser)["retryAfter"] == wait
            app.clock.advance(seconds=wait - 1)
            assert (
                assert_error(submit(browser, WRONG), 429, "quiz_cooldown")["error"]["retryAfter"]
                == 1
            )
            app.clock.advance(seconds=1)
            assert state(browser)["retryAfter"] == 0
            next_wait = submit(browser, WRONG).json()["retryAfter"]
            assert next_wait == {60: 300, 300: 1800}.get(wait, 7200)
        assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(8,)], "refusals not recorded"
        assert state(browser)["failed"] == 8
        app.clock.advance(seconds=7200)
        assert submit(browser, list(KEYS)).json()["passed"] is True


def test_quiz_gate_cooldown_follows_the_quiz(tmp_path: Path) -> None:
    with gate_cohort(tmp_path, attempts=1, cooldown=["30s", "1d"]) as app:
        browser = at_the_quiz(app)
        assert [submit(browser, WRONG).json()["retryAfter"]] == [30]
        assert state(browser) == {
            "stepId": QUIZ,
            "feedback": "score",
            "pass": 0.8,
            "failed": 1,
            "tried": 1,
            "lastScore": 0.0,
            "attempts": 1,
            "retryAfter": 30,
            "questions": None,
        }
        app.clock.advance(seconds=30)
        assert submit(browser, WRONG).json()["retryAfter"] == 86400
        app.clock.advance(seconds=86400)
        assert submit(browser, WRONG).json()["retryAfter"] == 86400


def test_quiz_gate_parallel_attempts_are_paced_too(tmp_path: Path) -> None:
    """Ten failing attempts sent at once, each statement letting the others run (as on D1):
    three are graded, the others wait (429), whatever the interleaving."""
    with gate_cohort(tmp_path) as app:
        browser = at_the_quiz(app)
        cookie = {"sillon_session": browser.cookies["sillon_session"]}
        calls: list[Call] = [
            (
                cookie,
                {},
                "/api/quiz-submission",
                {"eventId": event(), "stepId": QUIZ, "answers": WRONG},
            )
            for _ in range(10)
        ]
        answers = in_flight(app, calls, yielding=True)
        statuses = sorted(r.status_code for r in answers)
        assert (
            statuses.count(200) == 3
            and statuses.count(200) + statuses.count(429) + (statuses.count(503)) == 10
        ), statuses
        assert rows(app, "SELECT COUNT(*) FROM quiz_attempts") == [(3,)]


# -- questions drawn from a pool ---------------------------------------------------------------


def test_quiz_gate_draw_is_decided_kept_and_graded_as_shown(tmp_path: Path) -> None:
    with gate_cohort(tmp_path, draw=3, feedback="questions") as app:
        browser = at_the_quiz(app)
        refused = assert_error(submit(browser, [0, 0, 0]), 409, "attempt_not_drawn")
        assert "GET /api/quiz-attempt" in refused["error"]["message"]
        drawn = state(browser)["questions"]
        assert len(drawn) == 3 and len({d["question"] for d in drawn}) == 3
        assert all(sorted(d["choices"]) == list(range(CHOICES)) for d in drawn)
        assert state(browser)["questions"] == drawn, "a reload shows the same attempt"
        assert_error(submit(browser, list(KEYS)), 422, "invalid_answers")  # 3 shown, not 5
        right = shown_right(drawn)
        wrong = [(r + 1) % CHOICES for r in right]
        failed = submit(browser, [right[0], *wrong[1:]]).json()
        assert (failed["score"], failed["correct"]) == (round(1 / 3, 4), [True, False, False])
        assert rows(app, "SELECT COUNT(*) FROM quiz_draws") == [(0,)], "the draw is used up"
        assert_error(submit(browser, right), 409, "attempt_not_drawn")
        again = state(browser)["questions"]
        assert rows(app, "SELECT COUNT(*) FROM quiz_draws") == [(1,)]
        passed = submit(browser, shown_right(again)).json()
        assert (passed["passed"], passed["score"]) == (True, 1)
        assert passed["explanations"] == [f"<p>Because {KEYS[d['question']]}.</p>" for d in again]
        stored = json.loads(rows(app, "SELECT answers FROM quiz_attempts ORDER BY id")[-1][0])
        assert stored["drawn"] == [[d["question"], d["choices"]] for d in again]


def test_quiz_gate_draws_differ_between_attempts_and_learners(tmp_path: Path) -> None:
    with gate_cohort(tmp_path, draw=2) as app:
        seen = set()
        for n in range(8):
            drawn = state(at_the_quiz(app, f"L{n}"))["questions"]
            seen.add(json.dumps(drawn))
        assert len(seen) > 1


def test_quiz_gate_no_key_in_the_site_of_a_drawing_quiz(tmp_path: Path) -> None:
    """The site holds the pool without keys: two courses that differ only in their answers and
    explanations build byte-identical sites; the manifest has the keys and the draw."""
    sites = []
    for n, keys in enumerate([KEYS, (0, 1, 2, 3, 0)]):
        content = write_gate_course(tmp_path / f"c{n}", draw=3, feedback="none")
        quiz = content / "modules/m1/probe.yaml"
        text = quiz.read_text()
        for number, (old, new) in enumerate(zip(KEYS, keys, strict=True)):
            block = f'q{number + 1} c3"]\n    answer: {old}\n    explain: Because {old}.'
            text = text.replace(block, f'q{number + 1} c3"]\n    answer: {new}\n    explain: No.')
        quiz.write_text(text)
        config = BuildConfig.make(content=content, out=tmp_path / f"site{n}", disk_cache=False)
        build(config)
        manifest = json.loads((config.private / "manifest.json").read_text())
        step = next(s for s in manifest["steps"] if s["id"] == QUIZ)
        assert [q["answer"] for q in step["questions"]] == [[k] for k in keys]
        assert (step["draw"], step["feedback"]) == (3, "none")
        sites.append(config.out)
    fragment = (sites[0] / f"steps/{QUIZ}.html").read_text()
    assert 'data-draw="3"' in fragment and fragment.count("<fieldset") == 5
    files = sorted(p.relative_to(sites[0]) for p in sites[0].rglob("*") if p.is_file())
    for rel in files:
        assert (sites[0] / rel).read_bytes() == (sites[1] / rel).read_bytes(), rel


# -- Tally -------------------------------------------------------------------------------------


def test_quiz_gate_tally_responses_are_paced(tmp_path: Path) -> None:
    """A Tally quiz: three failed responses, then no form link during the cooldown (429), and a
    response sent meanwhile through an old link is answered but not counted."""
    with small_cohort(tmp_path) as app:
        _, browser = app.learner()
        token = reach_tally_step(app, browser)
        for n in range(3):
            low = post_hook(app, tally_payload(token, 40, f"resp-low-{n}")).json()
            assert (low["counted"], low["passed"]) == (True, False)
        assert low["retryAfter"] == 60
        body = assert_error(browser.get("/api/tally-link?stepId=final"), 429, "quiz_cooldown")
        assert body["error"]["retryAfter"] == 60
        early = post_hook(app, tally_payload(token, 100, "resp-early")).json()
        assert (early["counted"], early["passed"], early["retryAfter"]) == (False, False, 60)
        assert post_hook(app, tally_payload(token, 100, "resp-early")).json()["replayed"]
        assert rows(app, "SELECT COUNT(*) FROM quiz_attempts WHERE step_id = 'final'") == [(3,)]
        app.clock.advance(seconds=60)
        assert browser.get("/api/tally-link?stepId=final").status_code == 200
        late = post_hook(app, tally_payload(token, 100, "resp-late")).json()
        assert (late["counted"], late["passed"], late["perfect"]) == (True, True, True)
        assert "perfectionist" not in late["badges"], "not the first attempt"


# -- the learner's state -----------------------------------------------------------------------


def test_quiz_gate_state_only_for_the_open_quiz(tmp_path: Path) -> None:
    with gate_cohort(tmp_path) as app:
        _, browser = app.learner()
        assert_error(browser.get(f"/api/quiz-attempt?stepId={QUIZ}"), 403, "step_locked")
        assert_error(browser.get("/api/quiz-attempt?stepId=read"), 422, "not_a_quiz")
        assert_error(app.client.get(f"/api/quiz-attempt?stepId={QUIZ}"), 401, "unauthorized")


# -- the player --------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.live
def test_quiz_gate_player_counts_down_after_the_third_failure(browser: Any, tmp_path: Path) -> None:
    """Real Chromium on `serve`: three failed attempts, then the player shows the wait as a
    live countdown with submit disabled, still after a reload, and opens submit at its end; a
    blank question is stopped in the page and never sent."""
    content = write_gate_course(tmp_path / "course", cooldown=["6s"])
    site = Site(tmp_path, content)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    try:
        page = context.new_page()
        errors = page_errors(page)
        sign_in(page, site)
        page.goto(site.url + "/learn/")
        page.wait_for_selector("#lesson-done", timeout=WAIT)
        page.click("#lesson-done")
        page.wait_for_selector("#next:not([disabled])", timeout=WAIT)
        page.click("#next")
        submit_button = "form.quiz button[type=submit]"
        page.wait_for_selector(f"{submit_button}:not([disabled])", timeout=WAIT)
        page.click(submit_button)  # nothing ticked
        assert page.inner_text("#status") == "Answer every question before submitting."
        for _ in range(3):
            page.wait_for_selector(f"{submit_button}:not([disabled])", timeout=WAIT)
            for number, choice in enumerate(WRONG):
                page.check(f"fieldset[data-question='{number}'] input[value='{choice}']")
            page.click(submit_button)  # "Checking…" until the answer is shown
            page.wait_for_function(
                "() => !document.getElementById('status').textContent", timeout=WAIT
            )
        page.wait_for_selector(".quiz-wait:not([hidden])", timeout=WAIT)
        assert page.is_disabled(submit_button)
        assert page.inner_text(".quiz-wait").startswith("Next attempt in 0:0")
        assert page.inner_text(".quiz-result") == "Not yet · Score 0%"
        assert page.query_selector(".question-mark") is None, "which were right: never said"
        page.reload()
        page.wait_for_selector(".quiz-wait:not([hidden])", timeout=WAIT)
        assert page.is_disabled(submit_button) and "Next attempt in 0:0" in page.inner_text(
            ".quiz-wait"
        )
        page.wait_for_selector(f"{submit_button}:not([disabled])", timeout=WAIT)
        assert page.inner_text(".quiz-wait") == "You may try again."
        assert site.rows("SELECT COUNT(*) FROM quiz_attempts") == [(3,)]
        assert not errors, errors
    finally:
        context.close()
        site.stop()
