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
