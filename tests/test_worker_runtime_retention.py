"""The Worker's cron prunes D1 (api/retention.py), for real: the runtime's Pyodide, the SDK it
vendors, Miniflare's D1 (tests/support/worker.py), an LRS stand-in. Rows are aged inside the
Worker, on its own D1 binding (tests/runtime/d1_rows.py), as time would age them: everything
up to a point. Its own Worker, with retention settings of its own, since one test makes the
cron run fail on purpose (the other runtime tests require a log without a traceback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.standin import LrsStandIn
from support.worker import WorkerRuntime
from support.worker_course import built_course, published_worker, signed_in

from api import sql_xapi
from api.clock import iso

pytestmark = pytest.mark.worker
KEEP = {"SILLON_KEEP_EVENTS_DAYS": "20", "SILLON_KEEP_FORWARDED_DAYS": "10"}
MINE = "learner_id = (SELECT learner_id FROM events WHERE event_id = 'eve-fresh-1')"
EVENTS = f"SELECT event_id FROM events WHERE {MINE} ORDER BY rowid"
WAITING = (  # 1: after the forwarder's place (api/sql_xapi.py)
    f"SELECT seq > (SELECT seq FROM xapi_outbox) FROM xapi_statements WHERE {MINE} ORDER BY seq"
)
ROWS = "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM xapi_statements)"


@pytest.fixture(scope="module")
def worker(lrs: LrsStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerRuntime]:
    """Its own Worker: the failure test below leaves one traceback in its log, and no other."""
    root = tmp_path_factory.mktemp("retention")
    _, config = built_course(root)
    secrets = {"SILLON_LRS_URL": lrs.url, **KEEP}
    with published_worker(config, root / "worker", secrets, tracebacks=1) as runtime:
        yield runtime


def on_d1(worker: WorkerRuntime, *statements: list[Any]) -> list[dict[str, Any]]:
    """[sql, params] statements run in one batch on the Worker's own D1 binding."""
    answer: list[dict[str, Any]] = worker.run_python("runtime.d1_rows", json.dumps(statements))
    return answer


ELEVEN_DAYS = 11 * 86_400_000 * sql_xapi.SEQ_PER_MS  # in seq (api/sql_xapi.py)


def ago(days: float) -> str:
    return iso(datetime.now(UTC) - timedelta(days=days))


@pytest.fixture(scope="module")
def learner(worker: WorkerRuntime, lrs: LrsStandIn) -> dict[str, Any]:
    """Eve's two recorded events (the day's first media, played; the report that completes the
    8 s video, paused), their three statements forwarded; then, the LRS down, a pause (plain:
    a statement, no event answer) and Next (its answer in Eve's row, not an event answer). The first event's answer aged 21
    days, every statement (and the forwarder's place with them) stored 11 days earlier (their
    settings: 20 and 10 days). What D1 then holds."""
    client = signed_in(worker, "Eve")

    def video(eid: str, action: str, spans: list[list[float]], time: float) -> None:
        body = {"eventId": eid, "stepId": "L1-video", "intervals": spans, "action": action}
        assert client.post("/api/video-event", json={**body, "time": time}).status_code == 200

    video("eve-aged-1", "played", [[0, 1]], 0)
    video("eve-fresh-1", "paused", [[1, 8]], 8)
    worker.scheduled()  # the LRS takes the three statements (played, paused, completed)
    lrs.unavailable = 10**6  # then it is down: the next one waits
    video("eve-paused-again", "paused", [], 8)
    moved = client.post("/api/next", json={"eventId": "eve-waiting-1", "stepId": "L1-video"})
    assert moved.status_code == 200, moved.text
    aged = on_d1(
        worker,
        [
            "UPDATE events SET created_at = ? WHERE rowid <= "
            "(SELECT rowid FROM events WHERE event_id = 'eve-aged-1')",
            [ago(21)],
        ],
        ["UPDATE xapi_statements SET stored = ?, seq = seq - ?", [ago(11), ELEVEN_DAYS]],
        ["UPDATE xapi_outbox SET seq = seq - ?", [ELEVEN_DAYS]],
        [ROWS, []],
    )
    assert [a["changes"] for a in aged[:3]] == [1, 4, 1], aged
    return {"rows": aged[3]["rows"][0][0]}


@pytest.mark.live
def test_worker_runtime_retention_cron_prunes_d1(
    worker: WorkerRuntime, learner: dict[str, Any]
) -> None:
    """One cron run: the answer past SILLON_KEEP_EVENTS_DAYS and the forwarded statements stored
    over SILLON_KEEP_FORWARDED_DAYS ago go; recent answers and the statement the LRS has not
    taken stay, however old. D1 counts the rows the run wrote: the four it deleted."""
    worker.stats()  # from here on: the cron run alone
    worker.scheduled()
    run = [t for t in worker.stats()["timings"] if t["method"] == "scheduled"]
    print(f"\ncron run (the LRS refusing, a prune round): {run}")
    kept = on_d1(worker, [EVENTS, []], [WAITING, []], [ROWS, []])
    assert kept[0]["rows"] == [["eve-fresh-1"]]
    assert kept[1]["rows"] == [[1]], "the one not forwarded stays"
    assert learner["rows"] - kept[2]["rows"][0][0] == 4
    assert run[0]["rowsWritten"] == 4, "the rows deleted; nothing else"


@pytest.mark.live
def test_worker_runtime_retention_failing_stops_no_forwarding(
    worker: WorkerRuntime, lrs: LrsStandIn, learner: dict[str, Any]
) -> None:
    """Pruning failing (its table gone) stops no forwarding; the run fails all the same."""
    on_d1(worker, ["ALTER TABLE events RENAME TO events_away", []])
    try:
        lrs.unavailable = 0
        failed = httpx.post(f"{worker.url}/__harness/scheduled", timeout=60)
    finally:
        on_d1(worker, ["ALTER TABLE events_away RENAME TO events", []])
    assert failed.status_code == 500
    assert "D1 refused the query: Error: no such table: events" in worker.errors()
    waiting = on_d1(worker, [WAITING, []])[0]["rows"]
    assert waiting and all(row == [0] for row in waiting), "forwarded all the same"
