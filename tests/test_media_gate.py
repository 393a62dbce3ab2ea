"""Every file a step uses is gated like the step, and nothing gated is publicly cacheable.

Attacks from issue 14: the captions (`.vtt`) of a finished video and the images of a finished
lesson were served to anyone, even without a session; a gated video was answered
`Cache-Control: public, max-age=31536000, immutable` with no `Vary`, so a shared cache could
hand one learner's gated file to anyone. Driven through the real app (serve's site + API on a
SQLite file), as a browser would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error, cohort, event
from support.course import make_course
from support.journey import RIGHT, watch_and_move_on
from support.small_course import submit_quiz


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    """The small course; its handout page for M1 also shows the intro's diagram."""
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    fiche = content / "kms/M1/fiche.md"
    fiche.write_text(fiche.read_text() + "\n![Le schéma](../../modules/m1/img/schema.svg)\n")
    with cohort(content, tmp_path) as running:
        yield running


def files_of(html: str) -> dict[str, str]:
    """The /media/ files a page links, by extension."""
    return {url.rsplit(".", 1)[-1]: url for url in re.findall(r'"(/media/[^"]+)"', html)}


def test_step_files_open_only_while_the_step_is_open(app: Cohort) -> None:
    _, ada = app.learner("Ada")
    files = files_of(ada.get("/steps/intro.html").text)
    assert set(files) >= {"vtt", "svg", "webm"}, files
    for url in files.values():
        assert ada.get(url).status_code == 200, url
        assert_error(app.client.get(url), 401, "unauthorized")  # no session: nothing
    watch_and_move_on(app, ada)  # the step closes for good, its transcript with it
    for kind in ("vtt", "webm", "svg"):
        assert_error(ada.get(files[kind]), 403, "media_locked")
    _, bob = app.learner("Bob")  # whose intro is open
    assert bob.get(files["vtt"]).status_code == 200
    # The diagram is also on the M1 handout page: it comes back with the handout, at the end
    # of the module; the captions never do.
    assert submit_quiz(ada, "quiz-1", RIGHT).json()["passed"] is True
    assert ada.get("/kms/M1/fiche.html").status_code == 200
    assert ada.get(files["svg"]).status_code == 200
    assert_error(ada.get(files["vtt"]), 403, "media_locked")
    assert_error(ada.get(files["webm"]), 403, "media_locked")


def test_gated_answers_are_private_and_vary_with_the_cookie(app: Cohort) -> None:
    _, ada = app.learner("Ada")
    files = files_of(ada.get("/steps/intro.html").text)
    for url in [*files.values(), "/steps/intro.html"]:
        answer = ada.get(url)
        assert answer.status_code == 200, url
        cache = answer.headers["cache-control"]
        assert cache.startswith("private") and "immutable" not in cache, (url, cache)
        assert "cookie" in answer.headers["vary"].lower(), url
    assert ada.get("/steps/intro.html").headers["cache-control"] == "private, no-store"
    refused = app.client.get(files["vtt"])
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"
    for url in ("/api/learner", "/api/playback?stepId=intro"):
        answer = ada.get(url)
        assert answer.headers["cache-control"] == "no-store", url
        assert "cookie" in answer.headers["vary"].lower(), url
    posted = ada.post("/api/lesson-done", json={"eventId": event(), "stepId": "intro"})
    assert posted.headers["cache-control"] == "no-store"


def test_only_fingerprinted_public_assets_are_immutable(app: Cohort) -> None:
    home = app.client.get("/").text
    assets = re.findall(r'"(/static/[^"]+)"', home)
    assert assets
    for url in assets:
        answer = app.client.get(url)
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable", url
    assert app.client.get("/").headers["cache-control"] == "no-cache"
