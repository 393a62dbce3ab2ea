"""The retention statements (api/retention.py): each deletes at most `chunk` rows of one table
and reads little more than it deletes, on SQLite as on D1 (which bills every row read).

`events` has no index on `created_at` (one would cost a row written per event), but it is a
rowid table whose rowid grows with time. So the oldest rows are a prefix: the statement
looks at the `chunk` oldest rows only, finds the first one to keep among them and deletes what
comes before it. When nothing is due that costs 3 rows read; a full chunk about 3 a row
deleted (wrangler's local D1, tests/test_retention_d1.py). A row slightly out of time order
(two requests committed in the other order) waits behind its neighbour for a later round.
`xapi_statements.seq` is time itself (api/sql_xapi.py): what is due is a rowid range.

Apart from api/sql.py only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .sql_xapi import seq_at
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


def _statements_before(bound: str, chunk: int, bound_params: tuple[object, ...]) -> S:
    """DELETE the first `chunk` statements whose seq is below `bound` (an SQL expression): a
    rowid range, its end found among the due rows only (one row read when none is due)."""
    chunk_end = (
        f"(SELECT seq FROM xapi_statements WHERE seq < {bound} ORDER BY seq LIMIT 1 OFFSET ?)"
    )
    return S(
        f"DELETE FROM xapi_statements WHERE seq < {bound} AND seq < COALESCE({chunk_end}, {bound})",
        (*bound_params, *bound_params, chunk, *bound_params),
    )


def prune_forwarded_statements(before: str, chunk: int) -> S:
    """Delete the oldest xAPI statements stored before `before` that the LRS has had, at most
    `chunk`; never one still waiting to be forwarded (a rowid range: api/sql_xapi.py)."""
    bound = "MIN(?, (SELECT seq + 1 FROM xapi_outbox WHERE id = 1))"
    return _statements_before(bound, chunk, (seq_at(before),))


def prune_stored_statements(before: str, chunk: int) -> S:
    """Delete the oldest xAPI statements stored before `before`, at most `chunk` (a rowid
    range: api/sql_xapi.py)."""
    return _statements_before("?", chunk, (seq_at(before),))
