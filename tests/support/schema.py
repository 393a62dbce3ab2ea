"""What a database holds, compared between engines and between schema.sql and the migrations."""

from __future__ import annotations

import re
import sqlite3


def objects(connection: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Every table, index and trigger, tables by structure rather than by their CREATE text.

    `ALTER TABLE ... ADD COLUMN` (a migration) edits a table's stored CREATE text differently
    from a CREATE TABLE that has the column (schema.sql), so a table is described by what SQLite
    reports of it: columns, keys, indexes and CHECK constraints. Indexes and triggers keep their
    SQL text, which no migration rewrites.
    """
    found = connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    return [
        (kind, name, structure(connection, name, text) if kind == "table" else text)
        for kind, name, text in found
    ]


def structure(connection: sqlite3.Connection, table: str, text: str) -> str:
    """A table as SQLite sees it, one fact a line."""
    lines = [f"column {row}" for row in connection.execute(f"PRAGMA table_xinfo('{table}')")]
    lines += [
        f"foreign key {row}" for row in connection.execute(f"PRAGMA foreign_key_list('{table}')")
    ]
    for _, index, unique, origin, partial in connection.execute(f"PRAGMA index_list('{table}')"):
        # Auto-indexes are named by position; what counts is what they index and why.
        label = "auto" if index.startswith("sqlite_autoindex_") else index
        keys = list(connection.execute(f"PRAGMA index_xinfo('{index}')"))
        lines.append(f"index {label} unique={unique} origin={origin} partial={partial} {keys}")
    lines += [f"check {clause}" for clause in checks(text)]
    return "\n".join(sorted(lines))


def checks(text: str) -> list[str]:
    """The CHECK (...) clauses of a CREATE TABLE, whitespace-normalised."""
    found: list[str] = []
    for match in re.finditer(r"\bCHECK\s*\(", text, re.IGNORECASE):
        depth = 0
        for end in range(match.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        found.append(" ".join(text[match.end() - 1 : end + 1].split()))
    return found
