"""Reliability of `python build.py serve` under load and faults: figures, not a test.

    python bench/reliability_bench.py [--cycles 8] [--seconds 3] [--learners 8] [--lock 5]

Serve runs the example course (content/) on one SQLite file; learners report tiny spans of the
first video as fast as they can, each from its own thread (rate limits off). Two experiments:

1. kill -9 under load, --cycles times on the same file: every report the server acknowledged
   (200) must be saved after the kill (each learner's saved intervals cover all their
   acknowledged spans); `PRAGMA integrity_check` after each cycle.
2. a write lock held by another process (as `learners import` or `publish` would) for --lock
   seconds under the same load: how fast /api/health answers meanwhile, what the writes get
   (503 database_busy after their bounded wait, never 500), and how soon they succeed again.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import token_hash  # noqa: E402
from bench.api_servers import Server, enroll, start, wait_ready  # noqa: E402
from bench.common import percentile  # noqa: E402

STEP = "som01-bienvenue"


class Load:
    """Learners reporting as fast as they can; how far each was acknowledged (the end of their
    last span answered 200: most reports are plain, saved as intervals with no event record,
    api/watching.py) and every answer's status."""

    def __init__(self, base: str, cookies: list[str]) -> None:
        self.base, self.cookies = base, cookies
        self.acknowledged: dict[str, float] = {}  # per session cookie
        self.answered = 0
        self.statuses: Counter[int | str] = Counter()
        self.first_ok_after: float | None = None  # set by the lock experiment
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(c,)) for c in cookies]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def run(self, cookie: str) -> None:
        client = httpx.Client(base_url=self.base, cookies={"sillon_session": cookie}, timeout=10)
        position = 0.0
        while not self.stop.is_set():
            end = round(position + 0.001, 3)
            body = {"eventId": str(uuid.uuid4()), "stepId": STEP, "intervals": [[position, end]]}
            try:
                status: int | str = client.post("/api/video-event", json=body).status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
            with self.lock:
                self.statuses[status] += 1
                if status == 200:
                    self.acknowledged[cookie] = end
                    self.answered += 1
                    if self.first_ok_after is None:
                        self.first_ok_after = time.monotonic()
            if status == 200:
                position = end


def serve(tmp: Path, db: Path, admin: str) -> Server:
    env = {
        **os.environ,
        "SILLON_DB": str(db),
        "SILLON_RATE_LIMITS": "off",
        "SILLON_ADMIN_TOKEN": admin,
        "SILLON_SECRET": "reliability-bench-secret-0123456789abcdef",
    }
    argv = [sys.executable, "build.py", "serve", "--content", "content", "--out", str(tmp / "site")]
    server = start("serve", [*argv, "--port"], env, tmp)
    wait_ready(server, ["/api/health"])
    return server


def kill_cycles(tmp: Path, cycles: int, seconds: float, learners: int) -> None:
    db, admin = tmp / "crash.sqlite3", secrets.token_hex(16)
    total, lost = 0, 0
    print(f"kill -9 under load: {cycles} cycles of {seconds:g} s, {learners} learners")
    for cycle in range(cycles):
        server = serve(tmp, db, admin)
        cookies = enroll_more(server, admin, learners, cycle)
        with Load(server.base, cookies) as load:
            time.sleep(seconds)
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
        with sqlite3.connect(db) as check:
            integrity = check.execute("PRAGMA integrity_check").fetchone()[0]
            saved = dict(
                check.execute(
                    "SELECT s.token_hash, v.watched FROM sessions s "
                    "JOIN video_views v ON v.learner_id = s.learner_id"
                ).fetchall()
            )
        # Each learner's acknowledged reports cover [0, end] without a gap: so must the saved.
        missing = sum(
            1
            for cookie, end in load.acknowledged.items()
            if saved.get(token_hash(cookie), 0.0) < end - 1e-6
        )
        total, lost = total + load.answered, lost + missing
        print(
            f"  cycle {cycle + 1}: {load.answered:>6} acknowledged, {missing} learners short of "
            f"what was acknowledged, integrity {integrity}, answers {dict(load.statuses)}"
        )
    print(f"  total: {total} acknowledged writes, {lost} learners short")


def enroll_more(server: Server, admin: str, learners: int, cycle: int) -> list[str]:
    """Learners new to this cycle (emails must be new on a database kept across cycles)."""
    auth = {"Authorization": f"Bearer {admin}"}
    cookies = []
    with httpx.Client(base_url=server.base, timeout=30) as client:
        for n in range(learners):
            body = {"name": f"C{cycle} {n}", "email": f"c{cycle}n{n}@example.org", "teamId": "t"}
            invite = client.post("/api/admin/learners", json=body, headers=auth).json()
            signed = client.post("/api/session", json={"inviteToken": invite["inviteToken"]})
            cookies.append(signed.cookies["sillon_session"])
            client.cookies.clear()
    return cookies


def lock_experiment(tmp: Path, seconds: float, learners: int, hold: float) -> None:
    db, admin = tmp / "lock.sqlite3", secrets.token_hex(16)
    server = serve(tmp, db, admin)
    try:
        cookies = enroll(server, admin, learners)
        with Load(server.base, cookies) as load:
            time.sleep(seconds)
            before = dict(load.statuses)
            load.statuses.clear()
            released = hold_lock(db, hold, server)
            load.first_ok_after = None
            time.sleep(seconds)
        print(f"write lock held by another process for {hold:g} s, {learners} learners")
        print(f"  before: {before}")
        print(f"  while held and after: {dict(load.statuses)} (no 500)")
        if load.first_ok_after is not None:
            print(f"  first write accepted {load.first_ok_after - released:.3f} s after release")
    finally:
        server.stop()


def hold_lock(db: Path, hold: float, server: Server) -> float:
    """Hold the write lock from another process while timing /api/health; when released."""
    code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); c.execute('UPDATE learners SET xp = xp')\n"
        "print('locked', flush=True); time.sleep(float(sys.argv[2])); c.execute('ROLLBACK')\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(hold)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    took, statuses = [], Counter[int]()
    with httpx.Client(base_url=server.base, timeout=10) as client:
        while holder.poll() is None:
            started = time.perf_counter()
            statuses[client.get("/api/health").status_code] += 1
            took.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    released = time.monotonic()
    print(
        f"  /api/health while locked: {len(took)} calls {dict(statuses)}, "
        f"p50 {statistics.median(took):.1f} ms, p99 {percentile(took, 0.99):.1f} ms, "
        f"max {max(took):.1f} ms"
    )
    return released


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--lock", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kill_cycles(Path(tmp), args.cycles, args.seconds, args.learners)
        lock_experiment(Path(tmp), args.seconds, args.learners, args.lock)


if __name__ == "__main__":
    main()
