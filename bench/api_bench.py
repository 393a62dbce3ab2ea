"""Throughput and latency of POST /api/video-event: the real Sillon app against a bare ceiling.

    python bench/api_bench.py [--rounds 5] [--duration 5] [--connections 50]
    python bench/api_bench.py --client httpx [--rounds 5] [--requests 3000] [--connections 50]

Two servers run side by side under uvicorn on 127.0.0.1, each in its own process, with the
same HTTP parser and event loop (uvicorn's "auto": httptools and uvloop, dependencies of the
project, when installed; the report says which):

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
so absolute req/s are a floor, and the CPU each side used is printed next to them, with the
server's CPU time per request and the ratio of the two servers' (what the req/s ratio would be
with each server alone on a core).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import SPAN, WATCH_BUDGET, Events, Httpx, Wrk  # noqa: E402
from bench.api_servers import PATH, Server, enroll, serve_ceiling, start, wait_ready  # noqa: E402

DURATION = 9.0  # the example course's first step: a 9 s video
WARMUP_SECONDS = 2.0  # wrk warm-up round per server (not counted)
WARMUP_REQUESTS = 500  # httpx warm-up round per server (not counted)
THROUGHPUT_TARGET = 0.60  # real >= 60% of the ceiling's req/s
P99_TARGET_MS = 50.0


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
    print(f"uvicorn, both servers: {uvicorn_stack()}")
    table(servers)
    targets(servers)
    caveats(servers)


def uvicorn_stack() -> str:
    """What uvicorn's "auto" picks in this environment, for the ceiling and serve alike."""
    http = "httptools" if find_spec("httptools") else "h11"
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return f"http {http}, loop {loop} (uvicorn's auto: the packages installed)"


def table(servers: list[Server]) -> None:
    """One row per server: medians (min-max) across rounds, totals, CPU shares."""
    row = "{:<8} {:>20} {:>19} {:>19} {:>9} {:>8} {:>10} {:>10} {:>17}"
    print(
        "\n"
        + row.format(
            "server", "req/s med (min-max)", "p50 ms med (min-max)", "p99 ms med (min-max)",
            "requests", "non-2xx", "server CPU", "client CPU", "CPU us/req (m-M)",
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
                spread(cpu_per_request(s), ".0f"),
            )
        )
    print(
        "(CPU: median share of one core during a round; 100% = one core kept busy. CPU us/req: "
        "the server's CPU time per answered request, in microseconds)"
    )


def cpu_per_request(server: Server) -> list[float]:
    """Microseconds of the server process's CPU per request answered, one figure per round."""
    return [r.server_cpu / r.rps * 1e6 for r in server.rounds if r.rps]


def targets(servers: list[Server]) -> None:
    """The real server's throughput against the ceiling's, and its p99 latency."""
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
    cost = statistics.median(cpu_per_request(ceiling)) / statistics.median(cpu_per_request(real))
    met = "MET" if cost >= THROUGHPUT_TARGET else "NOT MET"
    print(
        f"ceiling / real server CPU per request: {cost:.0%} (the ratio req/s would reach with "
        f"the server alone on a core); target >= {THROUGHPUT_TARGET:.0%}: {met}"
    )
    met = "MET" if p99 < P99_TARGET_MS else "NOT MET"
    print(
        f"real p99 latency: {p99:.1f} ms (median of rounds); target < {P99_TARGET_MS:g} ms: {met}"
    )


def caveats(servers: list[Server]) -> None:
    """Say when the figures measure the load generator, or replayed requests."""
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
    """The real server saved the media of every 2xx answer (each event a new SPAN of its
    learner's video, so together they cover between `accepted` and `sent` spans: a request cut
    off at the end of a round may still have been handled), and no video completed. The reports
    are plain (api/watching.py): saved as intervals, with no event record."""
    with sqlite3.connect(db) as connection:
        (done,) = connection.execute("SELECT COUNT(*) FROM completions").fetchone()
        (views, top, total) = connection.execute(
            "SELECT COUNT(*), MAX(watched), COALESCE(SUM(watched), 0) FROM video_views"
        ).fetchone()
    spans = total / SPAN
    print(
        f"database check: {spans:,.0f} spans saved for {accepted} 2xx answers and {sent} "
        f"requests sent (warm-up included); {views} learners watching, most watched "
        f"{top or 0:.2f} s of {DURATION:g} s, {done} completions"
    )
    if not accepted - 0.5 <= spans <= sent + 0.5 or done:
        print("WARNING: the real server did not record the load as expected")


