"""The Python Worker's own costs, measured in the real-runtime harness (tests/support/worker.py):
the bundle's size against Cloudflare's limits, start-up time, and for every request type a
learner makes, the Worker's own time (wall time of the call minus its waits on D1), D1 calls,
statements and the rows D1 reports read and written; beside the steady heartbeat, the same
heartbeats to `python build.py serve` on SQLite (client-side latency, the same loopback HTTP).

    python bench/worker_bench.py [--reports 200] [--profile]

Stages: start the Worker on the example course (content/) with an issuer key, so certificates
are on; warm the isolate up with one learner going through the whole course; then meter a second
learner doing the same, request by request, as the player drives it: sign in, the progress, each
step's page through the gate, each video (the playback, the first play; on the first video
the day's first new media, which counts the learning day, then `--reports` steady heartbeats;
a pause, a seek, the report that completes it, sent once the speed cap allows it), a note on
each text lesson and the lesson done, each built-in quiz (its attempt, a failed and a passed
submission), the Tally quiz (its link, Tally's signed webhook), Next, the progress after each
module, the leaderboard, the certificate (issued, then shown again), and a 404 that calls D1
not at all; and a few more learners' sign-ins. The abuse limits are on, as deployed: a request
they refuse (429) is waited out, sent again, and not metered. The table gives the median of the
Worker's own time and the mean of D1's figures per request type.

`--profile` also prints cProfile's top entries, inside Pyodide, for 50 more heartbeats.
Needs `bash tests/setup.sh` (node, npm pyodide, miniflare, wrangler).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402
from support.certified import answers_shown, issuer_key  # noqa: E402
from support.course import EXAMPLE  # noqa: E402
from support.launch import ADMIN, SECRET, TALLY_SECRET, Site, enroll  # noqa: E402
from support.tally import signed, tally_webhook  # noqa: E402
from support.worker import TESTS, WorkerRuntime  # noqa: E402

from builder.config import BuildConfig  # noqa: E402
from builder.pipeline import build  # noqa: E402

FREE_LIMIT_KIB, PAID_LIMIT_KIB = 3 * 1024, 10 * 1024  # a Worker's size after gzip
HEARTBEAT_SPAN, HEARTBEAT_WINDOW = 0.05, 3.0  # s of media a heartbeat, within the first 3 s
SIGN_INS = 5  # learners of another team who only sign in: more samples of the sign-in
PROFILED = 50
VIDEO_EVENT, HEARTBEAT = "POST /api/video-event", "heartbeat (plain)"
FIRST_MEDIA = "heartbeat, the day's first new media"


# -- metering: each request's one Worker call, under its request type ---------------------------


class Meter:
    """The harness's figures of every request sent through it, by request type, in the order
    the types first came."""

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime
        self.calls: dict[str, list[dict[str, Any]]] = {}
        self.limited = 0  # requests the abuse limits refused, waited out and sent again

    def send(
        self,
        kind: str,
        client: httpx.Client,
        method: str,
        url: str,
        status: int = 200,
        **options: Any,
    ) -> httpx.Response:
        """The request through the Worker, metered as `kind`."""
        while True:
            self.runtime.stats()  # forget the calls that were not ours (enrolment, publishing)
            began = time.perf_counter()
            answer = client.request(method, url, **options)
            latency = (time.perf_counter() - began) * 1000
            if not refused_by_limits(answer):
                break
            self.limited += 1
            time.sleep(float(answer.headers["retry-after"]))
        assert answer.status_code == status, (kind, answer.status_code, answer.text)
        (call,) = self.runtime.stats()["timings"]  # one request, one Worker call
        self.calls.setdefault(kind, []).append({**call, "latency": latency})
        return answer


def refused_by_limits(answer: httpx.Response) -> bool:
    if answer.status_code != 429:
        return False
    code: str = answer.json()["error"]["code"]
    return code == "too_many_requests"  # not a quiz's cooldown, which the bench never meets


class Learner:
    """A signed-in learner's browser: each request metered."""

    def __init__(self, meter: Meter, name: str, team: str = "blue") -> None:
        """Enrolled (not metered), then signed in by the invite."""
        self.meter = meter
        invite = enroll(meter.runtime.url, name, team)["inviteToken"]
        self.client = httpx.Client(base_url=meter.runtime.url, timeout=60)
        self.post("POST /api/session (sign-in)", "/api/session", {"inviteToken": invite})

    def get(self, url: str, kind: str = "", status: int = 200) -> Any:
        """GET, metered as `kind` or, by default, as the path without its query; its JSON."""
        kind = kind or "GET " + url.split("?")[0]
        return self.meter.send(kind, self.client, "GET", url, status).json()

    def post(self, kind: str, path: str, body: dict[str, Any]) -> Any:
        return self.meter.send(kind, self.client, "POST", path, json=body).json()

    def event(self, kind: str, path: str, **body: Any) -> Any:
        """A learning event, with a new eventId."""
        return self.post(kind, path, {"eventId": str(uuid.uuid4()), **body})

    def report(self, kind: str, step_id: str, intervals: list[list[float]], **action: Any) -> Any:
        """A video report: the media intervals watched since the last one, and an action."""
        body = {"stepId": step_id, "intervals": intervals, **action}
        return self.event(f"{VIDEO_EVENT}: {kind}", "/api/video-event", **body)


