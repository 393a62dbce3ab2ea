"""Taking turns: one session's learner events run one at a time in this process.

A learner's simultaneous reports (the player's queue sent again, a double click, 50 identical
completions) would all read the same state, then write; with the local backend's group commit
their batches land in one transaction, where every batch but the first loses its guard
(api/sql.py still_open) and reads again, round after round. In turns, each reads what the one
before wrote. Across processes or Worker isolates the guard and the retries still decide
(api/app.py, CONFLICT_RETRIES); this only spares them the work within one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0  # the request inside and those waiting: the entry goes at 0


class Turns:
    """An asyncio lock per key while anyone holds or awaits it (no entry is kept after)."""

    def __init__(self) -> None:
        self.turns: dict[str, _Turn] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str | None) -> AsyncIterator[None]:
        """Wait for `key`'s turn (none to wait for without a key)."""
        if key is None:
            yield
            return
        turn = self.turns.setdefault(key, _Turn())
        turn.holders += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.holders -= 1
            if turn.holders == 0:
                del self.turns[key]
