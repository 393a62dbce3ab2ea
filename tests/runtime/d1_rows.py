"""Run inside the Worker's Pyodide (WorkerRuntime.run_python): statements on one of the Worker's
own D1 bindings (wrapped by the SDK), in one batch. The argument is JSON
[[sql, [params...]], ...] for `env.DB`, or {"binding": "DB_SPRING", "statements": [...]} for
another (a cohort's); the answer, each statement's rows (as lists) and the rows it changed. The
retention test reads and ages rows with it (tests/test_worker_runtime_retention.py), the
cohorts test reads each cohort's database (tests/test_worker_runtime_cohorts.py)."""

from __future__ import annotations

import json
from typing import Any

from api.d1 import D1BindingDatabase
from api.storage import Statement


async def main(env: Any, argument: str) -> list[dict[str, Any]]:
    given = json.loads(argument)
    binding, listed = (
        ("DB", given) if isinstance(given, list) else (given["binding"], given["statements"])
    )
    statements = [Statement(sql, tuple(params)) for sql, params in listed]
    results = await D1BindingDatabase(getattr(env, binding)).batch(statements)
    return [{"rows": [list(r.values()) for r in x.rows], "changes": x.changes} for x in results]
