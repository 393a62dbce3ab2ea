"""`python build.py prune`: delete now, from the local database, what the retention policy
(api/retention.py) lets go; serve does the same at start and every hour, the Worker a round a
minute on D1.

It reads serve's settings (SILLON_DB, SILLON_LRS_URL, SILLON_KEEP_*): run it with serve's
environment, or it applies another policy than serve does (without SILLON_LRS_URL it prunes
statements by their age, forwarded or not).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from api.clock import utc_now
from api.retention import Pruned, prune_all
from api.settings import Settings
from api.sqlite import SQLiteDatabase

from .errors import CommandError


def prune(settings: Settings, say: Callable[[str], None]) -> Pruned:
    """One pass over the database at `settings.db_path` (which must exist), saying the policy
    and each round; the total."""
    if not Path(settings.db_path).is_file():
        raise CommandError(f"no database at {settings.db_path} (set SILLON_DB or --db)")
    lrs = settings.lrs is not None
    say(f"{settings.db_path}: {settings.retention.describe(lrs)}")

    def said(pruned: Pruned) -> None:
        say(f"removed {pruned}")

    db = SQLiteDatabase(settings.db_path)
    try:
        return asyncio.run(prune_all(db, settings.retention, utc_now(), lrs, said, pause=0))
    finally:
        db.close()
