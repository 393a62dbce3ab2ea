"""Run inside the Worker's Pyodide: the shape of the app the Worker serves with, and how many
times this isolate built it (the harness has already served requests through it)."""

from __future__ import annotations

from typing import Any


async def main(env: Any, argument: str) -> dict[str, Any]:
    import worker  # the main module, as workerd imported it

    app = worker.made(env).app
    return {
        "handlers": sorted(k.__name__ for k in app.exception_handlers if isinstance(k, type)),
        "routes": [getattr(r, "path", "") for r in app.routes],
        "builds": worker.Isolate.builds,
    }
