"""Cohorts on the Worker, for real (SILLON_COHORTS; api/cohorts.py, api/worker.py): two D1
bindings besides `DB` (Miniflare's D1, each migrated by wrangler; tests/support/worker.py),
`spring=DB_SPRING` named and `autumn` by the convention (`DB_AUTUMN`). Through the Worker's
entry over HTTP: publishing reaches both, each learner is enrolled, signed in, watches, reads,
and each one's rows are in their cohort's database alone (read inside the Worker, on each
binding: tests/runtime/d1_rows.py); a cookie renamed to the other cohort opens nothing; admin
calls name their cohort; the cron runs for both databases."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.launch import ADMIN
from support.standin import LrsStandIn
from support.worker import WorkerRuntime
from support.worker_course import built_course, published_worker

from api import sql_xapi
from api.clock import iso

pytestmark = pytest.mark.worker
COHORTS = "spring=DB_SPRING,autumn"
BINDINGS = {"spring": "DB_SPRING", "autumn": "DB_AUTUMN"}
BEARER = {"Authorization": f"Bearer {ADMIN}"}
SKIPPED = ("sqlite_%", "_cf_%", "d1_migrations")
TABLES = "SELECT name, sql FROM sqlite_master WHERE type = 'table'" + "".join(
    f" AND name NOT LIKE '{name}'" for name in SKIPPED
)


@pytest.fixture(scope="module")
def worker(lrs: LrsStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerRuntime]:
    root = tmp_path_factory.mktemp("cohorts")
    _, config = built_course(root)
    secrets = {"SILLON_COHORTS": COHORTS, "SILLON_LRS_URL": lrs.url}  # [vars] on Cloudflare
    with published_worker(config, root / "worker", secrets, tuple(BINDINGS.values())) as runtime:
        yield runtime


def on_d1(worker: WorkerRuntime, binding: str, *statements: list[Any]) -> list[dict[str, Any]]:
    """[sql, params] statements run in one batch on one of the Worker's D1 bindings."""
    argument = json.dumps({"binding": binding, "statements": statements})
    answer: list[dict[str, Any]] = worker.run_python("runtime.d1_rows", argument)
    return answer


def contents(worker: WorkerRuntime, binding: str) -> dict[str, list[list[Any]]]:
    """Every row of every table of one D1 database."""
    names = [row[0] for row in on_d1(worker, binding, [TABLES, []])[0]["rows"]]
    rows = on_d1(worker, binding, *([f'SELECT * FROM "{n}"', []] for n in names))
    return {name: found["rows"] for name, found in zip(names, rows, strict=True)}


def learner_ids(worker: WorkerRuntime, binding: str) -> set[str]:
    """Every learner id any table of one D1 database holds."""
    tables = on_d1(worker, binding, [TABLES, []])[0]["rows"]
    mine = [name for name, sql in tables if "learner_id" in sql]
    rows = on_d1(
        worker,
        binding,
        ["SELECT id FROM learners", []],
        *([f'SELECT learner_id FROM "{n}"', []] for n in mine),
    )
    return {row[0] for found in rows for row in found["rows"]}


def everything(worker: WorkerRuntime) -> dict[str, Any]:
    return {binding: contents(worker, binding) for binding in ("DB", *BINDINGS.values())}


