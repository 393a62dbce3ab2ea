"""Real Chromium (Debian's package) driven by Playwright, against a real `serve` process
(support.launch.Site). A pytest plugin (conftest's pytest_plugins): the `browser` and `site`
fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.course import EXAMPLE, ROOT
from support.launch import Site

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
WAIT = 30_000  # ms: Playwright's waits


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, launched once per module."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `bash tests/setup.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """`serve` on a private copy of the example course."""
    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    running = Site(tmp_path, content)
    yield running
    running.stop()


def laptop_page(browser: Any, locale: str = "fr-FR") -> Iterator[Any]:
    """A 1280x800 page in a fresh context; when it is done with, no uncaught error or Content
    Security Policy violation happened on it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
    opened = context.new_page()
    errors = page_errors(opened)
    yield opened
    context.close()
    assert not errors, errors


def page_errors(page: Any) -> list[str]:
    """Collect the page's uncaught errors and Content Security Policy violations (tests expect
    the list to stay empty)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


def screenshot(page: Any, name: str) -> None:
    """Keep what the page shows in tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def sign_in(page: Any, site: Any, name: str = "Ada") -> dict[str, Any]:
    """Enroll a learner and open their invite link: signed in, on the home page."""
    created: dict[str, Any] = site.enroll(name)
    page.goto(created["inviteUrl"])
    page.wait_for_url(site.url + "/", timeout=WAIT)
    return created


# -- driving the player, as a learner does ---------------------------------------------------


def current(page: Any) -> dict[str, Any]:
    """The signed-in learner's state (`/api/learner`), as the page fetches it."""
    me: dict[str, Any] = page.evaluate("fetch('/api/learner').then(r => r.json())")
    return me


def play(page: Any, rate: int | None = None) -> None:
    """Start the step's video, muted (at `rate` when given)."""
    speed = f"v.playbackRate = {rate}; " if rate else ""
    page.evaluate(
        "() => { const v = document.querySelector('#step video'); v.muted = true; "
        + speed
        + "return v.play(); }"
    )


def watch_video(page: Any, rate: float = 2.0) -> None:
    """Watch the step's video through at `rate`, until "Next" is enabled."""
    page.wait_for_selector("#step video", timeout=WAIT)
    page.select_option("#speed", str(int(rate)) if rate == int(rate) else str(rate))
    play(page)
    page.wait_for_selector("#next:not([disabled])", timeout=WAIT)


def answer_quiz(page: Any, answers: list[list[int]]) -> None:
    """Tick the choices (shown positions) of each question shown, in order, and submit."""
    page.wait_for_selector("form.quiz button[type=submit]:not([disabled])", timeout=WAIT)
    questions = page.locator("form.quiz fieldset.question")
    for number, picked in enumerate(answers):
        for choice in picked:
            questions.nth(number).locator(f"input[value='{choice}']").check()
    page.click("form.quiz button[type=submit]")


def right_answers(site: Site, step_id: str, page: Any = None) -> list[list[int]]:
    """The right answers of a quiz as the player shows it: for a quiz that draws its questions,
    the questions and choice order the server drew for this attempt (it shows them again)."""
    step = next(s for s in site.manifest()["steps"] if s["id"] == step_id)
    keys = [q["answer"] for q in step["questions"]]
    if not step.get("draw"):
        return keys
    drawn = page.evaluate(
        "id => fetch('/api/quiz-attempt?stepId=' + id).then(r => r.json())", step_id
    )["questions"]
    return [sorted(d["choices"].index(c) for c in keys[d["question"]]) for d in drawn]
