"""The second example course (examples/english/content: English, the brief's dotted step ids
SOM01.01 ...) served by `serve` and walked through to the end by a learner in Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import (
    WAIT,
    answer_quiz,
    current,
    laptop_page,
    right_answers,
    screenshot,
    sign_in,
    watch_video,
)
from support.course import ENGLISH
from support.launch import Site

pytestmark = [pytest.mark.browser, pytest.mark.live]

PATH = ["SOM01.01", "SOM01.02", "SOM01.03", "SOM02.01", "SOM02.02"]


@pytest.fixture
def english(tmp_path: Path) -> Iterator[Site]:
    """`serve` on a private copy of the English example."""
    content = tmp_path / "content"
    shutil.copytree(ENGLISH, content)
    running = Site(tmp_path, content)
    yield running
    running.stop()


@pytest.fixture
def page(browser: Any, english: Site) -> Iterator[Any]:
    yield from laptop_page(browser, locale="en-GB")


def test_english_course_journey_to_the_end(page: Any, english: Site) -> None:
    """Invite, the video, the text lesson, a practice quiz failed once then passed, module two,
    the final quiz; every step at /learn/#<dotted id>; the handout opens module by module."""
    sign_in(page, english)
    assert page.inner_text("h1") == "First steps with Git"
    page.click("[data-fill='cta']")
    page.wait_for_url("**/learn/#SOM01.01", timeout=WAIT)
    walked = []
    while (step := current(page)["currentStep"]) is not None:
        walked.append(step["id"])
        page.wait_for_selector(f"#step [data-step-id='{step['id']}']", timeout=WAIT)
        assert page.evaluate("location.hash") == "#" + step["id"]
        complete(page, english, step)
        if step["id"] == "SOM02.01":  # module one finished: its handout pages are open
            assert english_page(page, english, "/kms/SOM01/cheat-sheet.html") == 200
            assert english_page(page, english, "/kms/SOM02/history.html") == 403
        page.click("#next")
        page.wait_for_function(
            f"() => location.hash !== '#{step['id']}' || !document.getElementById('finished').hidden",
            timeout=WAIT,
        )
    assert walked == PATH
    page.wait_for_selector("#finished:not([hidden])", timeout=WAIT)
    screenshot(page, "english-finished-1280")
    me = current(page)
    assert len(me["completed"]) == me["totalSteps"] == len(PATH) and me["xp"] > 0
    page.goto(english.url + "/kms/SOM02/history.html")
    page.wait_for_selector("article", timeout=WAIT)
    assert page.query_selector(".kms-locked") is None
    assert "git log --oneline" in page.inner_text("article")
    screenshot(page, "english-kms-1280")


def complete(page: Any, site: Site, step: dict[str, Any]) -> None:
    """Complete the open step as a learner does; the practice quiz is failed once first."""
    if step["type"] == "video":
        watch_video(page)
        return
    if step["type"] == "lesson":
        page.click("#lesson-done")
    else:
        keys = right_answers(site, step["id"])
        if step["id"] == "SOM01.03":  # feedback: questions, 3 attempts before any wait
            answer_quiz(page, [[(key[0] + 1) % 3] for key in keys])
            page.wait_for_selector(".quiz-result[data-passed='false']", timeout=WAIT)
            screenshot(page, "english-quiz-failed-1280")
            page.evaluate("document.querySelector('form.quiz').reset()")
        answer_quiz(page, keys)
        page.wait_for_selector(".quiz-result[data-passed='true']", timeout=WAIT)
    page.wait_for_selector("#next:not([disabled])", timeout=WAIT)


def english_page(page: Any, site: Site, path: str) -> int:
    """The status of a site path fetched with the learner's session."""
    status: int = page.evaluate("p => fetch(p).then(r => r.status)", path)
    return status
