"""xAPI: learning events as statements (validated with ralph's published xAPI models), the
admin statements resource, and forwarding to an LRS.

The LRS is a stand-in (tests/test_xapi.LrsStandIn: a real HTTP server on 127.0.0.1): no
external LRS can run here. It speaks the part of the xAPI statements resource Sillon uses.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement
from ralph.models.xapi.video.statements import (
    VideoCompleted,
    VideoPaused,
    VideoPlayed,
    VideoSeeked,
)
from support.client import Cohort, assert_error, cohort, event, move_on
from support.course import make_course
from support.standin import LrsStandIn, verb

from api import xapi
from api.clock import iso, parse_iso
from api.lrs import Forwarder, LrsConfig, Unavailable
from api.sqlite import SQLiteDatabase

RIGHT = [1, [0, 2]]
WRONG = [0, [0]]
VIDEO_MODELS = {
    "played": VideoPlayed,
    "paused": VideoPaused,
    "seeked": VideoSeeked,
    "completed": VideoCompleted,
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path, base_url="https://learn.example.org") as running:
        yield running


def report(browser: Any, spans: list[list[float]], eid: str | None = None, **action: Any) -> Any:
    body = {"eventId": eid or event(), "stepId": "intro", "intervals": spans, **action}
    return browser.post("/api/video-event", json=body)


def journey(app: Cohort) -> tuple[dict[str, Any], Any]:
    """Play, pause, seek back, watch to the end; fail then pass the quiz (moving on after each:
    moving on writes no statement)."""
    learner, browser = app.learner("Ada")
    assert report(browser, [], action="played", time=0).status_code == 200
    for start in range(0, 120, 10):
        extra: dict[str, Any] = {}
        if start == 50:
            extra = {"action": "paused", "time": 60}
        elif start == 60:
            extra = {"action": "seeked", "timeFrom": 60, "timeTo": 30}
        assert report(browser, [[start, start + 10]], **extra).status_code == 200
        app.clock.advance(seconds=5)
    assert move_on(browser, "intro").status_code == 200
    for answers in (WRONG, RIGHT):
        sent = {"eventId": event(), "stepId": "quiz-1", "answers": answers}
        assert browser.post("/api/quiz-submission", json=sent).status_code == 200
    assert move_on(browser, "quiz-1").status_code == 200
    return learner, browser


def statements(app: Cohort, query: str = "") -> dict[str, Any]:
    response = app.client.get(f"/api/xapi/statements{query}", headers=app.admin())
    assert response.status_code == 200, response.text
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    body: dict[str, Any] = response.json()
    return body


def validate(statement: dict[str, Any]) -> None:
    """ralph's models: the ADL video profile's for video statements, xAPI 1.0.3's for the rest."""
    kind = statement["object"]["definition"]["type"]
    if kind == xapi.TYPES["video"]:
        VIDEO_MODELS[verb(statement)].model_validate(statement)
    else:
        BaseXapiStatement.model_validate(statement)