# -- the Worker ---------------------------------------------------------------------------------


def start(workdir: Path) -> tuple[WorkerRuntime, dict[str, Any]]:
    """The example course built, on the Worker with an issuer key (base64 of the PEM, as
    `wrangler secret put` may be given it) and published as a deploy's last step does; its
    manifest."""
    config = BuildConfig.make(content=EXAMPLE, out=workdir / "site", disk_cache=False)
    build(config)
    secrets = {
        "SILLON_ADMIN_TOKEN": ADMIN,
        "SILLON_SECRET": SECRET,
        "TALLY_SIGNING_SECRET": TALLY_SECRET,
        "SILLON_ISSUER_KEY": base64.b64encode(issuer_key().pem().encode()).decode(),
    }
    runtime = WorkerRuntime(config.out, workdir / "runtime", secrets, python_path=TESTS)
    manifest = (config.private / "manifest.json").read_bytes()
    published = httpx.post(
        runtime.url + "/api/admin/publish",
        content=manifest,
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    if published.status_code != 201:
        runtime.stop()
        raise AssertionError(published.text)
    found: dict[str, Any] = json.loads(manifest)
    return runtime, found


# -- a learner's requests, as the player makes them ---------------------------------------------


def heartbeat(n: int) -> list[list[float]]:
    """The n-th steady heartbeat's interval: new media each time, never the required share."""
    start = (n * HEARTBEAT_SPAN) % HEARTBEAT_WINDOW
    return [[start, start + HEARTBEAT_SPAN]]


def watch(learner: Learner, step_id: str, heartbeats: int) -> None:
    """A video: its playback, the first play, heartbeats, a pause, a seek back, and the report
    that completes it, sent once watching the required share at the speed cap took that long."""
    info = learner.get(f"/api/playback?stepId={step_id}")
    learner.report("first play", step_id, [], action="played", time=0.0)
    played = time.monotonic()
    if heartbeats:  # the day's first new media counts the learning day: decided in full
        answer = learner.report(FIRST_MEDIA, step_id, heartbeat(0))
        assert any(award["cause"].startswith("day:") for award in answer["xp"]), answer
    for n in range(1, heartbeats + 1):
        answer = learner.report(HEARTBEAT, step_id, heartbeat(n))
        assert not answer["complete"], answer
    end = HEARTBEAT_WINDOW + 0.5
    learner.report("paused", step_id, [[HEARTBEAT_WINDOW, end]], action="paused", time=end)
    learner.report("seeked", step_id, [], action="seeked", timeFrom=end, timeTo=1.0)
    allowed = played + info["duration"] * info["completion"] / info["maxRate"]
    time.sleep(max(0.0, allowed - time.monotonic()))
    answer = learner.report("completing", step_id, [[0.0, info["duration"]]])
    assert answer["complete"], answer


def read(learner: Learner, step_id: str) -> None:
    """A text lesson: a note written beside it, then the lesson done."""
    note = {"text": f"Ce que je retiens de *{step_id}*."}
    kind = "PUT /api/notes/<step> (note save)"
    learner.meter.send(kind, learner.client, "PUT", f"/api/notes/{step_id}", json=note)
    learner.event("POST /api/lesson-done", "/api/lesson-done", stepId=step_id)


def quiz(learner: Learner, step: dict[str, Any]) -> None:
    """A built-in quiz failed (every question wrong), then passed."""
    submit(learner, step, passing=False)
    submit(learner, step, passing=True)


def submit(learner: Learner, step: dict[str, Any], passing: bool) -> None:
    """The attempt in progress (a drawing quiz's draw), then its answers, right or wrong."""
    attempt = learner.get(f"/api/quiz-attempt?stepId={step['id']}")
    right = answers_shown(step, lambda: attempt)
    answers = right if passing else wrong(step, attempt, right)
    kind = f"POST /api/quiz-submission: {'passed' if passing else 'failed'}"
    answer = learner.event(kind, "/api/quiz-submission", stepId=step["id"], answers=answers)
    assert answer["passed"] is passing and answer["retryAfter"] == 0, answer


def wrong(step: dict[str, Any], attempt: dict[str, Any], right: list[Any]) -> list[Any]:
    """Every question answered wrong, in the positions shown."""
    if step.get("draw"):
        sizes = [len(q["choices"]) for q in attempt["questions"]]
    else:
        sizes = [q["choices"] for q in step["questions"]]
    return [
        [c for c in range(size) if c not in good] or [0]
        if isinstance(good, list)
        else (good + 1) % size
        for good, size in zip(right, sizes, strict=True)
    ]


def tally(learner: Learner, step_id: str) -> None:
    """The Tally quiz: its link, then Tally's signed webhook with a passing score."""
    link = learner.get(f"/api/tally-link?stepId={step_id}")["formUrl"]
    hook = tally_webhook(link.split("sillon=", 1)[1], 90, uuid.uuid4().hex)
    with httpx.Client(base_url=learner.meter.runtime.url, timeout=60) as tally_servers:
        learner.meter.send(
            "POST /api/tally-hook (Tally's webhook)",
            tally_servers,
            "POST",
            "/api/tally-hook",
            content=hook,
            headers=signed(hook, TALLY_SECRET),
        )


def journey(meter: Meter, manifest: dict[str, Any], name: str, heartbeats: int) -> None:
    """One learner through the whole course: every step opened, done, left by Next; the
    progress at the start and after each module; the leaderboard and the certificate at the
    end; a request that calls D1 not at all."""
    learner = Learner(meter, name)
    learner.get("/api/learner", "GET /api/learner, first (places the learner)")
    steps = manifest["steps"]
    for number, step in enumerate(steps):
        gate = "GET /steps/<open step> (its page, through the gate)"
        meter.send(gate, learner.client, "GET", f"/steps/{step['id']}")
        if step.get("video"):
            watch(learner, step["id"], heartbeats if number == 0 else 0)
        elif step.get("tally"):
            tally(learner, step["id"])
        elif step["kind"] == "quiz":
            quiz(learner, step)
        else:
            read(learner, step["id"])
        learner.event("POST /api/next", "/api/next", stepId=step["id"])
        if number + 1 == len(steps) or steps[number + 1]["module"] != step["module"]:
            learner.get("/api/learner")
    for period in ("7d", "all", "7d", "all", "7d", "all"):
        url = f"/api/leaderboard?period={period}"
        learner.get(url, "GET " + url)
    learner.get("/api/certificate", "GET /api/certificate, first (issued, signed)")
    for _ in range(3):
        learner.get("/api/certificate", "GET /api/certificate, again")
    for _ in range(20):
        learner.get("/api/nowhere", "GET /api/nowhere (a 404: no D1 call)", status=404)


def profiled(runtime: WorkerRuntime, manifest: dict[str, Any]) -> str:
    """cProfile inside Pyodide over heartbeats of a learner mid-video (not metered)."""
    learner, step_id = Learner(Meter(runtime), "Profiled"), manifest["steps"][0]["id"]
    learner.get("/api/learner")
    learner.report("first play", step_id, [], action="played", time=0.0)
    learner.report(FIRST_MEDIA, step_id, heartbeat(0))
    runtime.run_python("runtime.profile", "start")
    for n in range(1, PROFILED + 1):
        learner.report(HEARTBEAT, step_id, heartbeat(n))
    found: str = runtime.run_python("runtime.profile", "stop")
    return found


def on_worker(workdir: Path, reports: int, profile: bool) -> dict[str, Any]:
    began = time.monotonic()
    runtime, manifest = start(workdir)
    started = time.monotonic() - began
    try:
        startup = runtime.stats()["startup"]
        journey(Meter(runtime), manifest, "Warm-up", 20)  # the isolate's first calls: not kept
        meter = Meter(runtime)
        journey(meter, manifest, "Bench", reports)
        for n in range(SIGN_INS):
            Learner(meter, f"Other{n}", team="red")
        measured = {
            "bundle": runtime.bundle_output,
            "startup": startup,
            "started": started,
            "calls": meter.calls,
            "limited": meter.limited,
            "profile": profiled(runtime, manifest) if profile else "",
        }
    finally:
        runtime.stop()
    assert "Traceback" not in runtime.errors(), runtime.errors()  # every answer a deliberate one
    return measured


# -- the same heartbeats on serve ---------------------------------------------------------------


def on_serve(workdir: Path, count: int) -> list[float]:
    """Client latency of `count` heartbeats under `build.py serve` on SQLite, after 20."""
    content = workdir / "content"
    shutil.copytree(EXAMPLE, content)
    site = Site(workdir, content)
    try:
        invite = enroll(site.url, "Bench")["inviteToken"]
        client = httpx.Client(base_url=site.url, timeout=60)
        client.post("/api/session", json={"inviteToken": invite})
        step = client.get("/api/learner").json()["currentStep"]["id"]
        latencies = []
        for n in range(20 + count):
            body = {"eventId": str(uuid.uuid4()), "stepId": step, "intervals": heartbeat(n)}
            began = time.perf_counter()
            answer = client.post("/api/video-event", json=body)
            latencies.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200 and not answer.json()["complete"], answer.text
        return latencies[20:]
    finally:
        site.stop()


# -- the report ---------------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return f"{statistics.median(ordered):7.2f} ms (p90 {p90:.2f})"


def mean(calls: list[dict[str, Any]], figure: str) -> str:
    return f"{statistics.fmean(c[figure] for c in calls):.2f}".rstrip("0").rstrip(".")


def own(call: dict[str, Any]) -> float:
    """The Worker's own time: the call's wall time less its waits on D1."""
    return float(call["total"] - call["d1"])


def table(calls: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per request type: the Worker's own time (median), D1's figures (mean)."""
    lines = [
        "| request | n | Worker's own time, median ms | D1 calls | statements | rows read "
        "| rows written |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, measured in calls.items():
        figures = [mean(measured, f) for f in ("d1Calls", "statements", "rowsRead", "rowsWritten")]
        median = statistics.median(own(c) for c in measured)
        lines.append(f"| {kind} | {len(measured)} | {median:.1f} | " + " | ".join(figures) + " |")
    return lines


def report(worker: dict[str, Any], serve: list[float]) -> None:
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
        f"{startup['worker']:,.0f} ms; harness ready (build, bundle, migrate, start) in "
        f"{worker['started']:.1f} s"
    )
    print("\nper request type, one learner through the example course after a warm-up learner:\n")
    print("\n".join(table(worker["calls"])))
    print(
        "\n(a fraction of a D1 call: the isolate re-reads the current course version, one call,"
        " when its copy is over a second old (api/versions.py RECHECK); here requests follow"
        " each other closely, so few pay it)"
    )
    beats = worker["calls"][f"{VIDEO_EVENT}: {HEARTBEAT}"]
    single = sum(c["d1Calls"] == 1 and c["statements"] == 1 for c in beats)
    print(f"\nsteady heartbeat ({len(beats)}):")
    print(f"  in one D1 call of one statement  {single} of {len(beats)}")
    print(f"  Worker's own time (minus D1)     {summary([own(c) for c in beats])}")
    print(f"  Worker, call in the runtime      {summary([c['total'] for c in beats])}")
    print(f"  Worker, client latency           {summary([c['latency'] for c in beats])}")
    print(f"  harness process CPU              {summary([c['cpu'] for c in beats])}")
    print(f"  serve on SQLite, client latency  {summary(serve)}")
    if worker["limited"]:
        print(f"\n{worker['limited']} requests refused by the abuse limits, waited out, sent again")
    if worker["profile"]:
        print(f"\ncProfile inside Pyodide, {PROFILED} heartbeats:\n" + worker["profile"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200, help="steady heartbeats measured")
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        worker = on_worker(Path(tmp) / "worker", options.reports, options.profile)
        serve = on_serve(Path(tmp) / "serve", options.reports)
    report(worker, serve)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
