"""The servers bench/api_bench.py measures: processes under uvicorn, and what a round measured.

- the ceiling: a bare Starlette app (`serve_ceiling`), whose one endpoint reads and json-parses
  the body and answers 204;
- the real one: `python build.py serve` on the example course, its learners enrolled through
  the admin API (`enroll`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/video-event"


def serve_ceiling(port: int) -> None:
    """Run the bare Starlette app under uvicorn (the same uvicorn settings as `serve`)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def video_event(request: Request) -> Response:
        json.loads(await request.body())
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route(PATH, video_event, methods=["POST"]),
            Route("/api/health", health, methods=["GET"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@dataclass
class Round:
    """One measured round of one server."""

    rps: float
    p50: float  # ms
    p99: float  # ms
    requests: int
    non_2xx: int  # and transport errors
    client_cpu: float  # share of one core
    server_cpu: float  # share of one core
    sent: int = 0  # requests written, answered or not when the round ended
    replayed: int = 0  # requests sent again because the pre-built pool ran out (wrk)


@dataclass
class Server:
    """A server process under test and its learners' session cookies."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    cookies: list[str] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    accepted: int = 0  # 2xx answers, warm-up included
    sent: int = 0  # requests written, warm-up included

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def count(self, measured: Round) -> None:
        """Add a round's answers and requests to the server's totals."""
        self.accepted += measured.requests - measured.non_2xx
        self.sent += measured.sent

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(name: str, argv: list[str], env: dict[str, str], tmp: Path) -> Server:
    """Start `argv` followed by a free port number; its output goes to a log in `tmp`."""
    port = free_port()
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*argv, str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(name, process, port, log)


def wait_ready(server: Server, paths: list[str], timeout: float = 120.0) -> None:
    """Wait until every path answers 200."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base, timeout=5.0) as client:
        for path in paths:
            while True:
                if server.process.poll() is not None:
                    sys.exit(f"{server.name} server exited:\n{server.log.read_text()[-3000:]}")
                try:
                    if client.get(path).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit(f"{server.name} server not ready:\n{server.log.read_text()[-3000:]}")
                time.sleep(0.2)


def enroll(server: Server, admin: str, learners: int) -> list[str]:
    """Enroll learners through the admin API and sign each in; return their session cookies."""
    auth = {"Authorization": f"Bearer {admin}"}
    cookies: list[str] = []
    with httpx.Client(base_url=server.base, timeout=30.0) as client:
        for n in range(learners):
            body = {"name": f"Bench {n}", "email": f"bench{n}@example.org", "teamId": f"t{n % 10}"}
            created = client.post("/api/admin/learners", json=body, headers=auth)
            if created.status_code != 201:
                sys.exit(f"enroll failed: {created.status_code} {created.text}")
            invite = created.json()["inviteToken"]
            signed = client.post("/api/session", json={"inviteToken": invite})
            if signed.status_code != 200:
                sys.exit(f"sign-in failed: {signed.status_code} {signed.text}")
            cookies.append(signed.cookies["sillon_session"])
            client.cookies.clear()
    return cookies
