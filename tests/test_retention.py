"""Retention (api/retention.py): event answers and xAPI statements are kept for the policy's
days and then pruned, in bounded rounds, on a real SQLite file: through the real app
in-process (time is the test clock), the real `build.py serve` (which prunes at start) and the
`prune` command. D1's side: test_retention_d1.py; the Worker's cron: test_worker_runtime.py."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.client import Cohort, assert_error, cohort, event, move_on, the_api
from support.course import make_course
from support.journey import rows
from support.launch import Site
from support.standin import LrsStandIn, verb

import build
from api import sql
from api.clock import iso
from api.lrs import LrsConfig
from api.retention import CHUNK, Pruned, Pruner, Retention, prune, prune_all
from api.settings import Settings
from api.sqlite import SQLiteDatabase

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as running:
        yield running


@pytest.fixture
def lrs() -> Iterator[LrsStandIn]:
    stand_in = LrsStandIn()
    yield stand_in
    stand_in.httpd.shutdown()


def report(browser: TestClient, spans: list[list[float]], eid: str, **action: Any) -> Any:
    body = {"eventId": eid, "stepId": "intro", "intervals": spans, **action}
    return browser.post("/api/video-event", json=body)


def days_later(app: Cohort, browser: TestClient, days: int) -> None:
    """`days` pass; the learner opens their profile every 20 days (their session lives on, as
    a learner's who comes back now and then)."""
    while days > 0:
        app.clock.advance(days=min(days, 20))
        days -= 20
        assert browser.get("/api/learner").status_code == 200


def prune_pass(app: Cohort, lrs: bool = False) -> Pruned:
    """A pass of the app's policy at the app's time, as serve runs it (another connection)."""
    db = SQLiteDatabase(app.db)
    try:
        policy = the_api(app.client.app).settings.retention
        return asyncio.run(prune_all(db, policy, app.clock(), lrs, pause=0))
    finally:
        db.close()


def event_ids(app: Cohort) -> list[str]:
    return [row[0] for row in rows(app, "SELECT event_id FROM events ORDER BY rowid")]


def statement_verbs(app: Cohort) -> list[str]:
    found = app.client.get("/api/xapi/statements?limit=500", headers=app.admin()).json()
    return [verb(s) for s in found["statements"]]


# -- the policy ------------------------------------------------------------------------------


def test_retention_prunes_answers_after_60_days_and_statements_after_365(app: Cohort) -> None:
    _, browser = app.learner("Ada")
    old, recent = event(), event()
    # Both reports count a learning day, so both are recorded (a plain one is not).
    assert report(browser, [[0, 5]], old, action="played", time=0).status_code == 200
    days_later(app, browser, 30)
    first = report(browser, [[0, 10]], recent, action="paused", time=10).json()
    days_later(app, browser, 31)
    assert prune_pass(app) == Pruned(events=1), "61 days: the played event's answer goes"
    assert event_ids(app) == [recent]
    again = report(browser, [[0, 10]], recent, action="paused", time=10)
    assert again.json() == {**first, "replayed": True}, "31 days: still the first answer"
    assert statement_verbs(app) == ["played", "paused"], "statements outlive answers"
    days_later(app, browser, 304)  # played 365 days ago, paused 335
    assert prune_pass(app) == Pruned(events=1)
    days_later(app, browser, 1)
    assert prune_pass(app) == Pruned(statements=1)
    assert statement_verbs(app) == ["paused"]
    assert prune_pass(app) == Pruned(), "nothing more is due"


def test_retention_replay_of_a_pruned_event_changes_nothing(app: Cohort) -> None:
    """Answers pruned, a late replay is decided afresh: no second completion, XP, badge or
    statement (all unique-keyed); once the step is left, refused and nothing written."""
    learner, browser = app.learner("Ada")
    sent = []
    for start in range(0, 120, 10):
        eid, spans = event(), [[start, start + 10]]
        sent.append((eid, spans, report(browser, spans, eid).json()))
        app.clock.advance(seconds=5)
    eid, spans, first = next(s for s in sent if s[2]["complete"])
    assert {"cause": "video:intro", "amount": 10} in first["xp"] and first["badges"]
    before = facts(app, learner["userId"])
    days_later(app, browser, 61)
    assert prune_pass(app).events >= 1 and eid not in event_ids(app)
    again = report(browser, spans, eid)
    assert again.status_code == 200, again.text
    assert (again.json()["complete"], again.json()["xp"], again.json()["badges"]) == (True, [], [])
    assert "replayed" not in again.json(), "decided afresh: its first answer is gone"
    assert facts(app, learner["userId"]) == before
    assert move_on(browser, "intro").status_code == 200
    days_later(app, browser, 61)
    prune_pass(app)
    assert_error(report(browser, spans, eid), 409, "step_closed")
    assert facts(app, learner["userId"]) == before


def facts(app: Cohort, learner_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a replay must never add to: awards, counters, completions, statements."""
    mine = "WHERE learner_id = ? ORDER BY 1"
    return {
        "learner": rows(
            app, "SELECT xp, videos_done, streak FROM learners WHERE id = ?", learner_id
        ),
        "completions": rows(app, f"SELECT step_id FROM completions {mine}", learner_id),
        "xp": rows(app, f"SELECT cause, amount FROM xp_logs {mine}", learner_id),
        "badges": rows(app, f"SELECT badge_id FROM learner_badges {mine}", learner_id),
        "statements": rows(app, "SELECT id FROM xapi_statements ORDER BY seq"),
    }


def test_retention_keeps_unforwarded_statements_while_an_lrs_is_configured(
    tmp_path: Path, lrs: LrsStandIn
) -> None:
    content = make_course(tmp_path / "course", duration=120)
    with cohort(content, tmp_path, lrs=LrsConfig(lrs.url)) as app:
        forwarder = the_api(app.client.app).forwarder
        assert forwarder is not None
        _, browser = app.learner("Ada")
        assert report(browser, [], event(), action="played", time=0).status_code == 200
        wait_until(lambda: rows(app, "SELECT seq FROM xapi_outbox") != [(0,)])
        lrs.unavailable = 10**9  # from now on the LRS is down: statements wait
        assert report(browser, [[0, 10]], event(), action="paused", time=10).status_code == 200
        days_later(app, browser, 29)
        assert prune_pass(app, lrs=True) == Pruned(), "forwarded, stored 29 days ago: kept"
        days_later(app, browser, 2)
        assert prune_pass(app, lrs=True) == Pruned(statements=1)
        assert statement_verbs(app) == ["paused"]
        days_later(app, browser, 400)
        # one event answer (the pause counted the day; the play was plain, never recorded)
        assert prune_pass(app, lrs=True) == Pruned(events=1), "never one not forwarded"
        assert statement_verbs(app) == ["paused"]
        waiting = "SELECT COUNT(*) FROM xapi_statements WHERE seq > (SELECT seq FROM xapi_outbox)"
        assert rows(app, waiting) == [(1,)]


def wait_until(ready: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- rounds: bounded, oldest first -----------------------------------------------------------

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OLD, RECENT = iso(NOW - timedelta(days=400)), iso(NOW - timedelta(days=1))


def filled(path: Path, events: list[str], statements: list[str], delivered: int = 0) -> Path:
    """A migrated database holding events created at those times and statements stored at
    those times (with the seq storing gives them), in that order, the first `delivered` of them
    forwarded to the LRS."""
    SQLiteDatabase(path).close()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO events VALUES ('u', ?, 'video', '{}', ?)",
            [(f"e{n}", at) for n, at in enumerate(events)],
        )
        for n, stored in enumerate(statements):
            record = sql.record_statement(f"s{n}", "u", stored, "{}")
            db.execute(record.sql, record.params)
        if delivered:
            db.execute(
                "UPDATE xapi_outbox SET seq = (SELECT seq FROM xapi_statements "
                "ORDER BY seq LIMIT 1 OFFSET ?)",
                (delivered - 1,),
            )
    return path


def rounds(path: Path, lrs: bool = False, chunk: int = CHUNK) -> list[Pruned]:
    """Rounds until one deletes nothing: what each deleted."""

    async def go() -> list[Pruned]:
        db, done = SQLiteDatabase(path), []
        try:
            while pruned := await prune(db, Retention(), NOW, lrs, chunk):
                done.append(pruned)
            return done
        finally:
            db.close()

    return asyncio.run(go())


def left(path: Path, query: str) -> list[Any]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute(query)]


def test_retention_round_deletes_at_most_a_chunk_of_each_table(tmp_path: Path) -> None:
    path = filled(tmp_path / "db.sqlite3", [OLD] * 2500 + [RECENT] * 3, [OLD] * 1500)
    assert rounds(path) == [Pruned(1000, 1000), Pruned(1000, 500), Pruned(500, 0)]
    assert left(path, "SELECT event_id FROM events") == ["e2500", "e2501", "e2502"]
    assert left(path, "SELECT COUNT(*) FROM xapi_statements") == [0]


def test_retention_with_an_lrs_stops_at_the_first_statement_not_forwarded(tmp_path: Path) -> None:
    path = filled(tmp_path / "db.sqlite3", [], [OLD] * 15 + [RECENT], delivered=10)
    assert rounds(path, lrs=True, chunk=7) == [Pruned(statements=7), Pruned(statements=3)]
    remaining = left(path, "SELECT id FROM xapi_statements ORDER BY seq")
    assert remaining == ["s10", "s11", "s12", "s13", "s14", "s15"], (
        "what the LRS has not had waits, however old"
    )


def test_retention_event_out_of_time_order_waits_for_its_neighbour(tmp_path: Path) -> None:
    """Rows are taken oldest first by rowid: a recent one stops the round (the rows after it
    go once it is due), so a round reads no more than it deletes."""
    path = filled(tmp_path / "db.sqlite3", [OLD] * 3 + [RECENT] + [OLD] * 2, [])
    assert rounds(path) == [Pruned(events=3)]
    assert left(path, "SELECT event_id FROM events") == ["e3", "e4", "e5"]


def test_retention_forever_keeps_statements(tmp_path: Path) -> None:
    path = filled(tmp_path / "db.sqlite3", [OLD], [OLD], delivered=1)
    for lrs, policy in ((False, Retention(xapi_days=None)), (True, Retention(forwarded_days=None))):
        db = SQLiteDatabase(path)
        try:
            assert asyncio.run(prune_all(db, policy, NOW, lrs, pause=0)).statements == 0
        finally:
            db.close()
    assert left(path, "SELECT id FROM xapi_statements") == ["s0"]


def test_retention_serve_pruner_outlives_a_failed_pass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pass the database refuses (its table gone) is a warning, and the next pass prunes."""
    path = filled(tmp_path / "db.sqlite3", [OLD] * 3, [])
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE events RENAME TO events_away")

    async def run() -> None:
        db, stop = SQLiteDatabase(path), asyncio.Event()
        pruner = Pruner(db, Retention(), lrs=False, clock=lambda: NOW, every=0.05)
        running = asyncio.create_task(pruner.run(stop))
        await asyncio.sleep(0.2)
        with sqlite3.connect(path) as back:
            back.execute("ALTER TABLE events_away RENAME TO events")
        deadline = time.monotonic() + 5
        while left(path, "SELECT COUNT(*) FROM events") != [0]:
            assert time.monotonic() < deadline, "the next pass did not prune"
            await asyncio.sleep(0.02)
        stop.set()
        await running
        db.close()

    with caplog.at_level("INFO", logger="sillon.retention"):
        asyncio.run(run())
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    failed = "pruning failed (SQLite refused the query: no such table: events); next try in 0 s"
    assert ("WARNING", failed) in said, said
    assert ("INFO", "pruned 3 event answer(s), 0 xAPI statement(s)") in said
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SILLON_KEEP_EVENTS_DAYS": "0"},
            "SILLON_KEEP_EVENTS_DAYS must be a whole number of days from 1 to 36500, not '0'",
        ),
        (
            {"SILLON_KEEP_EVENTS_DAYS": "forever"},
            "SILLON_KEEP_EVENTS_DAYS must be a whole number of days from 1 to 36500, not 'forever'",
        ),
        (
            {"SILLON_KEEP_XAPI_DAYS": "1.5"},
            "SILLON_KEEP_XAPI_DAYS must be a whole number of days from 1 to 36500, or forever, "
            "not '1.5'",
        ),
        (
            {"SILLON_KEEP_FORWARDED_DAYS": "36501"},
            "SILLON_KEEP_FORWARDED_DAYS must be a whole number of days from 1 to 36500, or "
            "forever, not '36501'",
        ),
    ],
)
def test_retention_settings_refuse_bad_values(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_env(environ)
    assert str(refused.value) == message


def test_retention_settings_read_days_and_forever() -> None:
    assert Settings.from_env({}).retention == Retention(60, 365, 30)
    environ = {
        "SILLON_KEEP_EVENTS_DAYS": "7",
        "SILLON_KEEP_XAPI_DAYS": "Forever",
        "SILLON_KEEP_FORWARDED_DAYS": " 90 ",
    }
    assert Settings.from_env(environ).retention == Retention(7, None, 90)
    assert Settings.from_env(environ, "worker").retention == Retention(7, None, 90)


def test_retention_serve_refuses_a_bad_value_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.launch import free_port

    content = make_course(tmp_path / "course")
    monkeypatch.setenv("SILLON_KEEP_EVENTS_DAYS", "-1")
    monkeypatch.setenv("SILLON_DB", str(tmp_path / "db.sqlite3"))
    args = ["serve", "--content", str(content), "--out", str(tmp_path / "site")]
    assert build.main([*args, "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: SILLON_KEEP_EVENTS_DAYS must be a whole number of days from 1 to 36500, not '-1'"
    )
    assert not (tmp_path / "site").exists(), "nothing built"


# -- the prune command -----------------------------------------------------------------------


def test_retention_prune_command_prints_each_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    old, recent = iso(now - timedelta(days=61)), iso(now - timedelta(days=59))
    path = filled(tmp_path / "db.sqlite3", [old] * 2100 + [recent], [old] * 5)
    for name in ("SILLON_LRS_URL", "SILLON_KEEP_EVENTS_DAYS", "SILLON_KEEP_XAPI_DAYS"):
        monkeypatch.delenv(name, raising=False)
    assert build.main(["prune", "--db", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "Removed 2100 event answer(s), 0 xAPI statement(s)\n"
    assert err.splitlines() == [
        f"{path}: event answers kept 60 days, xAPI statements kept 365 days (no LRS)",
        "removed 1000 event answer(s), 0 xAPI statement(s)",
        "removed 1000 event answer(s), 0 xAPI statement(s)",
        "removed 100 event answer(s), 0 xAPI statement(s)",
    ]
    assert left(path, "SELECT COUNT(*) FROM events") == [1]


def test_retention_prune_command_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    assert build.main(["prune", "--db", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: no database at {missing} (set SILLON_DB or --db)\n"
    assert not missing.exists()
    monkeypatch.setenv("SILLON_KEEP_XAPI_DAYS", "never")
    assert build.main(["prune", "--db", str(missing)]) == 2
    assert capsys.readouterr().err == (
        "error: SILLON_KEEP_XAPI_DAYS must be a whole number of days from 1 to 36500, or "
        "forever, not 'never'\n"
    )


# -- serve -----------------------------------------------------------------------------------


@pytest.mark.live
def test_retention_serve_prunes_at_start(tmp_path: Path) -> None:
    """The real serve: an event answer and a statement aged past the policy while it was
    stopped are gone once it is back (its first pass); the recent ones stay."""
    content = make_course(tmp_path / "course", duration=8)
    site = Site(tmp_path, content)
    try:
        client = site.learner()
        # Recorded, not plain: the first media counts the day, the second report completes.
        played = {"action": "played", "time": 0}
        for eid, spans, more in (("aged-event", [[0, 1]], played), ("fresh-event", [[1, 8]], {})):
            body = {"eventId": eid, "stepId": "intro", "intervals": spans, **more}
            assert client.post("/api/video-event", json=body).status_code == 200
        site.stop()
        long_ago = iso(datetime.now(UTC) - timedelta(days=400))
        with sqlite3.connect(site.db) as db:
            db.execute(
                "UPDATE events SET created_at = ? WHERE event_id = 'aged-event'", (long_ago,)
            )
            first, kept = [row[0] for row in db.execute("SELECT seq FROM xapi_statements")]
            db.execute(
                "UPDATE xapi_statements SET stored = ?, seq = ? WHERE seq = ?",
                (long_ago, sql.seq_at(long_ago), first),
            )
        site.start()
        site.wait_until(lambda: "pruned 1 event answer(s), 1 xAPI" in site.log_text(), 10, "a pass")
        assert site.rows("SELECT event_id FROM events") == [("fresh-event",)]
        assert site.rows("SELECT seq FROM xapi_statements") == [(kept,)]
        assert "retention: event answers kept 60 days, xAPI statements kept 365 days (no LRS)" in (
            site.log_text()
        )
    finally:
        site.stop()