# -- the run ---------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round (wrk)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per round (httpx)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--client", choices=["wrk", "httpx"], default="wrk")
    parser.add_argument("--ceiling-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args()


def build_course(tmp: Path) -> None:
    """Build the example course into `tmp`/site and `tmp`/private."""
    built = subprocess.run(
        [sys.executable, "build.py", "build", "--content", "content"]
        + ["--out", str(tmp / "site"), "--private", str(tmp / "private")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        sys.exit(f"build failed:\n{built.stderr}")


def start_servers(tmp: Path, admin: str, servers: list[Server]) -> None:
    """Start the ceiling and the real server (appended to `servers`) and wait until both answer."""
    env = {
        **os.environ,
        "SILLON_DB": str(tmp / "db.sqlite3"),
        "SILLON_RATE_LIMITS": "off",  # the abuse limits would answer most of this 429
        "SILLON_ADMIN_TOKEN": admin,
        "SILLON_SECRET": secrets.token_hex(32),
    }
    argv = [sys.executable, __file__, "--ceiling-server"]
    servers.append(start("ceiling", argv, dict(os.environ), tmp))
    argv = [sys.executable, "build.py", "serve", "--content", "content"]
    argv += ["--out", str(tmp / "site"), "--port"]
    servers.append(start("real", argv, env, tmp))
    wait_ready(servers[0], ["/api/health"])
    wait_ready(servers[1], ["/api/health", "/"])


def measure(
    load: Wrk | Httpx, servers: list[Server], events: dict[str, Events], args: argparse.Namespace
) -> list[str]:
    """A warm-up round each, then the interleaved rounds; return their order (C and R)."""
    wrk = args.client == "wrk"
    size = args.duration if wrk else float(args.requests)
    warmup = WARMUP_SECONDS if wrk else float(WARMUP_REQUESTS)
    for server in servers:  # warm-up: connections, caches, the course manifest
        warm = load.run(server, events[server.name], warmup)
        server.count(warm)
        if warm.non_2xx:
            print(f"  warm-up {server.name}: {warm.non_2xx} non-2xx answers")
    order: list[str] = []
    for n in range(args.rounds):
        for server in servers if n % 2 == 0 else servers[::-1]:
            measured = load.run(server, events[server.name], size)
            server.rounds.append(measured)
            server.count(measured)
            order.append(server.name[0].upper())
            print(
                f"  round {n + 1} {server.name:<8} {measured.rps:7.0f} req/s  "
                f"p50 {measured.p50:6.1f} ms  p99 {measured.p99:6.1f} ms  "
                f"non-2xx {measured.non_2xx}"
            )
    return order


def run(args: argparse.Namespace, tmp: Path, load: Wrk | Httpx, servers: list[Server]) -> None:
    """Build, start both servers, sign the learners in, measure, report."""
    build_course(tmp)
    admin = secrets.token_hex(16)
    start_servers(tmp, admin, servers)
    cookies = enroll(servers[1], admin, args.learners)
    events = {"ceiling": Events(cookies, False), "real": Events(cookies, True)}
    print(
        f"{args.learners} learners signed in; each event adds {SPAN:g} s of video "
        f"(at most {WATCH_BUDGET / SPAN:.0f} events a learner before {WATCH_BUDGET:g} s)"
    )
    order = measure(load, servers, events, args)
    report(servers, args, order)


def main() -> int:
    args = arguments()
    if args.ceiling_server:
        serve_ceiling(args.ceiling_server)
        return 0
    if args.client == "wrk" and not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk (or use --client httpx)")
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="sillon-api-bench-") as scratch:
        tmp = Path(scratch)
        load = Wrk(args.connections, tmp) if args.client == "wrk" else Httpx(args.connections)
        try:
            run(args, tmp, load, servers)
        finally:
            if isinstance(load, Httpx):
                load.close()
            for server in servers:
                server.stop()
        check_database(tmp / "db.sqlite3", servers[1].accepted, servers[1].sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
