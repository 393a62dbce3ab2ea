"""The Python Worker's own costs, measured in the real-runtime harness (tests/support/worker.py):
the bundle's size against Cloudflare's limits, start-up time, and per request the Worker's time
(wall time of the call minus its waits on D1), the harness process's CPU, D1 calls, statements
and the rows D1 reports read and written; beside it, the same requests to `python build.py
serve` on SQLite (client-side latency, the same loopback HTTP on both).

    python bench/worker_bench.py [--reports 200] [--profile]

`--profile` also prints cProfile's top entries for the mid-video reports, inside Pyodide.
Needs `bash tests/setup.sh` (node, npm pyodide, miniflare, wrangler).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402
from support.course import EXAMPLE  # noqa: E402
from support.launch import Site  # noqa: E402
from support.worker import WorkerSite  # noqa: E402

FREE_LIMIT_KIB, PAID_LIMIT_KIB = 3 * 1024, 10 * 1024  # a Worker's size after gzip


def learner(url: str) -> tuple[httpx.Client, str]:
    """A signed-in learner and their open (video) step."""
    from support.launch import enroll

    created = enroll(url, "Bench")
    client = httpx.Client(base_url=url, timeout=60)
    client.post("/api/session", json={"inviteToken": created["inviteToken"]})
    step = client.get("/api/learner").json()["currentStep"]["id"]
    return client, step


def reports(client: httpx.Client, step: str, count: int, tag: str) -> list[float]:
    """Mid-video heartbeats (0.05 s of media each: never completing), client latency in ms."""
    latencies = []
    for n in range(count):
        body = {
            "eventId": f"{tag}-{n:06d}",
            "stepId": step,
            "intervals": [[n * 0.05, n * 0.05 + 0.05]],
        }
        began = time.perf_counter()
        answer = client.post("/api/video-event", json=body)
        latencies.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200 and not answer.json()["complete"], answer.text
    return latencies


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"{statistics.median(ordered):7.2f} ms (p90 {p90:.2f})"


def on_worker(workdir: Path, count: int, profile: bool) -> dict[str, Any]:
    began = time.monotonic()
    site = WorkerSite(workdir, EXAMPLE)
    started = time.monotonic() - began
    try:
        runtime = site.runtime
        startup = runtime.stats()["startup"]
        client, step = learner(site.url)
        client.get(f"/steps/{step}")
        runtime.stats()
        reports(client, step, 20, "warm")
        runtime.stats()  # warm-up done: forget its figures
        latencies = reports(client, step, count, "mid")
        calls = [t for t in runtime.stats()["timings"] if t["path"] == "/api/video-event"]
        gate = []
        for _ in range(20):
            began_gate = time.perf_counter()
            client.get(f"/steps/{step}")
            gate.append((time.perf_counter() - began_gate) * 1000)
        gated = [t for t in runtime.stats()["timings"] if t["path"].startswith("/steps/")]
        for _ in range(20):
            client.get("/api/nowhere")  # the fixed cost: a request that calls D1 not at all
        bare = runtime.stats()["timings"]
        profiled = ""
        if profile:
            runtime.run_python("runtime.profile", "start")
            reports(client, step, 50, "prof")
            profiled = runtime.run_python("runtime.profile", "stop")
        return {
            "bundle": runtime.bundle_output,
            "startup": startup,
            "started": started,
            "latency": latencies,
            "calls": calls,
            "gate_latency": gate,
            "gated": gated,
            "bare": bare,
            "profile": profiled,
        }
    finally:
        site.stop()


def on_serve(workdir: Path, count: int) -> list[float]:
    import shutil

    content = workdir / "content"
    shutil.copytree(EXAMPLE, content)
    site = Site(workdir, content)
    try:
        client, step = learner(site.url)
        reports(client, step, 20, "warm")
        return reports(client, step, count, "mid")
    finally:
        site.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        worker = on_worker(Path(tmp) / "worker", options.reports, options.profile)
        serve = on_serve(Path(tmp) / "serve", options.reports)
    sizes = re.search(r"Total Upload: ([\d.]+) KiB / gzip: ([\d.]+) KiB", worker["bundle"])
    assert sizes, worker["bundle"]
    raw, gzipped = float(sizes[1]), float(sizes[2])
    print(
        f"bundle: {raw:,.0f} KiB, gzip {gzipped:,.0f} KiB "
        f"({gzipped / FREE_LIMIT_KIB:.0%} of the free plan's 3 MiB, "
        f"{gzipped / PAID_LIMIT_KIB:.0%} of the paid plan's 10 MiB)"
    )
    startup = worker["startup"]
    print(
        f"start-up: Pyodide {startup['pyodide']:,.0f} ms, importing the Worker "
        f"{startup['worker']:,.0f} ms; harness ready (bundle, migrate, start) in "
        f"{worker['started']:.1f} s"
    )
    calls = worker["calls"]
    own = [c["total"] - c["d1"] for c in calls]
    print(f"\nmid-video report ({len(calls)} after 20 warm-up), per request:")
    print(f"  Worker, client latency        {summary(worker['latency'])}")
    print(f"  Worker, call in the runtime   {summary([c['total'] for c in calls])}")
    print(f"  Worker's own time (minus D1)  {summary(own)}")
    print(f"  harness process CPU           {summary([c['cpu'] for c in calls])}")
    print(f"  waiting on D1                 {summary([c['d1'] for c in calls])}")
    print(
        f"  D1 calls / statements         {statistics.median(c['d1Calls'] for c in calls):.0f}"
        f" / {statistics.median(c['statements'] for c in calls):.0f}"
    )
    print(
        f"  rows read / written (D1 meta) {statistics.median(c['rowsRead'] for c in calls):.0f}"
        f" / {statistics.median(c['rowsWritten'] for c in calls):.0f}"
    )
    print(f"  serve on SQLite, latency      {summary(serve)}")
    gated = worker["gated"]
    print(f"\nopen step's fragment through the gate ({len(gated)}):")
    print(f"  Worker, client latency        {summary(worker['gate_latency'])}")
    print(f"  Worker's own time (minus D1)  {summary([c['total'] - c['d1'] for c in gated])}")
    print(f"\nno D1 call (GET /api/nowhere, a 404; {len(worker['bare'])}):")
    print(f"  Worker's own time             {summary([c['total'] for c in worker['bare']])}")
    if worker["profile"]:
        print("\ncProfile inside Pyodide, 50 mid-video reports:\n" + worker["profile"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
