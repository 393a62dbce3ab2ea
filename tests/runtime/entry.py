"""workerd's side of a Python Worker call, inside the harness's Pyodide (a STAND-IN).

workerd (src/pyodide/python-entrypoint-helper.ts and internal/introspection.py) imports the
main module once per isolate, builds a fresh `Default(ctx, env)` for every request and calls
the handler through `wrapper_func`: each argument through the SDK's `python_from_rpc` (so
`fetch` receives a `workers.Request`), `fetch` with `relaxed_call`, and the answer back
through `python_to_rpc`. This module does the same, with the SDK the Worker vendors; it runs
no code of the Worker's own beyond what workerd would run.
"""

from __future__ import annotations

import importlib
import json
import site
import sys
from inspect import isawaitable
from types import ModuleType
from typing import Any

MODULES = "/session/metadata"  # where workerd mounts the uploaded modules
PYTHON_MODULES = MODULES + "/python_modules"
_main: ModuleType | None = None
profiler: Any = None  # a cProfile.Profile while bench/worker_bench.py --profile runs
_main_name = ""


def setup(main: str, extra: str) -> None:
    """sys.path as workerd sets it (internal/setup_python_search_path.py)."""
    global _main_name
    sys.path.insert(0, MODULES)
    for index, entry in enumerate(sys.path):
        if "site-packages" in entry:
            sys.path.insert(index, PYTHON_MODULES)
            break
    else:
        raise ValueError("No site-packages found in sys.path")
    site.addsitedir(PYTHON_MODULES)  # .pth files (PROCESS_PTH_FILES)
    if extra:
        sys.path.append(extra)  # test code run inside the runtime (/__harness/python)
    sys.path.remove("/harness")
    _main_name = main


async def load_main() -> bool:
    """Import the main module, as workerd does at start-up."""
    global _main
    _main = importlib.import_module(_main_name)
    return True


async def call(method: str, ctx: Any, env: Any, *args: Any) -> Any:
    """One invocation: a new entrypoint instance, then `wrapper_func`."""
    assert _main is not None, "load_main() first"
    if profiler is not None:
        profiler.enable()
        try:
            return await _call(method, ctx, env, *args)
        finally:
            profiler.disable()
    return await _call(method, ctx, env, *args)


async def _call(method: str, ctx: Any, env: Any, *args: Any) -> Any:
    from pyodide.code import relaxed_call
    from workers import python_from_rpc, python_to_rpc

    assert _main is not None
    instance = _main.Default(ctx, env)
    handler = getattr(instance, method)
    py_args = [python_from_rpc(arg) for arg in args]
    relaxed = method == "fetch"
    result = relaxed_call(handler, *py_args) if relaxed else handler(*py_args)
    if isawaitable(result):
        result = await result
    return python_to_rpc(result)


async def run_module(name: str, env: Any, argument: str) -> str:
    """Test code inside the runtime: `await <name>.main(env, argument)` with env wrapped as
    the SDK wraps a Worker's, answered as JSON."""
    from workers import _EnvWrapper

    module = importlib.import_module(name)
    return json.dumps(await module.main(_EnvWrapper(env), argument))
