"""A progress bar for long uploads, and sizes and durations as people read them.

On a terminal the bar is redrawn in place (bytes, rate, ETA); off a terminal (a log, a pipe,
a CI job) only the final line is written, so logs stay one line per file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def human_bytes(size: float) -> str:
    """1.5 MiB, 2.0 GiB: sizes as people read them."""
    if size >= GIB:
        return f"{size / GIB:.2f} GiB"
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    return f"{size / KIB:.0f} KiB"


def human_seconds(seconds: float) -> str:
    """A duration as h:mm:ss or m:ss."""
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A progress bar on stderr (bytes, rate, ETA); off a terminal, only the final line."""

    WIDTH = 24

    def __init__(
        self,
        label: str,
        total: int,
        start: int,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.start, self.stream = label, total, start, stream
        self.clock = clock
        self.began = clock()
        self.interactive = stream.isatty()
        self.offset = start

    @property
    def sent(self) -> int:
        """Bytes sent in this run (not counting what an earlier run sent)."""
        return self.offset - self.start

    def rate(self) -> float:
        """Bytes per second sent in this run."""
        elapsed = max(self.clock() - self.began, 1e-6)
        return self.sent / elapsed

    def update(self, offset: int) -> None:
        """Redraw the bar at a new offset (on a terminal only)."""
        self.offset = offset
        if not self.interactive:
            return
        share = offset / self.total if self.total else 1.0
        filled = int(share * self.WIDTH)
        rate = self.rate()
        eta = human_seconds((self.total - offset) / rate) if rate > 0 else "--:--"
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {share:4.0%} {human_bytes(offset)}/{human_bytes(self.total)}"
            f" {human_bytes(rate)}/s ETA {eta}  "
        )
        self.stream.flush()

    def finish(self) -> None:
        """The final line, on a terminal or not."""
        elapsed = self.clock() - self.began
        end = "\n" if self.interactive else ""
        self.stream.write(
            f"{end}{self.label}: {human_bytes(self.sent)} sent in "
            f"{human_seconds(elapsed)} ({human_bytes(self.rate())}/s)\n"
        )
        self.stream.flush()
