"""The tests' one fake, time, and the tokens of the in-process app: importable inside the
Worker's Pyodide too (no build, no server; tests/runtime/conformance_d1.py runs the conformance
scenario there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

ADMIN = "test-admin-token-0123456789"
TALLY_SECRET = "tally-signing-secret"


class Clock:
    """The one thing tests fake: time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
