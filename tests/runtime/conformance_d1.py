"""Run inside the Worker's Pyodide (WorkerRuntime.run_python): the storage conformance scenario
(tests/support/conformance.py) on the D1 binding the runtime hands the Worker (`env.DB`, wrapped by the
SDK), with the same deterministic ids as the CPython + SQLite run it is compared with."""

from __future__ import annotations

from typing import Any

from support.conformance import deterministic_ids, run

from api.d1 import D1BindingDatabase


async def main(env: Any, manifest: str) -> dict[str, Any]:
    with deterministic_ids():
        result = await run(D1BindingDatabase(env.DB), manifest)
    return {"answers": result["answers"], "tables": result["tables"], "meters": result["meters"]}