def test_xapi_every_learning_event_becomes_a_valid_statement(app: Cohort) -> None:
    learner, _ = journey(app)
    found = statements(app)["statements"]
    assert [(verb(s), s["object"]["id"].rsplit("/", 1)[-1]) for s in found] == [
        ("played", "intro"),
        ("paused", "intro"),
        ("seeked", "intro"),
        ("completed", "intro"),
        ("failed", "quiz-1"),
        ("passed", "quiz-1"),
        ("completed", "M1"),
    ]
    for statement in found:
        validate(statement)
        assert statement["actor"]["account"] == {
            "homePage": "https://learn.example.org/",
            "name": learner["userId"],
        }
        assert "mbox" not in statement["actor"], "no e-mail address leaves the platform"
        assert statement["context"]["language"] == "fr"
        assert statement["stored"] >= statement["timestamp"]
    played, paused, seeked, completed, failed, passed, module = found
    assert played["object"]["id"] == "https://learn.example.org/steps/intro"
    assert played["result"]["extensions"][xapi.EXT_TIME] == 0
    # What the server merged, not what the client claims: 0-60 watched when it paused.
    assert paused["result"]["extensions"][xapi.EXT_SEGMENTS] == "0.0[.]60.0"
    assert paused["result"]["extensions"][xapi.EXT_PROGRESS] == 0.5
    assert paused["context"]["extensions"][xapi.EXT_LENGTH] == 120
    assert seeked["result"]["extensions"] == {xapi.EXT_TIME_FROM: 60, xapi.EXT_TIME_TO: 30}
    assert completed["result"]["completion"] is True
    assert completed["result"]["extensions"][xapi.EXT_PROGRESS] == 1.0
    assert completed["result"]["extensions"][xapi.EXT_SEGMENTS] == "0.0[.]120.0"
    assert completed["context"]["extensions"][xapi.EXT_THRESHOLD] == 0.95
    assert {"id": xapi.VIDEO, "definition": {"type": xapi.TYPES["profile"]}} in completed[
        "context"
    ]["contextActivities"]["category"]
    assert failed["result"]["success"] is False and passed["result"]["success"] is True
    assert passed["result"]["score"]["scaled"] == 1.0
    assert module["object"]["definition"]["type"] == xapi.TYPES["module"]
    with sqlite3.connect(app.db) as db:
        (version,) = db.execute("SELECT version FROM course_versions").fetchone()
    key = "https://learn.example.org/xapi/extensions/course-version"
    assert {s["context"]["extensions"][key] for s in found} == {version}
    assert len({s["id"] for s in found}) == len(found)


def test_xapi_lesson_and_tally_statements(app: Cohort) -> None:
    """A text lesson is `completed`; a Tally-scored quiz `passed` with its source."""
    from support.journey import post_hook  # the signed webhook, as Tally sends it
    from support.tally import tally_payload

    _, browser = journey(app)
    done = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "texte"})
    assert done.status_code == 200, done.text
    assert move_on(browser, "texte").status_code == 200
    link = browser.get("/api/tally-link?stepId=final").json()
    token = link["formUrl"].split("sillon=", 1)[1]
    assert post_hook(app, tally_payload(token, 90)).status_code == 200
    found = statements(app)["statements"][7:]
    assert [(verb(s), s["object"]["definition"]["type"]) for s in found] == [
        ("completed", xapi.TYPES["lesson"]),
        ("passed", xapi.TYPES["quiz"]),
        ("completed", xapi.TYPES["module"]),
    ]
    for statement in found:
        validate(statement)
    assert any(v == "tally" for v in found[1]["result"]["extensions"].values())


def test_xapi_replayed_event_adds_no_statement(app: Cohort) -> None:
    _, browser = app.learner("Ada")
    eid = event()
    first = report(browser, [[0, 10]], eid=eid, action="paused", time=10)
    again = report(browser, [[0, 10]], eid=eid, action="paused", time=10)
    assert first.status_code == again.status_code == 200 and again.json()["replayed"] is True
    assert [verb(s) for s in statements(app)["statements"]] == ["paused"]


def test_xapi_heartbeats_make_no_statement(app: Cohort) -> None:
    """Periodic reports carry no media action: they only move the watched intervals."""
    _, browser = app.learner("Ada")
    assert report(browser, [[0, 4]]).status_code == 200
    assert statements(app)["statements"] == []


