"""A launch on Cloudflare, from measured costs (issue 18, part 1: the meter and the model).

The meter: on wrangler's local D1 (the engine D1 runs, behind D1's REST `query` contract),
the API runs in-process and every request is metered as D1 reports it: D1 calls, statements,
rows read, rows written; the database file's growth gives the bytes a watching learner adds.
A learner watches a one-hour video, reporting every 4 s as the player does.

The model: a cohort (learners, the share watching at once, the report period) becomes D1
load and money with D1's published figures (a database runs one query at a time, ~1 ms each;
the free plan allows 100,000 rows written and 5 million read a day; the paid plan bills $1 per
million rows written and $0.001 per million read beyond what it includes; 10 GB a database).
Figures are per watching learner: other requests (pages, quizzes) are rare beside one report
every 4 s, and are listed so they can be added.

    bash tests/setup.sh            # wrangler from npm
    python bench/launch_model.py [--reports 100] [--learners 10000] [--watching 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402
from support.clock import ADMIN, Clock  # noqa: E402
from support.conformance import Recording  # noqa: E402
from support.course import make_course  # noqa: E402
from support.launch import free_port  # noqa: E402
from support.wrangler import LocalD1  # noqa: E402

from api.app import Api, application, publish_manifest  # noqa: E402
from api.clock import iso  # noqa: E402
from api.d1 import D1HttpDatabase  # noqa: E402
from api.settings import Settings  # noqa: E402
from builder.config import BuildConfig  # noqa: E402
from builder.pipeline import build  # noqa: E402

VIDEO_SECONDS = 3600  # a one-hour video: every report in the run is a mid-video one
D1_MS_PER_STATEMENT = 1.0  # D1's documentation: ~1,000 queries a second at 1 ms each
FREE_WRITTEN, FREE_READ = 100_000, 5_000_000  # rows a day, free plan
PRICE_WRITTEN, PRICE_READ = 1.00, 0.001  # $ per million rows beyond the paid plan's included
DATABASE_BYTES = 10 * 10**9


def course_manifest(work: Path) -> str:
    content = make_course(work / "course", duration=VIDEO_SECONDS)
    config = BuildConfig.make(content=content, out=work / "site", disk_cache=False)
    build(config)
    return (config.private / "manifest.json").read_text(encoding="utf-8")


async def session(db: Recording, manifest: str, reports: int, period: int, d1: LocalD1) -> Any:
    """One learner: enrolled, signed in, placed, then `reports` mid-video reports."""
    clock = Clock()
    settings = Settings(db_path=":d1:", admin_token=ADMIN, secret="s" * 32, tally_secret="t")
    api = Api(settings, db, clock)  # type: ignore[arg-type]
    await publish_manifest(db, manifest, iso(clock()))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=application(api))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def call(method: str, url: str, **options: Any) -> httpx.Response:
            db.begin(f"{method} {url}")
            return await client.request(method, url, **options)

        body = {"name": "Ada", "email": "ada@example.org", "teamId": "t1"}
        admin = {"Authorization": f"Bearer {ADMIN}"}
        invite = (await call("POST", "/api/admin/learners", json=body, headers=admin)).json()
        await call("POST", "/api/session", json={"inviteToken": invite["inviteToken"]})
        await call("GET", "/api/learner")
        await call("GET", "/api/playback?stepId=intro")
        play = {"eventId": "play-000", "stepId": "intro", "intervals": [], "action": "played"}
        await call("POST", "/api/video-event", json={**play, "time": 0})
        clock.advance(seconds=period)
        size_before = database_bytes(d1)
        for n in range(reports):
            start = n * period
            event = {"eventId": f"report-{n:06d}", "stepId": "intro"}
            event["intervals"] = [[start, start + period]]
            answer = await call("POST", "/api/video-event", json=event)
            assert answer.status_code == 200, answer.text
            clock.advance(seconds=period)
        return size_before, database_bytes(d1)


def database_bytes(d1: LocalD1) -> int:
    """The database's logical size (pages in use, the WAL's included), read beside wrangler."""
    with sqlite3.connect(f"file:{d1.sqlite_file()}?mode=ro", uri=True) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def measure(reports: int, period: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = course_manifest(work)
        (work / "d1").mkdir()
        d1 = LocalD1(work / "d1", free_port())
        db = Recording(D1HttpDatabase(d1.url))

        async def metered() -> Any:
            try:
                return await session(db, manifest, reports, period, d1)
            finally:
                await db.db.close()

        try:
            before, after = asyncio.run(metered())
        finally:
            d1.stop()
    rows = [
        (request, calls, statements, read, written)
        for request, (statements, read, written, calls) in db.meters
    ]
    return {"rows": rows, "bytes": after - before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100, help="mid-video reports measured")
    parser.add_argument("--period", type=int, default=4, help="seconds between reports")
    parser.add_argument("--learners", type=int, default=10_000, help="learners in the launch")
    parser.add_argument("--watching", type=float, default=1.0, help="share watching at once")
    args = parser.parse_args()
    found = measure(args.reports, args.period)
    reports = [r for r in found["rows"] if r[0].startswith("POST /api/video-event")]
    print("Measured on wrangler's local D1 (calls, statements, rows read, rows written):\n")
    for request, calls, statements, read, written in found["rows"][: -len(reports)]:
        print(f"  {request:<40} {calls:>3} {statements:>4} {read:>5} {written:>5}")
    n = len(reports)
    calls, statements, read, written = (sum(r[i] for r in reports) / n for i in range(1, 5))
    per_report_bytes = found["bytes"] / n
    print(
        f"  mid-video report (mean of {n})        {calls:>5.2f} {statements:>4.2f} "
        f"{read:>5.2f} {written:>5.2f}   ~{per_report_bytes:,.0f} bytes of database each"
    )
    model(args, statements, read, written, per_report_bytes)
    return 0


def model(
    args: argparse.Namespace, statements: float, read: float, written: float, size: float
) -> None:
    """The launch, from the per-report figures."""
    per_hour = 3600 / args.period
    watching = args.learners * args.watching
    busy = statements / args.period * D1_MS_PER_STATEMENT / 1000  # share of D1's time each
    hour_written, hour_read = per_hour * written, per_hour * read
    dollars = 1000 * (hour_written * PRICE_WRITTEN + hour_read * PRICE_READ) / 1e6
    free_hours = min(FREE_WRITTEN / hour_written, FREE_READ / hour_read)
    print(f"\nModel: a report every {args.period} s, {watching:,.0f} learners watching at once\n")
    print(f"  D1 queries a second              {watching * statements / args.period:,.0f}")
    at = f"(at {D1_MS_PER_STATEMENT} ms a statement)"
    print(f"  learners one database holds      {1 / busy:,.0f}  {at}")
    print(f"  databases this launch needs      {watching * busy:,.1f}")
    print(f"  rows written per learner-hour    {hour_written:,.0f}")
    print(f"  rows read per learner-hour       {hour_read:,.0f}")
    print(f"  bytes per learner-hour           {per_hour * size:,.0f}")
    print(f"  free plan, learner-hours a day   {free_hours:,.0f}")
    print(f"  paid plan, $ per 1,000 l-hours   {dollars:,.2f}  (beyond the plan's included rows)")
    growth = per_hour * size
    hours = f"{DATABASE_BYTES / growth:,.0f}" if growth > 0 else "no growth measured"
    print(f"  learner-hours per 10 GB          {hours}")


if __name__ == "__main__":
    sys.exit(main())
