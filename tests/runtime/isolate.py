"""Run inside the Worker's Pyodide: how many times this isolate built its app, each cohort's
API with the D1 binding it runs on, and whether they share one rate limiter (the harness has
already served requests)."""

from __future__ import annotations

from typing import Any


async def main(env: Any, argument: str) -> dict[str, Any]:
    import worker  # the main module, as workerd imported it

    isolate = worker.made(env)
    return {
        "builds": isolate.builds,
        "cohorts": [[api.settings.cohort, api.settings.db_path] for api in isolate.apis],
        "app": type(isolate.app).__name__,
        "oneLimiter": all(api.limiter is isolate.apis[0].limiter for api in isolate.apis),
    }
