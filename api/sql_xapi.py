"""The xAPI statements' statements (api/xapi.py, api/lrs.py): the trail written with each event,
paged for GET /api/xapi/statements and forwarded to an LRS.

A statement's `seq` (its rowid) is at least its `stored` time in milliseconds since 1970 times
SEQ_PER_MS, and above every seq before it: rowid order is storing order, and "stored at or
after t" starts at `seq_at(t)`. So the table has no index but its statement id's (two rows
written a statement, not four), and paging, `since`, retention (api/sql_retention.py) and
the forwarder read rowid ranges. Two statements stored in the same millisecond (or a clock
behind the last statement's) take the next seq; a seq stays below 2**53, exact in JavaScript
(D1's Worker binding), until the year 2248.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .clock import parse_iso
from .storage import Statement as S

SEQ_PER_MS = 1024
SEQ_MAX = 2**53 - 1  # the largest integer JavaScript (D1's Worker binding) holds exactly
EPOCH, MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)


def seq_at(moment: str) -> int:
    """The lowest seq a statement stored at or after `moment` (ISO 8601 UTC) can have, within
    0..2**53 - 1 (a `since` of the year 9999 stays a JavaScript-safe number on D1)."""
    if not moment:
        return 0
    exact = (parse_iso(moment) - EPOCH) // MS * SEQ_PER_MS  # integers: no float rounding
    return min(max(exact, 0), SEQ_MAX)


def record_statement(statement_id: str, learner_id: str, stored: str, statement: str) -> S:
    """Keep one xAPI statement; its id is derived from the event, so a replay adds nothing."""
    return S(
        "INSERT INTO xapi_statements (seq, id, learner_id, stored, statement) "
        "VALUES (MAX(?, COALESCE((SELECT MAX(seq) FROM xapi_statements), 0) + 1), ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (seq_at(stored), statement_id, learner_id, stored, statement),
    )


def statements_page(since: str, after_seq: int, limit: int) -> S:
    """Statements stored at or after `since`, after the cursor `after_seq`, in storing order."""
    return S(
        "SELECT seq, stored, statement FROM xapi_statements "
        "WHERE seq >= ? AND seq > ? AND stored >= ? ORDER BY seq LIMIT ?",
        (seq_at(since), after_seq, since, limit),
    )


def statements_to_forward(limit: int) -> S:
    """The oldest statements the LRS has not had yet."""
    return S(
        "SELECT seq, statement FROM xapi_statements "
        "WHERE seq > (SELECT seq FROM xapi_outbox WHERE id = 1) ORDER BY seq LIMIT ?",
        (limit,),
    )


def statements_forwarded(through: int) -> S:
    """The LRS has had every statement up to `through` (never moves the place back: two
    forwarders at once are harmless)."""
    return S("UPDATE xapi_outbox SET seq = ? WHERE id = 1 AND seq < ?", (through, through))
