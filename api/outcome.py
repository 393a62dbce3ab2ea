"""What an action changes: the batch it writes and the answer it gives (api/learning.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import sql, xapi
from .learner import Award
from .storage import Statement


@dataclass
class Outcome:
    """What an action changes: the batch to write and the answer to give."""

    statements: list[Statement] = field(default_factory=list)
    xp: list[Award] = field(default_factory=list)
    badges: list[str] = field(default_factory=list)
    trail: xapi.Statements | None = None  # the event as xAPI statements, written with it

    def add_xp(self, learner_id: str, amount: int, cause: str, now: str) -> None:
        self.statements.append(sql.award_xp(learner_id, amount, cause, now))
        self.xp.append({"cause": cause, "amount": amount})