def learner_of(worker: WorkerRuntime, cohort: str, name: str) -> tuple[dict[str, Any], Any]:
    """Enrolled by the admin naming the cohort, signed in by the invite: (enrolment, client)."""
    body = {"name": name, "email": f"{name.lower()}@example.org", "teamId": "green"}
    headers = {**BEARER, "X-Sillon-Cohort": cohort}
    enrolled = httpx.post(worker.url + "/api/admin/learners", json=body, headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    created = {**enrolled.json(), "name": name}
    assert created["inviteToken"].startswith(cohort + "."), created
    client = httpx.Client(base_url=worker.url, timeout=60)
    signed = client.post("/api/session", json={"inviteToken": created["inviteToken"]})
    assert signed.status_code == 200, signed.text
    assert client.cookies["sillon_session"].startswith(cohort + ".")
    return created, client


def watch(client: httpx.Client, prefix: str) -> list[str]:
    """The video played, then reported a little at a time (well within the speed cap)."""
    played = {"eventId": f"{prefix}-1", "stepId": "L1-video", "intervals": [], "action": "played"}
    reports = [
        {**played, "time": 0},
        {"eventId": f"{prefix}-2", "stepId": "L1-video", "intervals": [[0, 1]]},
        {**played, "eventId": f"{prefix}-3", "intervals": [[1, 2]], "action": "paused", "time": 2},
    ]
    for report in reports:
        answer = client.post("/api/video-event", json=report)
        assert answer.status_code == 200, answer.text
        time.sleep(0.01)
    return [r["eventId"] for r in reports]


@pytest.fixture(scope="module")
def learners(worker: WorkerRuntime) -> dict[str, Any]:
    """Ada in spring, Bob in autumn, each having watched a little of the video."""
    found = {}
    for cohort, name in (("spring", "Ada"), ("autumn", "Bob")):
        created, client = learner_of(worker, cohort, name)
        events = watch(client, f"{cohort}-video")
        found[cohort] = {"created": created, "client": client, "events": events}
    return found


@pytest.mark.live
def test_worker_runtime_cohorts_publish_and_health_reach_both(
    worker: WorkerRuntime,
) -> None:
    versions = "SELECT version FROM course_versions ORDER BY seq"
    spring, autumn, home = (
        on_d1(worker, b, [versions, []])[0]["rows"] for b in (*BINDINGS.values(), "DB")
    )
    assert spring == autumn and len(spring) == 1, "the deploy's publish reached both"
    assert home == [], "DB is not a cohort's: nothing goes there"
    health = httpx.get(worker.url + "/api/health")
    assert health.json() == {"ok": True, "database": "d1", "cohorts": ["spring", "autumn"]}
    nowhere = httpx.get(worker.url + "/api/certificates/" + str(uuid.uuid4()))
    assert nowhere.status_code == 404, "asked both cohorts: neither has it"
    assert worker.run_python("runtime.isolate") == {
        "builds": 1,  # one Cohorts app per isolate, kept across requests
        "cohorts": [["spring", "d1:DB_SPRING"], ["autumn", "d1:DB_AUTUMN"]],
        "app": "Cohorts",
        "oneLimiter": True,
    }


@pytest.mark.live
def test_worker_runtime_cohorts_keep_each_learner_in_their_database(
    worker: WorkerRuntime, learners: dict[str, Any]
) -> None:
    for cohort, binding in BINDINGS.items():
        mine = learners[cohort]
        me, client = mine["created"], mine["client"]
        learner = client.get("/api/learner")
        assert learner.status_code == 200, learner.text
        assert (learner.json()["userId"], learner.json()["name"]) == (me["userId"], me["name"])
        board = client.get("/api/leaderboard").json()["entries"]
        assert [(e["userId"], e["me"]) for e in board] == [(me["userId"], True)]
        headers = {**BEARER, "X-Sillon-Cohort": cohort}
        admin_board = httpx.get(worker.url + "/api/leaderboard?teamId=green", headers=headers)
        assert [e["userId"] for e in admin_board.json()["entries"]] == [me["userId"]]
        assert client.get("/steps/L1-video.html", follow_redirects=True).status_code == 200
        assert learner_ids(worker, binding) == {me["userId"]}
        events = on_d1(worker, binding, ["SELECT event_id FROM events ORDER BY rowid", []])
        recorded = {row[0] for row in events[0]["rows"]}  # plays and pauses are not
        assert recorded and recorded <= set(mine["events"]), recorded
    assert learner_ids(worker, "DB") == set()


@pytest.mark.live
def test_worker_runtime_cohorts_refuse_a_renamed_cookie_and_an_unnamed_admin(
    worker: WorkerRuntime, learners: dict[str, Any]
) -> None:
    cookie = learners["spring"]["client"].cookies["sillon_session"]
    before = everything(worker)
    thief = httpx.Client(base_url=worker.url, timeout=60)
    thief.cookies.set("sillon_session", "autumn." + cookie.removeprefix("spring."))
    assert thief.get("/api/learner").status_code == 401
    report = {"eventId": "thief-video-1", "stepId": "L1-video", "intervals": [[2, 3]]}
    stolen = thief.post("/api/video-event", json=report)
    assert stolen.status_code == 401, stolen.text
    invite = learners["spring"]["created"]["inviteToken"]
    renamed = {"inviteToken": "autumn." + invite.removeprefix("spring.")}
    assert thief.post("/api/session", json=renamed).status_code == 401
    body = {"name": "Cy", "email": "cy@example.org", "teamId": "green"}
    for refused in (
        httpx.post(worker.url + "/api/admin/learners", json=body, headers=BEARER),
        httpx.get(worker.url + "/api/admin/teams", headers=BEARER),
        httpx.get(worker.url + "/api/leaderboard?teamId=green", headers=BEARER),
    ):
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "cohort_required"
    assert everything(worker) == before, "nothing written anywhere"


@pytest.mark.live
def test_worker_runtime_cohorts_cron_forwards_and_prunes_both(
    worker: WorkerRuntime, lrs: LrsStandIn, learners: dict[str, Any]
) -> None:
    """One cron run forwards both databases' statements to the LRS; then, every event's answer
    aged past SILLON_KEEP_EVENTS_DAYS (60) and every statement forwarded over
    SILLON_KEEP_FORWARDED_DAYS (30) ago, the next one deletes them in both."""
    worker.scheduled()
    actors = json.dumps([s["actor"] for s in lrs.received])
    for cohort in BINDINGS:
        assert learners[cohort]["created"]["userId"] in actors, (cohort, actors)
    shift = 400 * 86_400_000 * sql_xapi.SEQ_PER_MS  # 400 days of seq (api/sql_xapi.py)
    aged = {
        "events": ["UPDATE events SET created_at = ?", [ago(400)]],
        "xapi_statements": [
            "UPDATE xapi_statements SET stored = ?, seq = seq - ?",
            [ago(400), shift],
        ],
    }
    deleted = 0
    for binding in BINDINGS.values():
        changed = on_d1(worker, binding, *aged.values())
        on_d1(worker, binding, ["UPDATE xapi_outbox SET seq = seq - ?", [shift]])  # its place too
        assert all(c["changes"] > 0 for c in changed), (binding, changed)
        deleted += sum(c["changes"] for c in changed)
    worker.stats()  # from here on: the cron run alone
    worker.scheduled()
    run = [t for t in worker.stats()["timings"] if t["method"] == "scheduled"]
    for binding in BINDINGS.values():
        left = on_d1(worker, binding, *([f"SELECT COUNT(*) FROM {t}", []] for t in aged))
        assert [c["rows"] for c in left] == [[[0]], [[0]]], (binding, left)
    assert run[0]["rowsWritten"] == deleted, "the rows deleted in each database; nothing else"


def ago(days: float) -> str:
    return iso(datetime.now(UTC) - timedelta(days=days))
