"""The load bench/api_bench.py sends: valid video events, sent by wrk or by httpx.

Every body is built before a round's clock starts. `Wrk` writes them to a file that a Lua
script sends in order over keep-alive connections, for a fixed duration; `Httpx` sends a fixed
number of them from another process (httpx.AsyncClient saturates a core itself at a few hundred
req/s: use it only where wrk is not available).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.connection
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.api_servers import PATH, Round, Server
from bench.common import percentile

STEP = "som01-bienvenue"  # the example course's first step: a 9 s video
COMPLETION = 0.95  # content/course.yaml: the video completes at 8.55 s watched
WATCH_BUDGET = 8.0  # seconds of media a learner may reach during the whole run (< 8.55)
SPAN = 0.01  # seconds of media per event: 800 events per learner fit in the budget

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
        ms = [s * 1000 for s in outcome.latencies]
        return Round(
            rps=count / outcome.wall,
            p50=percentile(ms, 0.50),
            p99=percentile(ms, 0.99),
            requests=count,
            non_2xx=count - outcome.ok,
            client_cpu=outcome.cpu / outcome.wall,
            server_cpu=server_cpu / outcome.wall,
            sent=count,
        )

    def close(self) -> None:
        self.pipe.send(None)
        self.process.join(timeout=10)
