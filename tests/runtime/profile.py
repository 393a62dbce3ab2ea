"""Run inside the Worker's Pyodide: profile the Worker's calls (`start`), or stop and answer the
top of the profile by own time (`stop`). Used by bench/worker_bench.py --profile."""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any

import entry


async def main(env: Any, argument: str) -> str:
    if argument == "start":
        entry.profiler = cProfile.Profile()
        return "started"
    profiler, entry.profiler = entry.profiler, None
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
    return out.getvalue()
