"""The Python Worker run for real: the runtime's Pyodide, the SDK it vendors, Miniflare's D1 and
asset worker (tests/support/worker.py, tests/runtime/harness.mjs), against `python build.py
serve` on SQLite. The same scripted learners go through both; their answers must be the same.

The course is not the example course (support/worker_course.py). A fresh Worker (storage
conformance in Pyodide, the abuse limits) and the Pyodide pin are in
test_worker_runtime_fresh.py.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.launch import ADMIN, SECRET, TALLY_SECRET, Site
from support.standin import LrsStandIn
from support.tally import tally_webhook
from support.worker import WorkerRuntime
from support.worker_course import LESSONS, built_course, published_worker, signed_in

from api.tally import hidden_token, sign_webhook
from builder.config import BuildConfig

pytestmark = pytest.mark.worker
RELOAD_TAG = '<script src="/_sillon/livereload.js" defer></script>\n'
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildConfig]:
    return built_course(tmp_path_factory.mktemp("runtime-course"))


@pytest.fixture(scope="module")
def worker(
    course: tuple[Path, BuildConfig], lrs: LrsStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerRuntime]:
    workdir = tmp_path_factory.mktemp("worker")
    with published_worker(
        course[1],
        workdir,
        {
            "SILLON_LRS_URL": lrs.url,
            "SILLON_LRS_USERNAME": "sillon",
            "SILLON_LRS_PASSWORD": "lrs-password",
        },
    ) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def served(
    course: tuple[Path, BuildConfig], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    site = Site(tmp_path_factory.mktemp("serve"), course[0])
    yield site
    site.stop()


# -- the scripted learners -------------------------------------------------------------------


class Transcript:
    """Every request and its answer, with what legitimately differs between two servers (ids,
    tokens, times, the address) replaced by stable placeholders."""

    def __init__(self, base: str, manifest: bytes) -> None:
        self.client = httpx.Client(base_url=base, timeout=60)
        self.base, self.manifest = base, manifest
        self.lines: list[Any] = []
        self.names: dict[str, str] = {}

    def call(self, method: str, url: str, **options: Any) -> httpx.Response:
        response = self.client.request(method, url, **options)
        body: Any = response.text.replace(RELOAD_TAG, "")  # serve's live reload, for authors
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("teams"), list):
                # serve on a loopback address enrolls its demo learner (team `demo`, README,
                # Quick start); the Worker never does
                body["teams"] = [t for t in body["teams"] if t.get("teamId") != "demo"]
        self.lines.append([method, self.normal(url), response.status_code, self.normal(body)])
        return response

    def normal(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.normal(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [self.normal(v, key) for v in value]
        if key in ("medianSeconds", "duration_ms", "seconds") and isinstance(value, int | float):
            return "<seconds>"  # wall-clock time on a step: the two runs differ
        if not isinstance(value, str):
            return value
        if value.startswith("\ufeffteamId,"):  # the insight CSV: blank its wall-clock column
            rows = list(csv.reader(io.StringIO(value)))
            column = rows[0].index("medianSeconds")
            value = json.dumps([[*r[:column], "<seconds>", *r[column + 1 :]] for r in rows])
        value = value.replace(self.base, "<base>")
        value = re.sub(r"cursor=[A-Za-z0-9%_\-]+", "cursor=<cursor>", value)  # holds a time
        value = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<time>", value)
        for pattern in (
            r"u_[0-9a-f]{16}",
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ):
            value = re.sub(
                pattern, lambda m: self.names.setdefault(m[0], f"<id {len(self.names)}>"), value
            )
        value = re.sub(r"\.\d{10}\.[0-9a-f]{32}", ".<expiry>.<signature>", value)  # Tally's field
        return re.sub(r"[A-Za-z0-9_\-]{40,}(\.[A-Za-z0-9_\-]+)*", "<token>", value)


def learners_go_through(t: Transcript) -> dict[str, Any]:
    """Enrolment, sessions, every kind of step, the gate, awards, admin reads, errors."""
    ada, bob = enrol(t)
    sign_in_and_open_steps(t, ada)
    watch_and_answer(t)
    finish_lessons_and_tally(t, ada)
    read_as_learner_and_admin(t, bob)
    errors_in_the_one_shape(t, bob)
    return {"ada": ada, "bob": bob}


def enrol(t: Transcript) -> tuple[dict[str, Any], dict[str, Any]]:
    """Publish, enrol Ada and Bob; an unknown time zone, then no admin token, are refused."""
    admin = ADMIN_HEADERS
    t.call("GET", "/api/openapi.json")
    t.call("POST", "/api/admin/publish", content=t.manifest, headers=admin)
    ada = t.call(
        "POST",
        "/api/admin/learners",
        json={"name": "Ada", "email": "ada@example.org", "teamId": "blue", "tz": "Europe/Paris"},
        headers=admin,
    ).json()
    bob = t.call(
        "POST",
        "/api/admin/learners",
        json={"name": "Bob", "email": "bob@example.org", "teamId": "blue"},
        headers=admin,
    ).json()
    t.call(
        "POST",
        "/api/admin/learners",
        json={"name": "X", "email": "x@example.org", "teamId": "blue", "tz": "Mars/Olympus"},
        headers=admin,
    )
    t.call(
        "POST",
        "/api/admin/learners",
        json={"name": "X", "email": "x@example.org", "teamId": "blue"},
    )
    return ada, bob


def sign_in_and_open_steps(t: Transcript, ada: dict[str, Any]) -> None:
    """A bad invite, then Ada's; the video's playback, a locked quiz and handout page."""
    t.call("POST", "/api/session", json={"inviteToken": "not-a-token"})
    t.call("GET", "/api/learner")
    t.call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
    t.call("GET", "/api/learner")
    # Sign-in (README, "Sign-in"): the invite works once; the sessions listed.
    t.call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
    t.call("GET", "/api/sessions")
    t.call("GET", "/api/playback?stepId=L1-video")
    t.call("GET", "/steps/L1-quiz.html", follow_redirects=True)
    t.call(
        "GET",
        "/kms/M-one/notes.html",
        headers={"accept": "text/html", "sec-fetch-mode": "navigate"},
        follow_redirects=True,
    )


def watch_and_answer(t: Transcript) -> None:
    """The video reported in three events (one replayed), the quiz failed then passed, moving
    on after each."""
    # The first report of a step (its video row does not exist yet: SQL NULLs), mid-video.
    played = {
        "eventId": "ev-video-01",
        "stepId": "L1-video",
        "intervals": [[0, 4]],
        "action": "played",
        "time": 0,
    }
    t.call("POST", "/api/video-event", json=played)
    t.call("POST", "/api/video-event", json=played)  # a replay: the first answer again
    t.call(
        "POST",
        "/api/video-event",
        json={
            "eventId": "ev-video-02",
            "stepId": "L1-video",
            "intervals": [[4, 8]],
            "action": "paused",
            "time": 8,
        },
    )
    t.call(
        "POST",
        "/api/video-event",
        json={"eventId": "ev-video-03", "stepId": "L1-video", "intervals": [[0, 8]]},
    )
    t.call("POST", "/api/next", json={"eventId": "ev-next-video", "stepId": "L1-video"})
    t.call(
        "POST",
        "/api/quiz-submission",
        json={"eventId": "ev-quiz-01", "stepId": "L1-quiz", "answers": [1, [0]]},
    )
    t.call(
        "POST",
        "/api/quiz-submission",
        json={"eventId": "ev-quiz-02", "stepId": "L1-quiz", "answers": [0, [0, 2]]},
    )
    t.call("POST", "/api/next", json={"eventId": "ev-next-quiz", "stepId": "L1-quiz"})
    t.call("GET", "/kms/M-one/notes.html", follow_redirects=True)


def finish_lessons_and_tally(t: Transcript, ada: dict[str, Any]) -> None:
    """The six lessons done (moving on after each); the Tally webhook forged, then signed; the
    end of the course."""
    for number, step in enumerate(LESSONS, start=1):
        time.sleep(0.01)
        t.call(
            "POST", "/api/lesson-done", json={"eventId": f"ev-lesson-{number:02d}", "stepId": step}
        )
        t.call("POST", "/api/next", json={"eventId": f"ev-next-{number:02d}", "stepId": step})
    t.call("GET", "/api/tally-link?stepId=L2-exam")
    token = hidden_token(SECRET, ada["userId"], "L2-exam")
    hook = tally_webhook(token, 90, "resp-1")
    t.call(
        "POST",
        "/api/tally-hook",
        content=hook,
        headers={"Content-Type": "application/json", "Tally-Signature": "forged"},
    )
    t.call(
        "POST",
        "/api/tally-hook",
        content=hook,
        headers={
            "Content-Type": "application/json",
            "Tally-Signature": sign_webhook(TALLY_SECRET, hook),
        },
    )
    t.call("POST", "/api/next", json={"eventId": "ev-next-exam", "stepId": "L2-exam"})


def read_as_learner_and_admin(t: Transcript, bob: dict[str, Any]) -> None:
    """The learner, the leaderboards; the admin's teams, versions, insight, learner, xAPI."""
    admin = ADMIN_HEADERS
    t.call("GET", "/api/learner")
    t.call("GET", "/api/leaderboard?period=7d")
    t.call("GET", "/api/leaderboard?period=all")
    t.call("GET", "/api/leaderboard?teamId=red")
    t.call("GET", "/api/admin/teams", headers=admin)
    t.call("GET", "/api/admin/versions", headers=admin)
    t.call("GET", "/api/admin/insight?teamId=blue", headers=admin)
    t.call("GET", "/api/admin/insight.csv?teamId=blue&table=steps", headers=admin)
    t.call("GET", f"/api/learner?userId={bob['userId']}", headers=admin)
    t.call("GET", "/api/xapi/statements?limit=3", headers=admin)