@pytest.mark.parametrize(
    "action",
    [
        {"action": "rewound", "time": 1},
        {"action": "played"},
        {"action": "played", "time": -1},
        {"action": "played", "time": 500},
        {"action": "played", "time": "3"},
        {"action": "played", "time": True},
        {"action": "seeked", "timeFrom": 3},
        {"action": "paused", "time": float("inf")},
    ],
)
def test_xapi_bad_action_is_422_and_writes_nothing(app: Cohort, action: dict[str, Any]) -> None:
    _, browser = app.learner("Ada")
    body = json.dumps({"eventId": event(), "stepId": "intro", "intervals": [[0, 5]], **action})
    response = browser.post(
        "/api/video-event", content=body, headers={"Content-Type": "application/json"}
    )
    if response.status_code == 400:  # Infinity is not JSON: refused before any rule
        assert_error(response, 400, "invalid_json")
    else:
        assert_error(response, 422, "invalid")
    with sqlite3.connect(app.db) as db:
        assert db.execute("SELECT COUNT(*) FROM xapi_statements").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM video_views").fetchone() == (0,)


def test_xapi_statements_resource_pages_without_gaps_or_repeats(app: Cohort) -> None:
    journey(app)
    everything = statements(app)["statements"]
    seen: list[str] = []
    page = statements(app, "?limit=2")
    pages = 1
    while page["more"]:
        seen += [s["id"] for s in page["statements"]]
        response = app.client.get(page["more"], headers=app.admin())
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
    seen += [s["id"] for s in page["statements"]]
    assert seen == [s["id"] for s in everything] and pages == 4
    later = statements(app, f"?since={everything[4]['stored']}")["statements"]
    assert [s["id"] for s in later] == [
        s["id"] for s in everything if s["stored"] >= everything[4]["stored"]
    ]
    assert statements(app, "?since=2999-01-01T00:00:00Z") == {"statements": [], "more": ""}
    assert statements(app, "?since=9999-12-31T23:59:59Z") == {"statements": [], "more": ""}


def test_xapi_statements_keep_storing_order_when_the_clock_steps_back(app: Cohort) -> None:
    """A statement stored by a clock behind the last one's (another isolate, a corrected
    clock) still comes after it: a reader following `more` never misses it, and `since` still
    finds it by its own `stored` (api/sql_xapi.py: seq is at least stored's, and increasing)."""
    journey(app)
    app.clock.advance(seconds=-30)
    _, browser = app.learner("Bea")
    assert report(browser, [], action="played", time=0).status_code == 200
    everything = statements(app)["statements"]
    last, before = everything[-1], everything[-2]
    assert last["actor"]["name"] == "Bea" and last["stored"] < before["stored"]
    paged, page = [], statements(app, "?limit=1")
    while page["more"]:
        paged += page["statements"]
        page = app.client.get(page["more"], headers=app.admin()).json()
    assert [s["id"] for s in paged + page["statements"]] == [s["id"] for s in everything]
    found = [s["id"] for s in statements(app, f"?since={last['stored']}")["statements"]]
    assert found == [s["id"] for s in everything if s["stored"] >= last["stored"]]
    assert last["id"] in found and len(found) < len(everything)
    after = iso(parse_iso(last["stored"]) + timedelta(milliseconds=1))
    assert last["id"] not in [s["id"] for s in statements(app, f"?since={after}")["statements"]]


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("", 401, "unauthorized"),
        ("?since=yesterday", 422, "invalid"),
        ("?limit=0", 422, "invalid"),
        ("?limit=501", 422, "invalid"),
        ("?limit=ten", 422, "invalid"),
        ("?cursor=%%%", 422, "invalid"),
        ("?cursor=" + base64.urlsafe_b64encode(b"no-bar").decode(), 422, "invalid"),
        ("?cursor=" + base64.urlsafe_b64encode(b"9007199254740992").decode(), 422, "invalid"),
        ("?cursor=" + base64.urlsafe_b64encode(b"-1").decode(), 422, "invalid"),
        ("?agent=ada", 422, "invalid"),
    ],
)
def test_xapi_statements_resource_refuses(app: Cohort, query: str, status: int, code: str) -> None:
    headers = app.admin() if status != 401 else {}
    assert_error(app.client.get(f"/api/xapi/statements{query}", headers=headers), status, code)


def test_xapi_statements_resource_is_for_admins_only(app: Cohort) -> None:
    _, browser = app.learner("Ada")
    assert_error(browser.get("/api/xapi/statements"), 401, "unauthorized")


