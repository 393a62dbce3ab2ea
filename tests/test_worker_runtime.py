"""The Python Worker run for real: the runtime's Pyodide, the SDK it vendors, Miniflare's D1 and
asset worker (tests/support/worker.py, tests/runtime/harness.mjs), against `python build.py
serve` on SQLite. The same scripted learners go through both; their answers must be the same.

The course is not the example course: English, hyphenated upper-case ids, eight steps (a video, six short
lessons, a quiz, a Tally quiz), the handout opening module by module.
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
from support.course import ROOT, write
from support.launch import ADMIN, SECRET, TALLY_SECRET, Site
from support.tally import tally_webhook
from support.worker import WorkerRuntime
from test_xapi import LrsStandIn

from api import limits
from api.tally import hidden_token, sign_webhook
from builder.config import BuildConfig
from builder.pipeline import build

pytestmark = pytest.mark.worker
RELOAD_TAG = '<script src="/_sillon/livereload.js" defer></script>\n'
LESSONS = [f"L2-{n}" for n in range(1, 7)]


def runtime_course(root: Path) -> Path:
    """A small English course: a video, six lessons, a quiz; a Tally quiz; a module handout."""
    content = root / "content"
    write(
        content / "course.yaml",
        """
        title: Shell basics
        language: en
        modules: [one, two]
        kms: {unlock: module, pdf: false}
        """,
    )
    write(content / "modules/one/module.yaml", "id: M-one\ntitle: First\nsteps: [a.md, b.yaml]\n")
    write(
        content / "modules/one/a.md",
        """
        ---
        id: L1-video
        title: Watch this
        video: media/clip.webm
        duration: 8
        ---
        A **short** clip.
        """,
    )
    write(content / "modules/one/media/clip.webm", "bytes standing for a video")
    write(
        content / "modules/one/b.yaml",
        """
        id: L1-quiz
        title: Check
        questions:
          - prompt: Which command lists files?
            choices: [ls, cd, rm]
            answer: 0
          - prompt: Which are shells?
            choices: [bash, vim, zsh]
            answer: [0, 2]
        """,
    )
    steps = ", ".join(f"{n}.md" for n in range(1, 7))
    write(
        content / "modules/two/module.yaml", f"id: M-two\ntitle: Second\nsteps: [{steps}, t.yaml]\n"
    )
    for number, step in enumerate(LESSONS, start=1):
        write(
            content / f"modules/two/{number}.md",
            f"---\nid: {step}\ntitle: Part {number}\n---\nText {number}.\n",
        )
    write(content / "modules/two/t.yaml", "id: L2-exam\ntitle: Exam\ntally: wMx9Qd\n")
    write(content / "kms/index.md", "# Handout\n\nWelcome.\n")
    write(content / "kms/M-one/notes.md", "# Notes\n\nOn listing files.\n")
    return content


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildConfig]:
    root = tmp_path_factory.mktemp("runtime-course")
    content = runtime_course(root)
    config = BuildConfig.make(content=content, out=root / "site", disk_cache=False)
    build(config)
    return content, config


@pytest.fixture(scope="module")
def lrs() -> Iterator[LrsStandIn]:
    stand_in = LrsStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def worker(
    course: tuple[Path, BuildConfig], lrs: LrsStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerRuntime]:
    secrets = {
        "SILLON_ADMIN_TOKEN": ADMIN,
        "SILLON_SECRET": SECRET,
        "TALLY_SIGNING_SECRET": TALLY_SECRET,
        "SILLON_LRS_URL": lrs.url,
        "SILLON_LRS_USERNAME": "sillon",
        "SILLON_LRS_PASSWORD": "lrs-password",
    }
    workdir = tmp_path_factory.mktemp("worker")
    runtime = WorkerRuntime(course[1].out, workdir, secrets, python_path=ROOT / "tests")
    # The deploy's last step (README): publish the course. (serve publishes each build itself.)
    published = httpx.post(
        runtime.url + "/api/admin/publish",
        content=(course[1].private / "manifest.json").read_bytes(),
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    assert published.status_code == 201, published.text
    yield runtime
    runtime.stop()
    assert "Traceback" not in runtime.errors(), runtime.errors()


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
        self.lines.append([method, self.normal(url), response.status_code, self.normal(body)])
        return response

    def normal(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.normal(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [self.normal(v, key) for v in value]
        if key in ("medianSeconds", "duration_ms") and isinstance(value, int | float):
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
    admin = {"Authorization": f"Bearer {ADMIN}"}
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
    t.call("POST", "/api/session", json={"inviteToken": "not-a-token"})
    t.call("GET", "/api/learner")
    t.call("POST", "/api/session", json={"inviteToken": ada["inviteToken"]})
    t.call("GET", "/api/learner")
    t.call("GET", "/api/playback?stepId=L1-video")
    t.call("GET", "/steps/L1-quiz.html", follow_redirects=True)
    t.call(
        "GET",
        "/kms/M-one/notes.html",
        headers={"accept": "text/html", "sec-fetch-mode": "navigate"},
        follow_redirects=True,
    )
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
    t.call("GET", "/kms/M-one/notes.html", follow_redirects=True)
    for number, step in enumerate(LESSONS, start=1):
        time.sleep(0.01)
        t.call(
            "POST", "/api/lesson-done", json={"eventId": f"ev-lesson-{number:02d}", "stepId": step}
        )
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
    # Errors, in the one shape.
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
    return {"ada": ada, "bob": bob}


def differences(expected: Any, actual: Any) -> str:
    lines = difflib.unified_diff(
        json.dumps(expected, indent=1).splitlines(),
        json.dumps(actual, indent=1).splitlines(),
        "serve",
        "worker",
        lineterm="",
    )
    return "\n".join(lines)


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


def signed_in(runtime: WorkerRuntime | Site, name: str) -> httpx.Client:
    email = f"{name.lower()}-{time.monotonic_ns()}@example.org"
    created = httpx.post(
        runtime.url + "/api/admin/learners",
        json={"name": name, "email": email, "teamId": "green"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    ).json()
    client = httpx.Client(base_url=runtime.url, timeout=60)
    assert (
        client.post("/api/session", json={"inviteToken": created["inviteToken"]}).status_code == 200
    )
    return client


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
            r'data-step-id="([^"]+)"|<h1>([^<]+)</h1>|"code": ?"([^"]+)"', response.text
        )
        no_store = response.headers.get("cache-control") == "no-store"
        seen.append([path, response.status_code, kind, marker and marker.group(0), no_store])

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
    client.post(
        "/api/quiz-submission",
        json={"eventId": "gus-quiz-1", "stepId": "L1-quiz", "answers": [0, [0, 2]]},
    )
    get("/steps/L1-video.html")
    get(video)
    get("/kms/M-one/notes.html", headers=NAVIGATE)
    get("/kms/")
    get("/kms/M-two/")
    return seen


def test_worker_runtime_gate_holds_like_serve(worker: WorkerRuntime, served: Site) -> None:
    on_worker, on_serve = gate_answers(worker), gate_answers(served)
    assert on_worker == on_serve, differences(on_serve, on_worker)
    statuses = {line[0]: line[1] for line in on_worker}
    assert [line[1] for line in on_worker[:8]] == [200, 403, 200, 404, 200, 403, 403, 401]
    locked_view = on_worker[5]
    assert locked_view[2] == "text/html" and "opens later" in locked_view[3] and locked_view[4]
    assert statuses["/kms/"] == 200, "module policy: the general pages open with the first module"
    after = on_worker[8:]
    assert [line[1] for line in after] == [409, 403, 200, 200, 404]


# -- the cron trigger ------------------------------------------------------------------------


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


# -- one app, built once per isolate ----------------------------------------------------------


def test_worker_runtime_app_is_the_one_factory_and_kept(worker: WorkerRuntime) -> None:
    from api.app import Api, Settings
    from api.errors import HANDLERS
    from api.sqlite import SQLiteDatabase

    shape = worker.run_python("runtime.app_shape")
    local = Api(Settings(db_path=":memory:"), SQLiteDatabase(":memory:"))
    assert shape["handlers"] == sorted(k.__name__ for k in HANDLERS)
    assert shape["routes"] == [getattr(r, "path", "") for r in local.routes()]
    assert shape["builds"] == 1, "the app of this isolate was built once, on its first request"


# -- a fresh Worker: storage conformance inside Pyodide, then the abuse limits ---------------


@pytest.fixture(scope="module")
def fresh(
    course: tuple[Path, BuildConfig], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerRuntime]:
    secrets = {"SILLON_ADMIN_TOKEN": ADMIN, "SILLON_SECRET": SECRET}
    workdir = tmp_path_factory.mktemp("fresh-worker")
    runtime = WorkerRuntime(course[1].out, workdir, secrets, python_path=ROOT / "tests")
    yield runtime
    runtime.stop()
    assert "Traceback" not in runtime.errors(), runtime.errors()


def test_worker_runtime_storage_conformance_in_pyodide_on_d1(
    fresh: WorkerRuntime, tmp_path: Path
) -> None:
    """tests/conformance.py run by the runtime's Python on the D1 binding, identical to CPython
    on SQLite (answers and every table)."""
    import asyncio

    from support.conformance import deterministic_ids, run
    from support.course import make_course

    from api.sqlite import SQLiteDatabase

    config = BuildConfig.make(
        content=make_course(tmp_path / "course", duration=120),
        out=tmp_path / "site",
        disk_cache=False,
    )
    build(config)
    manifest = (config.private / "manifest.json").read_text()
    with deterministic_ids():
        expected = asyncio.run(run(SQLiteDatabase(tmp_path / "local.sqlite3"), manifest))
    actual = fresh.run_python("runtime.conformance_d1", manifest)
    assert actual["answers"] == json.loads(json.dumps(expected["answers"]))
    assert actual["tables"] == json.loads(json.dumps(expected["tables"]))
    meters = dict(actual["meters"])
    assert meters["POST /api/video-event"][1] > 0, "D1 reports rows read through the binding"


def accepted_before_429(send: Any, rule: limits.Rule, spent: int = 0) -> tuple[int, float]:
    """Send until the first 429; how many were answered otherwise, and the most the bucket
    could have allowed meanwhile (its burst plus what refilled at its steady rate)."""
    began = time.monotonic()
    for count in range(rule.capacity * 2):
        answer = send()
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "too_many_requests"
            assert int(answer.headers["retry-after"]) >= 1
            refilled = (time.monotonic() - began) * rule.per_second
            return count + spent, rule.capacity + refilled + 1
    raise AssertionError(f"{rule.name}: no 429 after {rule.capacity * 2} requests")


def test_worker_runtime_rate_limits_trip_at_documented_counts(fresh: WorkerRuntime) -> None:
    """The buckets live in the isolate: they fill across requests (a new `Default` each)."""
    client = signed_in(fresh, "Lim")  # one admin call, one session opened
    for rule, send, spent in (
        (limits.EVENTS, lambda: client.post("/api/lesson-done", json={}), 0),
        (limits.SESSION, lambda: client.post("/api/session", json={"inviteToken": "guess"}), 1),
        (
            limits.ADMIN,
            lambda: client.post("/api/admin/reset", json={}, headers={"Authorization": "Bearer x"}),
            1,
        ),
    ):
        accepted, most = accepted_before_429(send, rule, spent)
        assert rule.capacity <= accepted <= most, (rule.name, accepted, most)


# -- the pins ----------------------------------------------------------------------------------


def test_worker_runtime_pyodide_pin_is_what_workerd_loads(tmp_path: Path) -> None:
    """The npm `pyodide` the harness runs is the Pyodide the pinned workerd loads for this
    Worker's compatibility date and flags (workerd names the bundle before fetching it; offline
    the fetch then fails, which is all this needs)."""
    import subprocess
    import tomllib

    toml = tomllib.loads((ROOT / "wrangler.toml").read_text(encoding="utf-8"))
    flags = ", ".join(json.dumps(f) for f in toml["compatibility_flags"])
    (tmp_path / "worker.py").write_text("from workers import WorkerEntrypoint\n")
    (tmp_path / "config.capnp").write_text(
        f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "{toml["compatibility_date"]}",
  compatibilityFlags = [{flags}],
);
"""
    )
    (tmp_path / "cache").mkdir()
    done = subprocess.run(
        [
            str(ROOT / "node_modules/.bin/workerd"),
            "serve",
            "config.capnp",
            "--verbose",
            "--pyodide-bundle-disk-cache-dir",
            "cache",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    asked = re.search(r"pyodide_(\d+\.\d+\.\d+)_", done.stdout + done.stderr)
    assert asked, done.stdout + done.stderr
    installed = json.loads((ROOT / "node_modules/pyodide/package.json").read_text())["version"]
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["pyodide"]
    assert asked[1] == installed == pinned, (asked[1], installed, pinned)
