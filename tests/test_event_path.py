"""The lean event path (issue 16): what each saving keeps. A replay is looked up only once its
batch is refused, yet still gets its first answer and changes nothing; the current course
version is kept in the process, yet a publish here takes effect at once and one from another
process within versions.RECHECK; the router finds fixed paths in a dictionary, yet picks the
route Starlette's ordered scan picks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope
from support.client import Cohort, assert_error, event, move_on
from support.course import edit
from support.journey import rows, watch, watch_whole_video
from support.small_course import lesson_done, small_cohort

from api import sql, versions
from api.routing import IndexedRouter, fixed_paths
from api.turns import Turns
from builder.config import BuildConfig
from builder.pipeline import build


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


def new_version(app: Cohort, tmp_path: Path) -> str:
    """The small course with one more lesson, built: its manifest."""
    edit(app.content, "modules/m2/module.yaml", "steps: [texte.md", "steps: [bonus.md, texte.md")
    (app.content / "modules/m2/bonus.md").write_text("---\nid: bonus\ntitle: Bonus\n---\nTexte.\n")
    config = BuildConfig.make(
        content=app.content, out=tmp_path / "v2", private=tmp_path / "v2-private", disk_cache=False
    )
    build(config)
    return (config.private / "manifest.json").read_text()


# -- replays -------------------------------------------------------------------------------------


def test_event_path_replay_after_the_step_closed_gets_its_first_answer(app: Cohort) -> None:
    _, browser = app.learner()
    eid = event()
    for start in range(0, 110, 10):
        watch(browser, [[start, start + 10]])
        app.clock.advance(seconds=5)
    last = watch(browser, [[110, 120]], eid=eid).json()
    assert last["complete"] is True
    assert move_on(browser, "intro").status_code == 200  # intro is closed for good
    before = rows(app, "SELECT COUNT(*), MAX(watched) FROM video_views")
    again = watch(browser, [[0, 5]], eid=eid)
    assert again.status_code == 200 and again.json() == {**last, "replayed": True}
    assert rows(app, "SELECT COUNT(*), MAX(watched) FROM video_views") == before
    assert rows(app, "SELECT COUNT(*) FROM events WHERE event_id = ?", eid) == [(1,)]


def test_event_path_replay_as_another_kind_is_refused(app: Cohort) -> None:
    _, browser = app.learner()
    eid = event()
    assert watch(browser, [[0, 10]], eid=eid).status_code == 200
    assert_error(lesson_done(browser, "intro", eid=eid), 409, "event_id_reused")
    watch_whole_video(app, browser)  # the step is done: moving on is allowed, not with that id
    assert_error(move_on(browser, "intro", eid=eid), 409, "event_id_reused")
    assert rows(app, "SELECT open_step FROM learners") == [("intro",)]


# -- the current course version ------------------------------------------------------------------


def test_event_path_publish_here_takes_effect_at_once(app: Cohort, tmp_path: Path) -> None:
    _, browser = app.learner()
    first = browser.get("/api/learner").json()["courseVersion"]
    manifest = new_version(app, tmp_path)
    headers = {**app.admin(), "Content-Type": "application/json"}
    published = app.client.post("/api/admin/publish", content=manifest, headers=headers)
    assert published.status_code == 201 and published.json()["version"] != first
    assert browser.get("/api/learner").json()["courseVersion"] == published.json()["version"]


def test_event_path_publish_elsewhere_is_seen_within_recheck(app: Cohort, tmp_path: Path) -> None:
    _, browser = app.learner()
    browser.get("/api/learner")  # the version is read, and kept
    manifest = new_version(app, tmp_path)
    version = json.loads(manifest)["version"]
    other = sqlite3.connect(app.db)  # another process's publish: the same statement, its own file
    with other:
        statement = sql.publish_course(version, manifest, "2026-01-01T00:00:00.000Z")
        other.execute(statement.sql, statement.params)
    other.close()
    app.clock.advance(seconds=versions.RECHECK)
    assert browser.get("/api/learner").json()["courseVersion"] == version


def test_event_path_publish_elsewhere_is_seen_by_the_next_session_read(
    app: Cohort, tmp_path: Path
) -> None:
    """The session read carries the current version (versions.CurrentCourse.told): a learner's
    next request sees another process's publish at once, without waiting for RECHECK."""
    _, browser = app.learner()
    browser.get("/api/learner")  # the version is read, and kept
    manifest = new_version(app, tmp_path)
    version = json.loads(manifest)["version"]
    with sqlite3.connect(app.db) as other:
        statement = sql.publish_course(version, manifest, "2026-01-01T00:00:00.000Z")
        other.execute(statement.sql, statement.params)
    other.close()
    assert browser.get("/api/learner").json()["courseVersion"] == version
    assert browser.get("/api/learner").json()["courseVersion"] == version


# -- routing -------------------------------------------------------------------------------------


def request(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def scanned(routes: list[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route Starlette's ordered scan hands a request to when it matches whole."""
    return next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)


def indexed(router: IndexedRouter, scope: Scope) -> BaseRoute | None:
    """The route the index hands it to (None: left to the ordered scan)."""
    candidates = router.fixed.get(scope["path"], [])
    return next((r for r in candidates if r.matches(scope)[0] is Match.FULL), None)


def test_event_path_router_picks_what_the_ordered_scan_picks(app: Cohort) -> None:
    router = app.client.app.router  # type: ignore[attr-defined]
    assert isinstance(router, IndexedRouter) and "/api/video-event" in router.fixed
    paths = {r.path for r in router.routes if isinstance(r, Route)} | {"/", "/api/nothing"}
    for path in sorted(paths):
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
            scope = request(method, path)
            found = indexed(router, scope)
            assert found is None or found is scanned(router.routes, scope), (method, path)


def test_event_path_router_leaves_a_shadowed_path_to_the_scan() -> None:
    async def endpoint(scope: Scope) -> None: ...

    routes: list[BaseRoute] = [
        Route("/a", endpoint, methods=["GET"]),
        Route("/a/{name}", endpoint),
        Route("/a/b", endpoint),  # the pattern before takes it: not indexed
        Route("/a", endpoint, methods=["POST"]),
        Mount("/m", routes=[]),
        Route("/m/x", endpoint),  # the mount before takes it
    ]
    assert {path: len(found) for path, found in fixed_paths(routes).items()} == {"/a": 2}


# -- one session's events take turns -------------------------------------------------------------


def test_event_path_one_session_takes_turns_and_forgets_the_key() -> None:
    turns, order = Turns(), []

    async def event(key: str | None, n: int) -> None:
        async with turns.turn(key):
            order.append(("in", key, n))
            await asyncio.sleep(0.01)
            order.append(("out", key, n))

    async def all_at_once() -> None:
        await asyncio.gather(*(event("a", n) for n in range(3)), event("b", 0), event(None, 0))

    asyncio.run(all_at_once())
    mine = [step for step in order if step[1] == "a"]
    assert mine == [(way, "a", n) for n in range(3) for way in ("in", "out")]  # never two inside
    assert order.index(("in", "b", 0)) < order.index(("out", "a", 0))  # another key: no wait
    assert turns.turns == {}
