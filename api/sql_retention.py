"""The retention statements (api/retention.py): each deletes at most `chunk` rows of one table
and reads little more than it deletes, on SQLite as on D1 (which bills every row read).

`events` has no index on `created_at` (one would cost a row written per event), but it is a
rowid table whose rowid grows with time, as `xapi_statements.seq` does with storing and, the
forwarder sending oldest first, with forwarding. So the oldest rows are a prefix: the statement
looks at the `chunk` oldest rows only, finds the first one to keep among them and deletes what
comes before it. When nothing is due that costs 3 rows read; a full chunk about 3 a row
deleted (wrangler's local D1, tests/test_retention_d1.py). A row slightly out of time order
(two requests committed in the other order) waits behind its neighbour for a later round.

Apart from api/sql.py only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S


def _oldest_before_kept(table: str, key: str, keep: str) -> str:
    """DELETE the rows of `table` before the first of its `chunk` oldest (by `key`) that
    `keep` holds for, or all `chunk` when it holds for none (bind: chunk, `keep`'s, chunk)."""
    window = f"(SELECT MIN({key}) FROM {table}) + ?"
    return (
        f"DELETE FROM {table} WHERE {key} < COALESCE("
        f"(SELECT {key} FROM {table} WHERE {key} < {window} AND ({keep}) "
        f"ORDER BY {key} LIMIT 1), {window})"
    )


def prune_events(before: str, chunk: int) -> S:
    """Forget the oldest event answers recorded before `before`: at most `chunk`."""
    sql = _oldest_before_kept("events", "rowid", "created_at >= ?")
    return S(sql, (chunk, before, chunk))


def prune_forwarded_statements(before: str, chunk: int) -> S:
    """Delete the oldest xAPI statements forwarded before `before`, at most `chunk`; never one
    still waiting to be forwarded (the first of those stops the deletion)."""
    keep = "forwarded_at IS NULL OR forwarded_at >= ?"
    return S(_oldest_before_kept("xapi_statements", "seq", keep), (chunk, before, chunk))


def prune_stored_statements(before: str, chunk: int) -> S:
    """Delete the oldest xAPI statements stored before `before`, at most `chunk` (the
    (stored, seq) index finds exactly them)."""
    return S(
        "DELETE FROM xapi_statements WHERE seq IN (SELECT seq FROM xapi_statements "
        "WHERE stored < ? ORDER BY stored, seq LIMIT ?)",
        (before, chunk),
    )
