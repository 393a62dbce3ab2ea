"""Throughput and latency of POST /api/video-event: the real Sillon app against a bare ceiling.

    python bench/api_bench.py [--rounds 5] [--duration 5] [--connections 50]
    python bench/api_bench.py --client httpx [--rounds 5] [--requests 3000] [--connections 50]

Two servers run side by side under uvicorn on 127.0.0.1, each in its own process:

- "ceiling": a bare Starlette app defined here, whose one endpoint reads and json-parses the
  body and answers 204 (what any handler costs before it does any work);
- "real": `python build.py serve` on the example course (content/), with a fresh SQLite file.

Learners are enrolled and signed in first. Every request is then a valid, new video event for
the first step (`som01-bienvenue`, 9 s): a fresh eventId (uuid4) and one small interval that
extends what that learner watched ([[0, s]], [[s, 2s]], ...), spread round-robin over the
learners, so no video completes and the plausibility cap (watched <= 2 x elapsed + 10 s) is
never reached. Each real request so does the real work: session lookup, idempotency check,
interval merge, plausibility, the write batch. The ceiling gets bodies of the same shape with
the same cookie header. The database is checked afterwards: one event row per 2xx answer.

The load comes from a separate process, every body built before the clock starts:

- `wrk` (default; `apt-get install wrk`): C, one thread, --connections keep-alive connections,
  a Lua script that sends the pre-built requests in order; rounds of --duration seconds;
- `httpx` (--client httpx): httpx.AsyncClient(limits=Limits(max_connections=N)) in its own
  process; rounds of --requests requests. On a 2-core machine it saturates a core itself at a
  few hundred req/s (httpcore's pool is O(connections) per request), so it measures httpx
  rather than the server: use it only where wrk is not available.

Rounds are interleaved, the order alternating (ceiling, real, real, ceiling, ...) so drift in
the machine's state hits both alike, after one warm-up round each. Figures are medians across
rounds with their min-max. The machine has 2 cores: the generator competes with the server,
so absolute req/s are a floor, and the CPU each side used is printed next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/video-event"
STEP = "som01-bienvenue"  # the example course's first step: a 9 s video
DURATION = 9.0
COMPLETION = 0.95  # content/course.yaml: the video completes at 8.55 s watched
WATCH_BUDGET = 8.0  # seconds of media a learner may reach during the whole run (< 8.55)
SPAN = 0.01  # seconds of media per event: 800 events per learner fit in the budget
WARMUP_SECONDS = 2.0  # wrk warm-up round per server (not counted)
WARMUP_REQUESTS = 500  # httpx warm-up round per server (not counted)
THROUGHPUT_TARGET = 0.60  # real >= 60% of the ceiling's req/s
P99_TARGET_MS = 50.0

WRK_SCRIPT = """
-- Send pre-built requests in order (one line per request: cookie TAB body).
local threads, reqs = {}, {}
sent = 0  -- global, so that done() can read it from each thread
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do
    local cookie, body = line:match("^([^\\t]*)\\t(.*)$")
    reqs[#reqs + 1] = wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["Cookie"] = "sillon_session=" .. cookie,
    }, body)
  end