# -- forwarding to an LRS ----------------------------------------------------------------------


@pytest.fixture
def lrs() -> Iterator[LrsStandIn]:
    server = LrsStandIn()
    yield server
    server.close()


def outbox(db: Path) -> list[tuple[str, bool]]:
    """Each statement in storing order, and whether the forwarder's place is past it."""
    with sqlite3.connect(db) as connection:
        return [
            (statement, bool(delivered))
            for statement, delivered in connection.execute(
                "SELECT id, seq <= (SELECT seq FROM xapi_outbox) FROM xapi_statements ORDER BY seq"
            )
        ]


def test_forwarder_retries_then_delivers_each_statement_once_in_order(
    app: Cohort, lrs: LrsStandIn
) -> None:
    journey(app)
    lrs.unavailable = 2
    forwarder = Forwarder(
        SQLiteDatabase(app.db), LrsConfig(lrs.url, "sillon", "pw"), backoff=(0.05, 0.2)
    )

    async def deliver() -> int:
        with pytest.raises(Unavailable):
            await forwarder.flush()
        stop = asyncio.Event()
        running = asyncio.create_task(forwarder.run(stop))
        deadline = time.monotonic() + 10
        while len(lrs.received) < 7 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        await running
        return forwarder.failures

    asyncio.run(deliver())
    assert lrs.requests == 3, "two 503s, then one batch"
    assert [s["id"] for s in lrs.received] == [row[0] for row in outbox(app.db)]
    assert all(forwarded for _, forwarded in outbox(app.db))
    assert lrs.users == {"sillon:pw"}
    for statement in lrs.received:
        assert "stored" not in statement, "`stored` is the receiving LRS's to set"
        validate(statement)
    asyncio.run(forwarder.flush())
    assert lrs.requests == 3, "nothing is sent twice"


def test_forwarder_skips_only_the_statement_the_lrs_refuses(app: Cohort, lrs: LrsStandIn) -> None:
    journey(app)
    lrs.refuse = {"failed"}
    forwarder = Forwarder(SQLiteDatabase(app.db), LrsConfig(lrs.url))
    assert asyncio.run(forwarder.flush()) == 6
    assert forwarder.rejected == 1
    assert [verb(s) for s in lrs.received] == [
        "played",
        "paused",
        "seeked",
        "completed",
        "passed",
        "completed",
    ]
    assert all(forwarded for _, forwarded in outbox(app.db)), "the refused one no longer blocks"


@pytest.mark.slow
def test_forwarder_never_blocks_the_learner(tmp_path: Path, lrs: LrsStandIn) -> None:
    """With the LRS hanging, a learner's event is answered at once; delivery follows."""
    lrs.hang = 1.5
    content = make_course(tmp_path / "course", duration=120)
    with cohort(content, tmp_path, lrs=LrsConfig(lrs.url)) as running:
        _, browser = running.learner("Ada")
        took = []
        for n in range(3):
            started = time.monotonic()
            assert report(browser, [[n * 10, n * 10 + 10]], action="paused", time=n * 10 + 10)
            took.append(time.monotonic() - started)
            running.clock.advance(seconds=6)
        assert max(took) < 0.5, took
        deadline = time.monotonic() + 15
        while len(lrs.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [verb(s) for s in lrs.received] == ["paused"] * 3


def test_lrs_config_from_environment() -> None:
    assert LrsConfig.from_env({}) is None
    config = LrsConfig.from_env(
        {
            "SILLON_LRS_URL": "https://lrs.example.org/xapi/",
            "SILLON_LRS_USERNAME": "u",
            "SILLON_LRS_PASSWORD": "p",
        }
    )
    assert config == LrsConfig("https://lrs.example.org/xapi", "u", "p")
    with pytest.raises(ValueError, match="SILLON_LRS_URL"):
        LrsConfig.from_env({"SILLON_LRS_URL": "lrs.example.org"})
