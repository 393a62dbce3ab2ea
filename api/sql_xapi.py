"""The xAPI statements' statements (api/xapi.py, api/lrs.py): the trail written with each event,
paged for GET /api/xapi/statements and forwarded to an LRS.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S


def record_statement(statement_id: str, learner_id: str, stored: str, statement: str) -> S:
    """Keep one xAPI statement; its id is derived from the event, so a replay adds nothing."""
    return S(
        "INSERT INTO xapi_statements (id, learner_id, stored, statement) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (statement_id, learner_id, stored, statement),
    )


def statements_page(since: str, after_stored: str, after_seq: int, limit: int) -> S:
    """Statements stored at or after `since`, after the cursor (stored, seq), oldest first."""
    return S(
        "SELECT seq, stored, statement FROM xapi_statements "
        "WHERE stored >= ? AND (stored, seq) > (?, ?) ORDER BY stored, seq LIMIT ?",
        (since, after_stored, after_seq, limit),
    )


def statements_to_forward(limit: int) -> S:
    return S(
        "SELECT seq, statement FROM xapi_statements WHERE forwarded_at IS NULL "
        "ORDER BY seq LIMIT ?",
        (limit,),
    )


def statements_forwarded(seqs: list[int], now: str) -> S:
    """Mark statements an LRS accepted (at most 99 a call: D1 binds <= 100 parameters)."""
    marks = ", ".join("?" * len(seqs))
    return S(f"UPDATE xapi_statements SET forwarded_at = ? WHERE seq IN ({marks})", (now, *seqs))
