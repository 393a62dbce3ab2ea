"""`python build.py serve` as a user runs it: a real process, a real port, real edits."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.course import edit
from support.launch import Site

pytestmark = pytest.mark.live  # a real `python build.py serve` process


@pytest.fixture
def server(example: Path) -> Iterator[Site]:
    running = Site(example.parent, example, wait=False)
    running.wait_until(lambda: running.get("/").status_code == 200, 30, "the first build")
    yield running
    running.stop()


def test_serve_rebuilds_on_edit_and_survives_a_bad_edit(server: Site, example: Path) -> None:
    lesson = "modules/02-filtrer-trier/02-combiner-conditions.md"
    page = "/_sillon/steps/som02-combiner-conditions.html"  # the author preview: not gated
    assert server.get(page).status_code == 200
    edit(example, lesson, "\n## ", "\nUne phrase ajoutée en direct.\n\n## ")
    took = server.wait_until(
        lambda: "ajoutée en direct" in server.get(page).text, 2.0, "the edited lesson"
    )
    assert took < 2.0

    edit(example, lesson, "title:", "titel:")
    server.wait_until(lambda: "build failed" in server.log_text(), 5, "the error to be logged")
    log = server.log_text()
    assert (
        f"content/{lesson}:3: unknown key 'titel' in modules/<dir>/<name>.md front matter; did you mean 'title'?"
        in log
    )
    assert f"content/{lesson}:1: missing required key 'title' (Step title.)" in log
    response = server.get(page)
    assert response.status_code == 200 and "ajoutée en direct" in response.text
    assert server.running(), "serve must keep running after a bad edit"

    edit(example, lesson, "titel:", "title:")
    edit(example, lesson, "ajoutée en direct", "corrigée en direct")
    server.wait_until(
        lambda: "corrigée en direct" in server.get(page).text, 2.0, "the fixed lesson"
    )


def test_serve_site_api_and_headers(server: Site) -> None:
    home = server.get("/")
    assert home.status_code == 200 and "Les bases de SQL avec SQLite" in home.text
    assert home.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert server.get("/learn/").status_code == 200
    gated = server.get("/steps/som01-bienvenue.html")
    assert (gated.status_code, gated.json()["error"]["code"]) == (401, "unauthorized")
    assert server.get("/_sillon/steps/som01-bienvenue.html").status_code == 200
    assert server.get("/api/health").json() == {"ok": True, "database": "sqlite"}
    missing = server.get("/api/nothing")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": {"code": "not_found", "message": "No API endpoint GET /api/nothing."}},
    )
    not_found = server.get("/no/such/page")
    assert not_found.status_code == 404 and "Page introuvable" in not_found.text
    assert server.get("/_headers").status_code == 404
    css = next(p for p in server.get("/").text.split('"') if p.startswith("/static/sillon."))
    assert server.get(css).headers["cache-control"] == "public, max-age=31536000, immutable"


def read_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Yield (event, data) pairs from a text/event-stream."""
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            yield name, line[len("data: ") :]


def test_serve_events_reload_after_good_build_and_report_bad_one(
    server: Site, example: Path
) -> None:
    lesson = "modules/01-premiers-pas/02-tables.md"
    with httpx.stream("GET", server.url + "/_sillon/events", timeout=10) as stream:
        events = read_events(stream.iter_lines())
        assert next(events)[0] == "build"
        assert next(events) == ("problems", "[]")
        edit(example, lesson, "title:", "titre:")
        name, data = next(events)
        assert name == "build"
        generation = int(data)
        name, data = next(events)
        assert name == "problems"
        assert (
            f"content/{lesson}:3: unknown key 'titre' in modules/<dir>/<name>.md front matter; did you mean 'title'?"
            in json.loads(data)
        )
        edit(example, lesson, "titre:", "title:")
        assert next(events) == ("build", str(generation + 1)), (
            "a good build moves the generation on"
        )
        assert next(events) == ("problems", "[]")


def test_serve_injects_reload_script_but_site_files_stay_clean(server: Site, example: Path) -> None:
    author = httpx.Client(base_url=server.url, headers={"Accept-Encoding": "identity"})
    assert author.get("/_sillon/preview.html").status_code == 200  # the author's browser
    page = author.get("/board/")
    assert '<script src="/_sillon/livereload.js" defer></script>' in page.text
    assert int(page.headers["content-length"]) == len(page.content)
    assert server.get("/_sillon/livereload.js").status_code == 200
    assert "livereload" not in (example.parent / "site/board/index.html").read_text()


def test_serve_starts_with_broken_content_and_recovers(example: Path) -> None:
    quiz = example / "modules/01-premiers-pas/04-quiz-premiers-pas.yaml"
    original = quiz.read_text()
    quiz.write_text(original.replace("id:", "id: [", 1))
    running = Site(example.parent, example, wait=False)
    try:
        running.wait_until(
            lambda: "build failed" in running.log_text(), 30, "the failed first build"
        )
        assert running.get("/").status_code == 404
        quiz.write_text(original)
        running.wait_until(lambda: running.get("/").status_code == 200, 10, "the recovered build")
    finally:
        running.stop()
    shutil.rmtree(example.parent / "site", ignore_errors=True)
