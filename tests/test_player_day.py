"""The learner's player in real Chromium, on the example course: a finished step stays open
until the learner moves on (a reload, or a link followed and Back, keeps its text); the speed
control sits with the video and is remembered; a Tally step tells its result."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import WAIT, current, laptop_page, screenshot, sign_in, watch_video
from support.course import EXAMPLE, edit, make_course
from support.journey import RIGHT
from support.launch import TALLY_SECRET, Site
from support.tally import signed, tally_webhook

pytestmark = [pytest.mark.browser, pytest.mark.live]

FIRST, SECOND = "som01-bienvenue", "som01-tables"


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    yield from laptop_page(browser)


def test_player_day_done_step_stays_open_until_next(page: Any, site: Site) -> None:
    sign_in(page, site)
    page.goto(site.url + "/learn/")
    page.wait_for_selector(f"#step [data-step-id='{FIRST}']", timeout=WAIT)
    text = page.inner_text("#step article")
    watch_video(page)
    me = current(page)
    assert (me["currentStep"]["id"], me["currentStepDone"]) == (FIRST, True)
    # A reload: the done step is still there, its text and video, and Next is open.
    page.wait_for_function("() => window.SillonQueue.pending() === 0", timeout=WAIT)
    page.reload()
    page.wait_for_selector(f"#step [data-step-id='{FIRST}']", timeout=WAIT)
    page.wait_for_selector("#next:not([disabled])", timeout=WAIT)
    assert page.inner_text("#step article") == text and page.is_visible("#step video")
    # A link followed from the step, then Back: the same.
    page.goto(site.url + "/me/")
    page.go_back()
    page.wait_for_selector(f"#step [data-step-id='{FIRST}']", timeout=WAIT)
    page.wait_for_selector("#next:not([disabled])", timeout=WAIT)
    assert page.is_hidden("#notice")
    screenshot(page, "player-day-done-step-1280")
    # Next closes it for good.
    page.click("#next")
    page.wait_for_selector(f"#step [data-step-id='{SECOND}']", timeout=WAIT)
    me = current(page)
    assert (me["currentStep"]["id"], me["currentStepDone"]) == (SECOND, False)
    page.goto(site.url + f"/learn/#{FIRST}")
    page.wait_for_selector("#notice:not([hidden])", timeout=WAIT)
    assert page.inner_text("#notice-title") == "Étape terminée"


def test_player_day_speed_sits_with_the_video_and_is_remembered(page: Any, site: Site) -> None:
    sign_in(page, site)
    page.goto(site.url + "/learn/")
    page.wait_for_selector("figure.video #speed-control:not([hidden]) #speed", timeout=WAIT)
    assert page.query_selector(".player-controls #speed") is None, "not down by Next any more"
    page.select_option("#speed", "1.5")
    page.reload()
    page.wait_for_selector("figure.video #speed-control:not([hidden])", timeout=WAIT)
    assert page.input_value("#speed") == "1.5", "remembered across reloads"
    page.evaluate(
        "() => { const v = document.querySelector('#step video'); v.muted = true; "
        "return v.play(); }"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelector('#step video').playbackRate") == 1.5
    screenshot(page, "player-day-speed-1280")
    # Remembered for every video, within the course's cap (2x here).
    page.evaluate("localStorage.setItem('sillon.speed', '3')")
    page.reload()
    page.wait_for_selector("figure.video #speed-control:not([hidden])", timeout=WAIT)
    assert page.input_value("#speed") == "2"


@pytest.fixture
def tally_first(tmp_path: Path) -> Iterator[Site]:
    """The example course with a Tally quiz as its first step."""
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    module = content / "modules/01-premiers-pas"
    (module / "00-tally.yaml").write_text(
        "id: som01-tally\ntitle: Évaluation d'entrée\npass: 0.7\ntally: wMx9Qd\n"
    )
    edit(content, "modules/01-premiers-pas/module.yaml", "steps: [", "steps: [00-tally.yaml, ")
    running = Site(tmp_path, content)
    yield running
    running.stop()


@pytest.fixture
def tally_page(browser: Any, tally_first: Site) -> Iterator[Any]:
    yield from laptop_page(browser)


def tally_response(page: Any, site: Site, score: int, response: str) -> None:
    """Stand-in for Tally's servers (unreachable here): the webhook Tally would send."""
    frame = page.wait_for_selector("iframe.tally-frame", state="attached", timeout=WAIT)
    token = frame.get_attribute("src").split("sillon=", 1)[1]
    body = tally_webhook(token, score, response)
    answer = httpx.post(
        site.url + "/api/tally-hook", content=body, headers=signed(body, TALLY_SECRET)
    )
    assert answer.status_code == 200, answer.text


