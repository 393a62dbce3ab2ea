"""`python build.py serve` for the author: a demo learner from the first minute, links to the
address serve listens at, a busy port refused before anything happens, live reload and the
preview for the author only, Tally simulated on this machine, gzip for text."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import WAIT, page_errors, screenshot, sign_in
from support.course import ROOT, edit, write
from support.launch import Site, free_port

DEMO_LINK = re.compile(r"demo learner \(a one-time link, new at every start\): (\S+)")


def demo_links(site: Site) -> list[str]:
    return DEMO_LINK.findall(site.log_text())


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SILLON_")}
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), *args],
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        timeout=120,
    )


def versions(site: Site) -> list[tuple[Any, ...]]:
    return site.rows("SELECT seq, version FROM course_versions ORDER BY seq")


# -- from "it serves" to the player ------------------------------------------------------------


@pytest.mark.live
def test_serve_prints_a_demo_learner_link_new_at_every_start(example: Path) -> None:
    site = Site(example.parent, example)
    try:
        site.wait_until(lambda: len(demo_links(site)) == 1, 30, "the demo learner's link")
        first = demo_links(site)[0]
        assert first.startswith(site.url + "/join/#")
        client = httpx.Client(base_url=site.url)
        signed = client.post("/api/session", json={"inviteToken": first.split("#", 1)[1]})
        assert signed.status_code == 200 and signed.json()["teamId"] == "demo"
        assert client.get("/api/learner").json()["name"] == "Demo"
        site.stop()
        site.start()
        site.wait_until(lambda: len(demo_links(site)) == 2, 30, "a new link after a restart")
        second = demo_links(site)[1]
        assert second != first
        again = httpx.post(site.url + "/api/session", json={"inviteToken": second.split("#")[1]})
        assert again.json()["userId"] == signed.json()["userId"], "the same demo learner"
        assert site.rows("SELECT COUNT(*) FROM learners WHERE email = 'demo@localhost'") == [(1,)]
    finally:
        site.stop()


def test_learners_links_use_the_address_serve_listens_at(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    add = ["learners", "add", "--name", "Ada", "--email", "ada@example.org", "--team", "t"]
    added = cli(*add, "--db", db, "--port", "8123")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("http://127.0.0.1:8123/join/#")
    invited = cli("learners", "invite", "ada@example.org", "--db", db, "--host", "::1")
    assert invited.stdout.startswith("http://[::1]:8000/join/#"), "serve's default port"
    public = {"SILLON_BASE_URL": "https://course.example.org/"}
    again = cli("learners", "invite", "ada@example.org", "--db", db, "--port", "9", env=public)
    assert again.stdout.startswith("https://course.example.org/join/#"), "a base URL wins"


def test_serve_on_a_busy_port_is_one_error_before_anything_is_published(
    example: Path, tmp_path: Path
) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        out, db = tmp_path / "site", tmp_path / "db.sqlite3"
        command = ["serve", "--content", str(example), "--out", str(out), "--port", str(port)]
        refused = cli(*command, env={"SILLON_DB": str(db)})
    assert refused.returncode == 2
    assert refused.stderr == (
        f"error: port {port} of 127.0.0.1 is busy (another serve?): choose another with --port\n"
    )
    assert not db.exists() and not out.exists(), "nothing built, nothing published"


# -- live reload: the author's, never the learners' ---------------------------------------------


@pytest.mark.live
def test_serve_save_without_change_publishes_no_new_version(site: Site) -> None:
    site.wait_until(lambda: len(versions(site)) == 1, 30, "the first publication")
    first = versions(site)
    lesson = site.content / "modules/01-premiers-pas/02-tables.md"
    lesson.write_bytes(lesson.read_bytes())  # saved, unchanged
    site.wait_until(lambda: "course unchanged" in site.log_text(), 10, "the rebuild")
    assert versions(site) == first
    edit(site.content, "modules/01-premiers-pas/02-tables.md", "title: ", "title: Les ")
    site.wait_until(lambda: len(versions(site)) == 2, 10, "the changed course published")


def test_browser_save_reloads_the_authors_pages_never_a_learners(browser: Any, site: Site) -> None:
    learner = browser.new_context(viewport={"width": 1280, "height": 800})
    author = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        learning = learner.new_page()
        errors = page_errors(learning)
        sign_in(learning, site)
        learning.goto(site.url + "/learn/")
        learning.wait_for_selector("#step video", timeout=WAIT)
        preview = author.new_page()
        preview.goto(site.url + "/_sillon/preview.html")
        board = author.new_page()
        board.goto(site.url + "/board/")  # any page of the author's browser
        for page in (learning, preview, board):
            page.evaluate("window.unsaved = 'half-filled answers'")
        edit(site.content, "modules/01-premiers-pas/02-tables.md", "\n## ", "\nAjout.\n\n## ")
        for page in (preview, board):
            page.wait_for_function("() => !window.unsaved", timeout=WAIT)  # reloaded
        learning.wait_for_timeout(1500)
        assert learning.evaluate("window.unsaved") == "half-filled answers"
        assert learning.evaluate("document.querySelector('script[src*=livereload]')") is None
        assert not errors, errors
    finally:
        learner.close()
        author.close()


# -- the author preview ------------------------------------------------------------------------


def test_browser_preview_plays_videos_grades_quizzes_and_shows_build_errors(
    browser: Any, site: Site
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = page_errors(page)
    try:
        page.goto(site.url + "/_sillon/preview.html?step=som01-bienvenue")
        page.wait_for_selector("#step video", timeout=WAIT)
        page.evaluate(
            "() => { const v = document.querySelector('#step video'); v.muted = true; return v.play(); }"
        )
        page.wait_for_function(
            "() => document.querySelector('#step video').currentTime > 0.5", timeout=WAIT
        )

        page.goto(site.url + "/_sillon/preview.html?step=som01-quiz")
        step = next(s for s in site.manifest()["steps"] if s["id"] == "som01-quiz")
        questions = page.locator("form.quiz fieldset.question")
        questions.first.wait_for(timeout=WAIT)
        for number, question in enumerate(step["questions"]):
            for choice in question["answer"]:
                questions.nth(number).locator(f"input[value='{choice}']").check()
        page.click("form.quiz button[type=submit]")
        page.wait_for_selector(".quiz-result[data-passed='true']", timeout=WAIT)
        assert page.locator(".question-explain").count() == len(step["questions"])
        assert page.locator(".question-right").count() == len(step["questions"])
        page.locator(".quiz-result").scroll_into_view_if_needed()
        screenshot(page, "preview-quiz-graded-1280")
        assert site.rows("SELECT COUNT(*) FROM quiz_attempts") == [(0,)], "nothing recorded"
        assert site.rows("SELECT COUNT(*) FROM events") == [(0,)]

        lesson = "modules/01-premiers-pas/02-tables.md"
        edit(site.content, lesson, "title:", "titel:")
        banner = page.wait_for_selector("#sillon-build-errors", timeout=WAIT)
        assert f"content/{lesson}:" in banner.text_content()
        edit(site.content, lesson, "titel:", "title:")
        page.wait_for_selector("#sillon-build-errors", state="detached", timeout=WAIT)
        assert not errors, errors
    finally:
        context.close()


def test_serve_preview_grading_is_the_authors_alone(site: Site) -> None:
    answer = httpx.post(site.url + "/_sillon/grade", json={"stepId": "som01-bienvenue"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "not_a_quiz")
    blank = httpx.post(site.url + "/_sillon/grade", json={"stepId": "som01-quiz", "answers": []})
    assert blank.json()["error"]["code"] == "invalid_answers"


# -- Tally on this machine ---------------------------------------------------------------------


def tally_first_course(root: Path) -> Path:
    """A course whose first step is a Tally quiz, then a lesson."""
    content = root / "content"
    write(content / "course.yaml", "title: Tally\nlanguage: en\nmodules: [m1]\n")
    steps = "steps: [tally.yaml, after.md]\n"
    write(content / "modules/m1/module.yaml", "id: M1\ntitle: One\n" + steps)
    write(content / "modules/m1/tally.yaml", "id: final\ntitle: Final test\ntally: wMx9Qd\n")
    write(content / "modules/m1/after.md", "---\nid: after\ntitle: After\n---\nText.\n")
    write(content / "kms/index.md", "# Handout\n")
    return content


def test_browser_tally_step_is_simulated_on_a_local_serve(browser: Any, tmp_path: Path) -> None:
    site = Site(tmp_path, tally_first_course(tmp_path))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = page_errors(page)
    try:
        sign_in(page, site)
        page.goto(site.url + "/learn/")
        page.wait_for_selector("form.tally-simulate button", timeout=WAIT)
        screenshot(page, "tally-simulate-1280")
        page.fill("form.tally-simulate input[name=score]", "90")
        page.click("form.tally-simulate button")
        said = page.locator("form.tally-simulate [role=status]")
        said.filter(has_text="Response sent").wait_for(timeout=WAIT)
        # The real hook took it: the step is done, as with Tally's own response.
        assert site.rows("SELECT step_id FROM completions") == [("final",)]
        assert site.rows("SELECT COUNT(*) FROM quiz_attempts WHERE passed = 1") == [(1,)]
        assert not errors, errors
    finally:
        context.close()
        site.stop()


@pytest.mark.live
def test_serve_tally_simulation_only_for_the_open_tally_step(site: Site) -> None:
    client = site.learner()
    on_video = client.post(
        "/_sillon/tally-simulate", json={"stepId": "som01-bienvenue", "score": 90}
    )
    assert (on_video.status_code, on_video.json()["error"]["code"]) == (422, "not_a_tally_quiz")
    later = client.post(
        "/_sillon/tally-simulate", json={"stepId": "som03-evaluation-finale", "score": 9}
    )
    assert (later.status_code, later.json()["error"]["code"]) == (403, "step_locked")
    signed_out = httpx.post(site.url + "/_sillon/tally-simulate", json={"stepId": "x", "score": 1})
    assert signed_out.status_code == 401


# -- gzip ----------------------------------------------------------------------------------------


@pytest.mark.live
def test_serve_gzips_text_but_not_ranges_nor_events(site: Site) -> None:
    zipped = {"Accept-Encoding": "gzip"}
    home = httpx.get(site.url + "/", headers=zipped)
    assert home.headers["content-encoding"] == "gzip" and "Accept-Encoding" in home.headers["vary"]
    author = httpx.Client(base_url=site.url, headers=zipped)
    author.get("/_sillon/preview.html")
    board = author.get("/board/")  # injected, then compressed
    assert board.headers["content-encoding"] == "gzip"
    assert '<script src="/_sillon/livereload.js" defer></script>' in board.text
    client = site.learner()
    video = next(s for s in site.manifest()["steps"] if s["id"] == "som01-bienvenue")["video"]
    part = client.get(video["url"], headers={**zipped, "Range": "bytes=0-99"})
    assert part.status_code == 206 and "content-encoding" not in part.headers
    assert len(part.content) == 100
    with httpx.stream("GET", site.url + "/_sillon/events", headers=zipped, timeout=10) as events:
        assert "content-encoding" not in events.headers
        assert next(events.iter_lines()) == "retry: 1000"
    plain = httpx.get(site.url + "/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == home.content
