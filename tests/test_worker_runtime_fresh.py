"""A fresh Python Worker on the runtime's Pyodide and Miniflare's D1 (its own D1 and isolate,
apart from test_worker_runtime.py's): the storage conformance run inside Pyodide on the D1
binding, then the abuse limits of its isolate, the issuer's documents without an issuer key; and
the npm Pyodide the harness runs against the one the pinned workerd loads.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.course import ROOT
from support.launch import ADMIN, SECRET
from support.worker import WorkerRuntime
from support.worker_course import built_course, signed_in

from api import limits
from builder.config import BuildConfig
from builder.pipeline import build

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildConfig]:
    return built_course(tmp_path_factory.mktemp("runtime-course"))


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


@pytest.mark.live
def test_worker_runtime_storage_conformance_in_pyodide_on_d1(
    fresh: WorkerRuntime, tmp_path: Path
) -> None:
    """tests/conformance.py run by the runtime's Python on the D1 binding, identical to CPython
    on SQLite (answers and every table, certificates signed by the vendored `rsa` included)."""
    import asyncio

    from support.certified import issuer_key
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
    key = issuer_key()  # one key on both sides (its PEM handed to Pyodide): the same JWS
    with deterministic_ids():
        expected = asyncio.run(run(SQLiteDatabase(tmp_path / "local.sqlite3"), manifest, key))
    argument = json.dumps({"manifest": manifest, "issuerKey": key.pem()})
    actual = fresh.run_python("runtime.conformance_d1", argument)
    assert actual["answers"] == json.loads(json.dumps(expected["answers"]))
    assert actual["tables"] == json.loads(json.dumps(expected["tables"]))
    meters = dict(actual["meters"])
    assert meters["POST /api/video-event"][1] > 0, "D1 reports rows read through the binding"
    # A mid-video report's cost through the Worker on D1 (statements, rows read, rows written,
    # D1 calls): one call, one statement, one row written (api/watching.py; it was 4 calls, 7
    # statements, 7 rows read and 3 written). bench/launch_model.py models a launch from it.
    # A regression, one more call, statement or row, fails here.
    reports = [meter for request, meter in actual["meters"] if request == "POST /api/video-event"]
    plain = [reports[i] for i in (1, 2, 3, 4, 7, 8, 9, 10)]  # no xAPI action, not the last
    assert plain == [[1, 4, 1, 1]] * 8, reports
    # A pause and a seek: the same call with a guard and the xAPI statement (2 rows: the
    # statement and its id's index, api/sql_xapi.py; 2 read for the last seq); they were 4
    # calls, 8 statements, 7 rows written.
    assert [reports[5], reports[6]] == [[3, 6, 3, 1]] * 2, reports


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


@pytest.mark.live
def test_worker_runtime_rate_limits_trip_at_documented_counts(fresh: WorkerRuntime) -> None:
    """The buckets live in the isolate: they fill across requests (a new `Default` each)."""
    client = signed_in(fresh, "Lim")  # one admin call, one session opened
    for rule, send, spent in (
        (limits.EVENTS, lambda: client.post("/api/lesson-done", json={}), 0),
        (limits.LINK, lambda: client.post("/api/session", json={"inviteToken": "guess"}), 0),
        (  # random tokens: the 5 tries of "guess" were failures too
            limits.SESSION_FAILURES,
            lambda: client.post("/api/session", json={"inviteToken": secrets.token_urlsafe(32)}),
            limits.LINK.capacity,
        ),
        (
            limits.ADMIN,
            lambda: client.post("/api/admin/reset", json={}, headers={"Authorization": "Bearer x"}),
            1,
        ),
    ):
        accepted, most = accepted_before_429(send, rule, spent)
        assert rule.capacity <= accepted <= most, (rule.name, accepted, most)


@pytest.mark.live
def test_worker_runtime_without_issuer_key_says_certificates_are_off(fresh: WorkerRuntime) -> None:
    """No SILLON_ISSUER_KEY: the issuer's two documents still reach the app through the entry
    (run_worker_first, api/worker.py), which answers 503 `certificates_off` in the API's shape,
    not the assets' 404 page."""
    import httpx

    for path in ("/.well-known/jwks.json", "/.well-known/issuer.json"):
        answer = httpx.get(fresh.url + path, timeout=60)
        assert answer.status_code == 503, (path, answer.text)
        assert answer.json()["error"]["code"] == "certificates_off", path


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