def test_player_day_tally_step_tells_pending_score_retake_and_xp(
    tally_page: Any, tally_first: Site
) -> None:
    page = tally_page
    sign_in(page, tally_first)
    page.goto(tally_first.url + "/learn/")
    page.wait_for_selector("iframe.tally-frame", state="attached", timeout=WAIT)
    page.evaluate(
        "window.dispatchEvent(new MessageEvent('message', {origin: 'https://tally.so', "
        "data: JSON.stringify({event: 'Tally.FormSubmitted'})}))"
    )
    assert page.inner_text("#status") == "Formulaire envoyé : votre résultat arrive…"
    tally_response(page, tally_first, 40, "resp-low")
    failed = page.wait_for_selector(".quiz-result[data-passed='false']", timeout=WAIT)
    assert failed.inner_text() == "Pas encore · Score 40\u00a0%"  # Intl.NumberFormat("fr")
    page.wait_for_selector("iframe.tally-frame", state="attached", timeout=WAIT)  # the retake
    assert page.is_disabled("#next")
    tally_response(page, tally_first, 90, "resp-high")
    passed = page.wait_for_selector(".quiz-result[data-passed='true']", timeout=WAIT)
    assert passed.inner_text() == "Réussi · Score 90\u00a0%"
    page.wait_for_selector("#toast:not([hidden])", timeout=WAIT)
    assert page.inner_text("#toast").startswith("+50 XP"), "the pass: +50 (the day's +5 came first)"
    page.wait_for_selector("#next:not([disabled])", timeout=WAIT)
    screenshot(page, "player-day-tally-passed-1280")
    assert current(page)["currentStepDone"] is True


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Site]:
    """The small test course (support.course.make_course): an 8 s video, a quiz, a text and
    a Tally quiz last."""
    running = Site(tmp_path, make_course(tmp_path / "course"))
    yield running
    running.stop()


def post(page: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """An event sent from the page, with the learner's session."""
    answer: dict[str, Any] = page.evaluate(
        "([url, body]) => fetch(url, {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: JSON.stringify({eventId: crypto.randomUUID(), ...body})})"
        ".then(r => r.json())",
        [url, body],
    )
    return answer


@pytest.fixture
def end_page(browser: Any, small: Site) -> Iterator[Any]:
    yield from laptop_page(browser)


def test_player_day_end_of_course_is_a_moment(end_page: Any, small: Site) -> None:
    page, site = end_page, small
    sign_in(page, site)
    assert post(page, "/api/video-event", {"stepId": "intro", "intervals": [[0, 8]]})["complete"]
    post(page, "/api/next", {"stepId": "intro"})
    assert post(page, "/api/quiz-submission", {"stepId": "quiz-1", "answers": RIGHT})["passed"]
    post(page, "/api/next", {"stepId": "quiz-1"})
    post(page, "/api/lesson-done", {"stepId": "texte"})
    assert post(page, "/api/next", {"stepId": "texte"})["nextStep"]["id"] == "final"
    page.goto(site.url + "/learn/")
    tally_response(page, site, 90, "resp-end")
    page.wait_for_selector("#next:not([disabled])", timeout=WAIT)
    page.click("#next")
    page.wait_for_selector("#finished:not([hidden])", timeout=WAIT)
    summary = page.inner_text("#finished-summary")
    for shown in (
        "Temps passé",
        "XP gagnés",
        "Premier quiz",
        "Quiz un",
        "100\u00a0%",
        "Évaluation",
    ):
        assert shown in summary, summary
    assert page.is_visible("#finished a[href='/kms/']")
    screenshot(page, "player-day-finished-1280")
    page.goto(site.url + "/")
    page.wait_for_selector("[data-fill='finished']:not([hidden])", timeout=WAIT)
    assert page.is_hidden("[data-fill='cta']")
    assert "Vous avez terminé ce cours" in page.inner_text("[data-fill='finished']")
