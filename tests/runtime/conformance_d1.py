"""Run inside the Worker's Pyodide (WorkerRuntime.run_python): the storage conformance scenario
(tests/support/conformance.py) on the D1 binding the runtime hands the Worker (`env.DB`, wrapped by the
SDK), with the same deterministic ids and the same issuer key as the CPython + SQLite run it is
compared with. The argument is JSON: {"manifest": <the manifest's text>, "issuerKey": <PEM>}."""

from __future__ import annotations

import json
from typing import Any

from support.conformance import deterministic_ids, run

from api.d1 import D1BindingDatabase
from api.jws import IssuerKey


async def main(env: Any, argument: str) -> dict[str, Any]:
    given = json.loads(argument)
    key = IssuerKey.from_text(given["issuerKey"])  # the vendored rsa and pyasn1 read it
    with deterministic_ids():
        result = await run(D1BindingDatabase(env.DB), given["manifest"], key)
    return {"answers": result["answers"], "tables": result["tables"], "meters": result["meters"]}