def errors_in_the_one_shape(t: Transcript, bob: dict[str, Any]) -> None:
    """Errors, in the one shape; then signed out."""
    t.call("GET", "/api/nowhere")
    t.call("DELETE", "/api/learner")
    t.call(
        "POST",
        "/api/lesson-done",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    t.call("POST", "/api/lesson-done", content=b"x=1", headers={"Content-Type": "text/plain"})
    t.call(
        "POST",
        "/api/lesson-done",
        json={"eventId": "ev-identity", "stepId": "L2-1", "userId": bob["userId"]},
    )
    t.call(
        "POST",
        "/api/lesson-done",
        content=b"[" + b"0," * 40_000 + b"0]",
        headers={"Content-Type": "application/json"},
    )
    t.call("POST", "/api/lesson-done", json={"eventId": "ev-closed-1", "stepId": "L2-1"})
    t.call("DELETE", "/api/session")
    t.call("GET", "/api/learner")


def differences(expected: Any, actual: Any) -> str:
    lines = difflib.unified_diff(
        json.dumps(expected, indent=1).splitlines(),
        json.dumps(actual, indent=1).splitlines(),
        "serve",
        "worker",
        lineterm="",
    )
    return "\n".join(lines)


@pytest.mark.live
def test_worker_runtime_answers_like_serve(
    worker: WorkerRuntime, served: Site, course: tuple[Path, BuildConfig]
) -> None:
    manifest = (course[1].private / "manifest.json").read_bytes()
    on_serve, on_worker = Transcript(served.url, manifest), Transcript(worker.url, manifest)
    learners_go_through(on_serve)
    learners_go_through(on_worker)
    health_serve = on_serve.call("GET", "/api/health").json()
    health_worker = on_worker.call("GET", "/api/health").json()
    assert (health_serve, health_worker) == (
        {"ok": True, "database": "sqlite"},
        {"ok": True, "database": "d1"},
    ), "each reports the backend it runs on"
    assert len(on_worker.lines) == len(on_serve.lines) > 40
    for serve_line, worker_line in zip(on_serve.lines[:-1], on_worker.lines[:-1], strict=True):
        assert worker_line == serve_line, differences(serve_line, worker_line)
    statuses = [line[2] for line in on_worker.lines]
    assert max(statuses) < 500, "no 5xx on either side (a refused statement is a 503 on both)"
    assert {200, 201, 401, 403, 409, 413, 415, 422} <= set(statuses)


# -- the gate in front of the assets ---------------------------------------------------------


NAVIGATE = {"accept": "text/html", "sec-fetch-mode": "navigate"}


def gate_answers(runtime: WorkerRuntime | Site) -> list[Any]:
    """Steps, videos and the handout, before and after the first module, as the browser gets
    them (redirects followed)."""
    client = signed_in(runtime, "Gus")
    video = client.get("/api/playback?stepId=L1-video").json()["url"]
    seen: list[Any] = []

    def get(path: str, **options: Any) -> None:
        response = client.get(path, follow_redirects=True, **options)
        kind = response.headers.get("content-type", "").split(";")[0]
        marker = re.search(
            r'data-step-id="([^"]+)"|<h1>(?!Ask for)([^<]+)</h1>|"code": ?"([^"]+)"', response.text
        )
        cache = response.headers.get("cache-control")
        vary = "cookie" in response.headers.get("vary", "").lower()
        seen.append([path, response.status_code, kind, marker and marker.group(0), cache, vary])

    get("/steps/L1-video.html")
    get("/steps/L1-quiz.html")
    get("/steps/L1-quiz.html", headers=NAVIGATE)
    get("/steps/nowhere.html")
    get(video)
    get("/kms/M-one/notes.html", headers=NAVIGATE)
    get("/kms/M-one/notes.html")
    anonymous = httpx.get(runtime.url + "/steps/L1-video.html")
    seen.append(["anonymous", anonymous.status_code, anonymous.json()["error"]["code"]])
    client.post(
        "/api/video-event",
        json={"eventId": "gus-video-1", "stepId": "L1-video", "intervals": [[0, 8]]},
    )
    client.post("/api/next", json={"eventId": "gus-next-1", "stepId": "L1-video"})
    client.post(
        "/api/quiz-submission",
        json={"eventId": "gus-quiz-1", "stepId": "L1-quiz", "answers": [0, [0, 2]]},
    )
    client.post("/api/next", json={"eventId": "gus-next-2", "stepId": "L1-quiz"})
    get("/steps/L1-video.html")
    get(video)
    get("/kms/M-one/notes.html", headers=NAVIGATE)
    get("/kms/")
    get("/kms/M-two/")
    return seen


@pytest.mark.live
def test_worker_runtime_gate_holds_like_serve(worker: WorkerRuntime, served: Site) -> None:
    on_worker, on_serve = gate_answers(worker), gate_answers(served)
    assert on_worker == on_serve, differences(on_serve, on_worker)
    statuses = {line[0]: line[1] for line in on_worker}
    assert [line[1] for line in on_worker[:8]] == [200, 403, 200, 404, 200, 403, 403, 401]
    locked_view = on_worker[5]
    assert locked_view[2] == "text/html" and "opens later" in locked_view[3]
    assert locked_view[4] == "no-store"
    # Gated files are private and vary with the session: never public, never immutable.
    assert on_worker[0][4:] == ["private, no-store", True], on_worker[0]
    assert on_worker[4][4:] == ["private, no-cache", True], on_worker[4]
    assert statuses["/kms/"] == 200, "module policy: the general pages open with the first module"
    after = on_worker[8:]
    assert [line[1] for line in after] == [409, 403, 200, 200, 404]


# -- the cron trigger ------------------------------------------------------------------------


@pytest.mark.live
def test_worker_runtime_cron_forwards_statements_over_fetch(
    worker: WorkerRuntime, lrs: LrsStandIn
) -> None:
    client = signed_in(worker, "Cy")
    played = {
        "eventId": "cy-played-1",
        "stepId": "L1-video",
        "intervals": [],
        "action": "played",
        "time": 0,
    }
    assert client.post("/api/video-event", json=played).status_code == 200
    admin = {"Authorization": f"Bearer {ADMIN}"}
    stored = httpx.get(worker.url + "/api/xapi/statements?limit=500", headers=admin).json()
    lrs.unavailable = 1
    worker.scheduled()
    assert lrs.received == [], "503: every statement waits for the next trigger"
    worker.scheduled()
    assert [s["id"] for s in lrs.received] == [s["id"] for s in stored["statements"]]
    assert lrs.users == {"sillon:lrs-password"}
    requests = lrs.requests
    worker.scheduled()
    assert lrs.requests == requests, "nothing is sent twice"


# -- D1's Sessions API for the reads that tolerate lag ------------------------------------------


@pytest.mark.live
def test_worker_runtime_lag_tolerant_reads_go_through_a_d1_session(worker: WorkerRuntime) -> None:
    """The leaderboard and the admin's insight read through `withSession` (a replica's, where
    D1 read replication is on: README "Several databases"); the learner's own reads and
    writes never do. Miniflare's D1 has no replica, so this shows the path, not the lag."""
    client = signed_in(worker, "Zoe")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    worker.stats()  # from here on: these requests alone
    assert client.get("/api/leaderboard?period=7d").status_code == 200
    assert httpx.get(worker.url + "/api/admin/insight?teamId=green", headers=admin).is_success
    csv_url = worker.url + "/api/admin/insight.csv?teamId=green&table=learners"
    assert httpx.get(csv_url, headers=admin).is_success
    assert client.get("/api/learner").status_code == 200
    timings = {t["path"]: t for t in worker.stats()["timings"] if t["method"] == "fetch"}
    board = timings["/api/leaderboard"]
    assert board["sessionCalls"] == 1 and board["d1Calls"] == 2, board  # the session read first
    for path in ("/api/admin/insight", "/api/admin/insight.csv"):
        assert 1 <= timings[path]["sessionCalls"] <= timings[path]["d1Calls"], timings[path]
    assert timings["/api/learner"]["sessionCalls"] == 0, timings["/api/learner"]


# -- one app, built once per isolate ----------------------------------------------------------


@pytest.mark.live
def test_worker_runtime_app_is_the_one_factory_and_kept(
    worker: WorkerRuntime, tmp_path: Path
) -> None:
    from api.app import Api, Settings
    from api.errors import HANDLERS
    from api.sqlite import SQLiteDatabase

    shape = worker.run_python("runtime.app_shape")
    local = Api(
        Settings(db_path=str(tmp_path / "routes.db")), SQLiteDatabase(tmp_path / "routes.db")
    )
    assert shape["handlers"] == sorted(k.__name__ for k in HANDLERS)
    assert shape["routes"] == [getattr(r, "path", "") for r in local.routes()]
    assert shape["builds"] == 1, "the app of this isolate was built once, on its first request"
