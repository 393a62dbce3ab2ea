"""The one launcher of a real server: `python build.py serve` (uvicorn) on a free port of
127.0.0.1, with its own SQLite file, restartable and killable. Browser, fuzzing, crash,
concurrency and serve tests all start it here; wrangler and the Worker runtime use its
polling and stopping helpers for their own node processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from support.course import ROOT

# The launched server's secrets (its environment; the in-process app's are support.clock's).
ADMIN = "browser-admin-token"
SECRET = "browser-secret-0123456789"
TALLY_SECRET = "browser-tally-secret"


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(
    ready: Callable[[], bool], timeout: float, alive: Callable[[], bool] = lambda: True
) -> float:
    """Seconds until `ready()` (a refused connection counts as not yet), or -1.0 when the
    timeout passes or `alive()` turns false first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout and alive():
        try:
            if ready():
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return -1.0


def stop(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate a process, and kill it if it has not stopped within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def enroll(url: str, name: str, team: str = "blue") -> dict[str, Any]:
    """A new learner through the admin API of the server at `url`: its invite."""
    body = {
        "name": name,
        "email": f"{name.lower()}-{time.monotonic_ns()}@example.org",
        "teamId": team,
    }
    response = httpx.post(
        url + "/api/admin/learners", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class Site:
    """`python build.py serve` of `content` on a free port, run from `workdir`, building into
    workdir/site, with its own database (workdir/db.sqlite3, so a new Site on the same workdir
    reopens it) and its log in workdir/serve.log. Started (and by default waited for: the API
    answers) on creation."""

    def __init__(self, workdir: Path, content: Path, wait: bool = True) -> None:
        self.workdir, self.content = workdir, content
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "db.sqlite3"
        self.log_path = workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.environment: dict[str, str] = getattr(self, "environment", {})  # a subclass's extra
        self.start(wait)

    def command(self) -> list[str]:
        """The author's command line; the content relative to workdir when inside it (as the
        build's messages then name it)."""
        inside = self.content.is_relative_to(self.workdir)
        content = self.content.relative_to(self.workdir) if inside else self.content
        out = ["--out", str(self.workdir / "site"), "--port", str(self.port)]
        return [sys.executable, str(ROOT / "build.py"), "serve", "--content", str(content), *out]

    def start(self, wait: bool = True) -> None:
        env = {
            **os.environ,
            "SILLON_DB": str(self.db),
            "SILLON_ADMIN_TOKEN": ADMIN,
            "SILLON_SECRET": SECRET,
            "TALLY_SIGNING_SECRET": TALLY_SECRET,
            "PYTHONUNBUFFERED": "1",
            **self.environment,
        }
        self.log = self.log_path.open("a")
        self.process = subprocess.Popen(
            self.command(), cwd=self.workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        if wait and self.wait_for(lambda: self.get("/api/learner").status_code == 401, 60) < 0:
            self.stop()
            raise AssertionError(f"serve did not start:\n{self.log_text()}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, ready: Callable[[], bool], timeout: float) -> float:
        """Seconds until `ready()` holds while serve runs, or -1.0."""
        return poll(ready, timeout, self.running)

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until `ready()` holds; fail with the log after `timeout`."""
        took = self.wait_for(ready, timeout)
        assert took >= 0, f"timed out after {timeout} s waiting for {what}\n{self.log_text()}"
        return took

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process:
            stop(self.process)
            self.process = None
        self.log.close()

    def kill(self) -> None:
        """kill -9: no shutdown, no checkpoint."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
        self.log.close()

    def enroll(self, name: str, team: str = "blue") -> dict[str, Any]:
        return enroll(self.url, name, team)

    def learner(self, team: str = "t") -> httpx.Client:
        """A new learner, signed in: a client carrying their session cookie."""
        created = self.enroll("Ada", team=team)
        client = httpx.Client(base_url=self.url, timeout=10)
        signed = client.post("/api/session", json={"inviteToken": created["inviteToken"]})
        assert signed.status_code == 200, signed.text
        return client

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.workdir / "site-private" / "manifest.json").read_text()
        )
        return data

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as db:
            return db.execute(query, params).fetchall()
