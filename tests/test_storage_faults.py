"""`python build.py serve` when storage misbehaves, with real SQLite files and real processes:
a write lock another process holds, a disk that refuses writes (the kernel's file-size limit
set on the running server with prlimit, which the server sees exactly as a full disk: a write
that fails), a database file that cannot be opened for writing. Reads and /api/health never
wait; writes answer 503 in the one error shape with Retry-After and write nothing; everything
recovers without a restart."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.course import ENGLISH
from support.launch import Site
from support.sqlite_lock import lock_held_by_another_process

from api.writer import WRITE_WAIT

pytestmark = [pytest.mark.live]
STEP = "SOM01.01"  # the English course's first step: a 4 s video


def report(client: httpx.Client, event_id: str, at: float = 0.0) -> httpx.Response:
    body = {"eventId": event_id, "stepId": STEP, "intervals": [[at, at + 0.2]]}
    return client.post("/api/video-event", json=body, timeout=15)


def timed(call: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    return time.perf_counter() - started, response


def watched(site: Site) -> float:
    """How much of the video the learner's saved intervals cover: a report written or not
    (the reports after the first are plain, with no event record: api/watching.py)."""
    return float(site.rows("SELECT COALESCE(SUM(watched), 0) FROM video_views")[0][0])


def assert_refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["retryAfter"] == int(response.headers["retry-after"])


@contextmanager
def write_lock(db: Path, seconds: float) -> Iterator[None]:
    """Another real process (as `learners import` would) holds the database's write lock."""
    with lock_held_by_another_process(db, seconds, "UPDATE learners SET xp = xp"):
        yield


def test_storage_lock_elsewhere_reads_answer_writes_wait_then_503(tmp_path: Path) -> None:
    site = Site(tmp_path, ENGLISH)
    try:
        learner = site.learner()
        assert report(learner, str(uuid.uuid4())).status_code == 200
        waiting = str(uuid.uuid4())
        with write_lock(site.db, seconds=WRITE_WAIT + 4):
            # A write waits for the lock; while it waits, reads and health still answer at once.
            outcome: dict[str, Any] = {}
            writer = threading.Thread(
                target=lambda: outcome.update(
                    zip(
                        ("took", "answer"),
                        timed(lambda: report(learner, waiting, 0.2)),
                        strict=True,
                    )
                )
            )
            writer.start()
            time.sleep(0.3)
            health = [timed(lambda: site.get("/api/health")) for _ in range(5)]
            reads = [timed(lambda: learner.get("/api/learner")) for _ in range(5)]
            writer.join()
        assert all(r.status_code == 200 for _, r in health + reads)
        assert max(t for t, _ in health + reads) < 0.25
        assert statistics.median(t for t, _ in health + reads) < 0.1
        assert_refused(outcome["answer"], "database_busy")
        assert WRITE_WAIT - 0.2 <= outcome["took"] <= WRITE_WAIT + 1.5
        assert watched(site) == 0.2, "a refused write wrote nothing"
        # The lock is gone: the same event goes through, without a restart.
        assert report(learner, waiting, 0.2).status_code == 200
        assert watched(site) == 0.4
    finally:
        site.stop()


def test_storage_lock_elsewhere_a_session_due_for_its_hourly_touch_still_reads(
    tmp_path: Path,
) -> None:
    """Reading slides a session's end, written at most once an hour: that bookkeeping write
    must not turn a read into a 2 s wait and a 503 while another process holds the lock."""
    site = Site(tmp_path, ENGLISH)
    try:
        learner = site.learner()
        assert learner.get("/api/learner").status_code == 200
        site.rows("UPDATE sessions SET last_seen = '2000-01-01T00:00:00.000Z'")  # due a touch
        with write_lock(site.db, seconds=3):
            took, answer = timed(lambda: learner.get("/api/learner"))
        assert answer.status_code == 200, answer.text
        assert took < 0.25, f"the read waited {took:.2f} s for a bookkeeping write"
        # Once the lock is gone, the next read writes the touch it skipped.
        assert learner.get("/api/learner").status_code == 200
        (seen,) = site.rows("SELECT last_seen FROM sessions WHERE last_seen > '2001'")[0]
        assert seen > "2026"
    finally:
        site.stop()


def set_file_size_limit(pid: int, limit: int) -> None:
    """The kernel's limit on how large the server may make a file (RLIMIT_FSIZE), changed on
    the running process: past it every write fails, as on a full disk."""
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))


def wait_healthy(site: Site, timeout: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = site.get("/api/health")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_storage_disk_refusing_writes_is_503_and_health_recovers(tmp_path: Path) -> None:
    site = Site(tmp_path, ENGLISH)
    try:
        learner = site.learner()
        assert report(learner, str(uuid.uuid4())).status_code == 200
        assert site.process is not None
        set_file_size_limit(site.process.pid, 1)  # no file may grow past 1 byte
        refused = str(uuid.uuid4())
        assert_refused(report(learner, refused, 0.2), "database_fault")
        health = wait_healthy(site, timeout=0)
        assert health.status_code == 503
        assert health.json()["error"]["code"] == "database_fault"
        assert "disk" in health.json()["error"]["message"]
        assert learner.get("/api/learner").status_code == 200, "reads still work"
        set_file_size_limit(site.process.pid, resource.RLIM_INFINITY)
        health = wait_healthy(site)
        assert health.status_code == 200, health.text
        assert watched(site) == 0.2
        assert report(learner, refused, 0.2).status_code == 200
        assert watched(site) == 0.4
    finally:
        site.stop()


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The database file cannot be opened for writing: immutable for root (who ignores file
    modes), mode 0444 for anyone else."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


def test_storage_read_only_file_is_503_and_recovers_without_restart(tmp_path: Path) -> None:
    site = Site(tmp_path, ENGLISH)
    learner = site.learner()
    assert report(learner, str(uuid.uuid4())).status_code == 200
    site.stop()  # a clean stop: the WAL is checkpointed into the file
    with read_only(site.db):
        site.start()
        try:
            refused = str(uuid.uuid4())
            assert_refused(report(learner, refused, 0.2), "database_fault")
            health = wait_healthy(site, timeout=0)
            assert health.status_code == 503
            assert "read-only" in health.json()["error"]["message"]
            assert learner.get("/api/learner").status_code == 200, "reads still work"
        except BaseException:
            site.stop()
            raise
    try:
        health = wait_healthy(site)  # writable again: the server sees it by itself
        assert health.status_code == 200, health.text
        assert watched(site) == 0.2
        assert report(learner, refused, 0.2).status_code == 200
        assert watched(site) == 0.4
        assert "Traceback" not in site.log_text()
    finally:
        site.stop()