end
function request()
  sent = sent + 1
  return reqs[(sent - 1) % #reqs + 1]
end
function done(summary, latency, requests)
  local e, total = summary.errors, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("sent")
  end
  io.write(string.format(
    '{"requests": %d, "us": %d, "status": %d, "socket": %d, "p50": %d, "p99": %d, "sent": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), total))
end
"""


# -- the ceiling server ----------------------------------------------------------------------


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


# -- servers ---------------------------------------------------------------------------------


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


def start(name: str, argv: list[str], port: int, env: dict[str, str], tmp: Path) -> Server:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
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


# -- the bodies ------------------------------------------------------------------------------


class Events:
    """Valid, new video events: round-robin over learners, each one's interval moving on."""

    def __init__(self, cookies: list[str], capped: bool) -> None:
        self.cookies = cookies
        self.capped = capped  # the real server: stop before any video could complete
        self.sent = [0] * len(cookies)  # events used per learner
        self.next = 0

    def batch(self, count: int) -> tuple[list[bytes], list[str]]:
        """`count` bodies and the cookie each goes with (nothing is used until `use`)."""
        bodies: list[bytes] = []
        jar: list[str] = []
        sent = list(self.sent)
        for n in range(count):
            learner = (self.next + n) % len(self.cookies)
            k = sent[learner]
            sent[learner] += 1
            start, end = round(k * SPAN, 4), round((k + 1) * SPAN, 4)
            body = {"eventId": str(uuid.uuid4()), "stepId": STEP, "intervals": [[start, end]]}
            bodies.append(json.dumps(body).encode())
            jar.append(self.cookies[learner])
        return bodies, jar

    def use(self, count: int) -> None:
        """Mark the first `count` bodies of the last batch as sent."""
        for n in range(count):
            self.sent[(self.next + n) % len(self.cookies)] += 1
        self.next += count
        if self.capped and max(self.sent) * SPAN > WATCH_BUDGET:
            sys.exit(
                f"more than {WATCH_BUDGET / SPAN:.0f} events per learner: "
                "the video would complete; raise --learners"
            )


# -- load generator: wrk ---------------------------------------------------------------------


class Wrk:
    """Rounds of a fixed duration, sent by wrk from pre-built requests."""

    def __init__(self, connections: int, tmp: Path) -> None:
        self.connections, self.tmp = connections, tmp
        self.script = tmp / "events.lua"
        self.script.write_text(WRK_SCRIPT)
        self.rate: dict[str, float] = {}  # req/s seen so far, to size each round's pool

    def run(self, server: Server, events: Events, seconds: float) -> Round:
        # Enough requests that the pool never runs out: twice the best rate seen, or 20k/s.
        pool = int(max(self.rate.get(server.name, 10_000.0) * 2, 5_000) * seconds) + 1000
        bodies, cookies = events.batch(pool)
        requests = self.tmp / f"{server.name}.tsv"
        with requests.open("wb") as out:
            for body, cookie in zip(bodies, cookies, strict=True):
                out.write(cookie.encode() + b"\t" + body + b"\n")
        argv = ["wrk", "-t1", f"-c{self.connections}", f"-d{seconds:g}s", "--timeout", "10s"]
        argv += ["-s", str(self.script), server.base + PATH, "--", str(requests)]
        server_cpu = server.cpu()
        client_cpu = _children_cpu()
        done = subprocess.run(argv, capture_output=True, text=True)
        client_cpu = _children_cpu() - client_cpu
        server_cpu = server.cpu() - server_cpu
        if done.returncode != 0 or not done.stdout.strip():
            sys.exit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        events.use(min(result["sent"], pool))
        wall = result["us"] / 1e6
        bad = result["status"] + result["socket"]
        self.rate[server.name] = max(self.rate.get(server.name, 0.0), result["requests"] / wall)
        return Round(
            rps=result["requests"] / wall,
            p50=result["p50"] / 1000,
            p99=result["p99"] / 1000,
            requests=result["requests"],
            non_2xx=bad,
            client_cpu=client_cpu / wall,
            server_cpu=server_cpu / wall,
            sent=result["sent"],
            replayed=max(0, result["sent"] - pool),
        )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- load generator: httpx in its own process ------------------------------------------------


@dataclass
class Job:
    """One httpx round: where to send, what to send, with how many connections."""

    url: str
    bodies: list[bytes]
    cookies: list[str]
    connections: int


@dataclass
class Outcome:
    """What one httpx round measured, on the generator's side."""

    latencies: list[float]  # seconds, one per request
    ok: int  # 2xx answers
    wall: float
    cpu: float  # the generator process's CPU seconds during the round


async def fire(job: Job) -> Outcome:
    """Send every body once, `connections` requests in flight at a time."""
    total = len(job.bodies)
    headers = [
        {"content-type": "application/json", "cookie": f"sillon_session={cookie}"}
        for cookie in job.cookies
    ]
    latencies = [0.0] * total
    ok = 0
    limits = httpx.Limits(
        max_connections=job.connections, max_keepalive_connections=job.connections
    )
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        position = 0

        async def worker() -> None:
            nonlocal position, ok
            while position < total:
                i = position
                position += 1
                started = time.perf_counter()
                try:
                    response = await client.post(job.url, content=job.bodies[i], headers=headers[i])
                    ok += 200 <= response.status_code < 300
                except httpx.HTTPError:
                    pass
                latencies[i] = time.perf_counter() - started

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(job.connections)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return Outcome(latencies, ok, wall, cpu)


def httpx_process(pipe: multiprocessing.connection.Connection) -> None:
    """Run the jobs received on the pipe until it sends None."""
    while True:
        job = pipe.recv()
        if job is None:
            return
        pipe.send(asyncio.run(fire(job)))


class Httpx:
    """Rounds of a fixed number of requests, sent by httpx from another process."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=httpx_process, args=(child,), daemon=True)
        self.process.start()

    def run(self, server: Server, events: Events, size: float) -> Round:
        count = int(size)
        bodies, cookies = events.batch(count)
        server_cpu = server.cpu()
        self.pipe.send(Job(server.base + PATH, bodies, cookies, self.connections))
        outcome: Outcome = self.pipe.recv()
        events.use(count)
        server_cpu = server.cpu() - server_cpu
        ms = sorted(s * 1000 for s in outcome.latencies)
        return Round(
            rps=count / outcome.wall,
            p50=ms[max(0, math.ceil(0.50 * count) - 1)],
            p99=ms[max(0, math.ceil(0.99 * count) - 1)],
            requests=count,
            non_2xx=count - outcome.ok,
            client_cpu=outcome.cpu / outcome.wall,
            server_cpu=server_cpu / outcome.wall,
            sent=count,
        )

    def close(self) -> None:
        self.pipe.send(None)
        self.process.join(timeout=10)


# -- report ----------------------------------------------------------------------------------


def spread(values: list[float], fmt: str) -> str:
    return (
        f"{format(statistics.median(values), fmt)} "
        f"({format(min(values), fmt)}-{format(max(values), fmt)})"
    )


def report(servers: list[Server], args: argparse.Namespace, order: list[str]) -> None:
    size = f"{args.duration:g} s" if args.client == "wrk" else f"{args.requests} requests"
    print(
        f"\nPOST {PATH}: {args.rounds} rounds of {size} per server, {args.connections} "
        f"connections, {args.client}, order {' '.join(order)}"
    )
    print(
        f"machine: {os.cpu_count()} cores, shared by the load generator and the server under "
        "test (req/s are a floor)"
    )
    row = "{:<8} {:>20} {:>19} {:>19} {:>9} {:>8} {:>10} {:>10}"
    print(
        "\n"
        + row.format(
            "server", "req/s med (min-max)", "p50 ms med (min-max)", "p99 ms med (min-max)",
            "requests", "non-2xx", "server CPU", "client CPU",
        )
    )  # fmt: skip
    for s in servers:
        print(
            row.format(
                s.name,
                spread([r.rps for r in s.rounds], ".0f"),
                spread([r.p50 for r in s.rounds], ".1f"),
                spread([r.p99 for r in s.rounds], ".1f"),
                sum(r.requests for r in s.rounds),
                sum(r.non_2xx for r in s.rounds),
                f"{statistics.median([r.server_cpu for r in s.rounds]):.0%}",
                f"{statistics.median([r.client_cpu for r in s.rounds]):.0%}",
            )
        )
    print("(CPU: median share of one core during a round; 100% = one core kept busy)")
    ceiling, real = servers
    ratios = [r.rps / c.rps for c, r in zip(ceiling.rounds, real.rounds, strict=True)]
    ratio = statistics.median([r.rps for r in real.rounds]) / statistics.median(
        [c.rps for c in ceiling.rounds]
    )
    p99 = statistics.median([r.p99 for r in real.rounds])
    met = "MET" if ratio >= THROUGHPUT_TARGET else "NOT MET"
    print(
        f"\nreal / ceiling req/s: {ratio:.0%} (rounds {min(ratios):.0%}-{max(ratios):.0%}); "
        f"target >= {THROUGHPUT_TARGET:.0%} of the ceiling: {met}"
    )
    met = "MET" if p99 < P99_TARGET_MS else "NOT MET"
    print(
        f"real p99 latency: {p99:.1f} ms (median of rounds); target < {P99_TARGET_MS:g} ms: {met}"
    )
    busy = [s.name for s in servers if statistics.median([r.client_cpu for r in s.rounds]) > 0.9]
    if busy:
        print(
            f"WARNING: the load generator kept a core busy against {', '.join(busy)}: those "
            "figures measure the client, not the server (use wrk)"
        )
    replayed = sum(r.replayed for s in servers for r in s.rounds)
    if replayed:
        print(f"WARNING: {replayed} requests were replays (the pre-built pool ran out)")


def check_database(db: Path, accepted: int, sent: int) -> None:
    """The real server recorded an event per 2xx answer (and per request cut off at the end of a
    round, which it may still have handled), and no video completed."""
    with sqlite3.connect(db) as connection:
        (events,) = connection.execute("SELECT COUNT(*) FROM events").fetchone()
        (done,) = connection.execute("SELECT COUNT(*) FROM completions").fetchone()
        (views, top) = connection.execute(
            "SELECT COUNT(*), MAX(watched) FROM video_views"
        ).fetchone()
    print(
        f"database check: {events} events recorded for {accepted} 2xx answers and {sent} "
        f"requests sent (warm-up included); {views} learners watching, most watched "
        f"{top or 0:.2f} s of {DURATION:g} s, {done} completions"
    )
    if not accepted <= events <= sent or done:
        print("WARNING: the real server did not record the load as expected")


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round (wrk)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per round (httpx)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--client", choices=["wrk", "httpx"], default="wrk")
    parser.add_argument("--ceiling-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ceiling_server:
        serve_ceiling(args.ceiling_server)
        return 0
    if args.client == "wrk" and not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk (or use --client httpx)")

    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="sillon-api-bench-") as scratch:
        tmp = Path(scratch)
        load: Wrk | Httpx = (
            Wrk(args.connections, tmp) if args.client == "wrk" else Httpx(args.connections)
        )
        size, warmup = (
            (args.duration, WARMUP_SECONDS)
            if args.client == "wrk"
            else (float(args.requests), float(WARMUP_REQUESTS))
        )
        try:
            built = subprocess.run(
                [sys.executable, "build.py", "build", "--content", "content"]
                + ["--out", str(tmp / "site"), "--private", str(tmp / "private")],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if built.returncode != 0:
                sys.exit(f"build failed:\n{built.stderr}")
            admin = secrets.token_hex(16)
            env = {
                **os.environ,
                "SILLON_DB": str(tmp / "db.sqlite3"),
                "SILLON_RATE_LIMITS": "off",  # the abuse limits would answer most of this 429
                "SILLON_ADMIN_TOKEN": admin,
                "SILLON_SECRET": secrets.token_hex(32),
            }
            port = free_port()
            argv = [sys.executable, __file__, "--ceiling-server", str(port)]
            servers.append(start("ceiling", argv, port, dict(os.environ), tmp))
            port = free_port()
            argv = [sys.executable, "build.py", "serve", "--content", "content"]
            argv += ["--out", str(tmp / "site"), "--port", str(port)]
            servers.append(start("real", argv, port, env, tmp))
            ceiling, real = servers
            wait_ready(ceiling, ["/api/health"])
            wait_ready(real, ["/api/health", "/"])
            cookies = enroll(real, admin, args.learners)
            events = {"ceiling": Events(cookies, False), "real": Events(cookies, True)}
            print(
                f"{args.learners} learners signed in; each event adds {SPAN:g} s of video "
                f"(at most {WATCH_BUDGET / SPAN:.0f} events a learner before {WATCH_BUDGET:g} s)"
            )

            for server in servers:  # warm-up: connections, caches, the course manifest
                warm = load.run(server, events[server.name], warmup)
                server.accepted += warm.requests - warm.non_2xx
                server.sent += warm.sent
                if warm.non_2xx:
                    print(f"  warm-up {server.name}: {warm.non_2xx} non-2xx answers")
            order: list[str] = []
            for n in range(args.rounds):
                for server in servers if n % 2 == 0 else servers[::-1]:
                    measured = load.run(server, events[server.name], size)
                    server.rounds.append(measured)
                    server.accepted += measured.requests - measured.non_2xx
                    server.sent += measured.sent
                    order.append(server.name[0].upper())
                    print(
                        f"  round {n + 1} {server.name:<8} {measured.rps:7.0f} req/s  "
                        f"p50 {measured.p50:6.1f} ms  p99 {measured.p99:6.1f} ms  "
                        f"non-2xx {measured.non_2xx}"
                    )
            report(servers, args, order)
        finally:
            if isinstance(load, Httpx):
                load.close()
            for server in servers:
                server.stop()
        check_database(tmp / "db.sqlite3", servers[1].accepted, servers[1].sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
