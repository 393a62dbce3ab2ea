"""Two things the storage tests share: a write lock held by a second real process (as
`learners import` or `publish` would hold it), and the event loop's longest stall during a
call (what every other request of a serve would wait)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def lock_held_by_another_process(path: Path, seconds: float, write: str) -> Iterator[None]:
    """A second real process takes the database's write lock (BEGIN IMMEDIATE, then `write`)
    and holds it for `seconds`; it rolls back."""
    code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); c.execute(sys.argv[3])\n"
        "print('locked', flush=True); time.sleep(float(sys.argv[2])); c.execute('ROLLBACK')\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(seconds), write],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        yield
    finally:
        holder.wait(timeout=seconds + 10)


async def stall_during(call: Awaitable[T], beat: float = 0.001) -> tuple[T, float]:
    """What `call` gives, and the longest the event loop stood still meanwhile (seconds),
    measured by a heartbeat every `beat` seconds."""
    gaps = [0.0]
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(beat)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(beat * 2)  # the heartbeat has started
    try:
        result = await call
    finally:
        done.set()
        await ticker  # its last beat measures the end of the call
    return result, max(gaps)
