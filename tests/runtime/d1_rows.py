"""Run inside the Worker's Pyodide (WorkerRuntime.run_python): statements on the Worker's own D1
binding (`env.DB`, wrapped by the SDK), in one batch. The argument is JSON
[[sql, [params...]], ...]; the answer, each statement's rows (as lists) and the rows it
changed. The retention test reads and ages rows with it (tests/test_worker_runtime.py)."""

from __future__ import annotations

import json
from typing import Any

from api.d1 import D1BindingDatabase
from api.storage import Statement


async def main(env: Any, argument: str) -> list[dict[str, Any]]:
    statements = [Statement(sql, tuple(params)) for sql, params in json.loads(argument)]
    results = await D1BindingDatabase(env.DB).batch(statements)
    return [{"rows": [list(r.values()) for r in x.rows], "changes": x.changes} for x in results]
