"""Rows read and written per API request, as D1 itself reports them (`meta.rows_read` and
`meta.rows_written`), on wrangler's local D1 running the conformance scenario.

    bash tests/setup.sh            # wrangler from npm
    python bench/d1_rows.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.conformance import deterministic_ids, run  # noqa: E402
from support.course import manifest_of  # noqa: E402
from support.launch import free_port  # noqa: E402
from support.wrangler import LocalD1  # noqa: E402

from api.d1 import D1HttpDatabase  # noqa: E402


async def on_local_d1(work: Path, manifest: str) -> dict[str, object]:
    """Start wrangler's local D1 and run the scenario through D1's REST contract."""
    (work / "d1").mkdir()
    d1 = LocalD1(work / "d1", free_port())
    db = D1HttpDatabase(d1.url)
    try:
        with deterministic_ids():
            return await run(db, manifest)
    finally:
        await db.close()
        d1.stop()


def main() -> int:
    """Run the scenario on local D1 and print each request's statements and rows."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = manifest_of(work / "course")
        result = asyncio.run(on_local_d1(work, manifest))
    meters: list[tuple[str, list[int]]] = result["meters"]  # type: ignore[assignment]
    print("Rows per request as D1 reports them (wrangler's local D1, the conformance scenario)\n")
    print(f"{'request':<62} {'calls':>5} {'statements':>10} {'read':>6} {'written':>8}")
    worst = 0
    for request, (statements, read, written, calls) in meters:
        label = request if len(request) <= 62 else request[:59] + "..."
        print(f"{label:<62} {calls:>5} {statements:>10} {read:>6} {written:>8}")
        if request.startswith("POST /api/video-event"):
            worst = max(worst, read)
    most = max(meter[0] for _, meter in meters)
    verdict = "MET" if worst < 20 else "NOT MET"
    print(f"\nvideo events: at most {worst} rows read (target < 20: {verdict})")
    print(
        f"most statements in one request: {most} (D1: 50 queries per invocation on the free plan)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
