"""The database: one SQLite file locally, opened once, with the schema applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "schema.sql"


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the SQLite database at `path` and apply schema.sql."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")
    connection.executescript(SCHEMA.read_text(encoding="utf-8"))
    return connection


def healthy(connection: sqlite3.Connection) -> bool:
    """Tell whether the database answers a query."""
    try:
        row = connection.execute("SELECT 1").fetchone()
        return bool(row == (1,))
    except sqlite3.Error:
        return False
