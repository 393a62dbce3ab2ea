"""Stage the Python Worker for `wrangler deploy`: our package, its pure-Python dependencies,
and a wrangler.toml pointing at the built site and the migrations.

wrangler uploads every module-like file under the entry's base directory, so the Worker is
staged in a directory of its own (default `.sillon/worker/`) instead of the repository root.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import CommandError

ROOT = Path(__file__).resolve().parent.parent
# What the Worker imports, besides Pyodide's standard library: Starlette and its dependencies.
# httpx (+ its pure-Python dependencies): the xAPI forwarder's client (api/lrs.py).
VENDORED = [
    "starlette",
    "anyio",
    "idna",
    "sniffio",
    "typing_extensions",
    "httpx",
    "httpcore",
    "h11",
    "certifi",
    # The Workers Python SDK (`workers`, `asgi`): wrangler.toml's enable_python_external_sdk
    # makes the runtime use this vendored copy, the one the real-runtime tests run.
    "workers-runtime-sdk==1.9.5",
    # Pyodide has no time-zone database and cannot load one: zoneinfo finds this package.
    "tzdata",
    # The QR code of a device link (api/signin.py), pure Python.
    "segno",
    # Certificates' RS256 signatures (api/jws.py), pure Python, and the ASN.1 reader of its keys.
    "rsa",
    "pyasn1",
]
ENTRY = "worker"  # api/worker.py: wrangler.toml's `main`
PYTHON = "3.13"  # the Python of Cloudflare's Python Workers runtime


def stage(out: Path, site: Path) -> Path:
    """Write the Worker's deployable directory; return its wrangler.toml."""
    if not (site / "index.html").is_file():
        raise CommandError(f"{site}: no built site here (run `python build.py` first)")
    if out.exists():
        shutil.rmtree(out)
    (out / "api").mkdir(parents=True)
    for name in shipped():
        shutil.copyfile(ROOT / "api" / f"{name}.py", out / "api" / f"{name}.py")
    vendor(out / "python_modules")
    config = (ROOT / "wrangler.toml").read_text(encoding="utf-8")
    # Modules are named from the staging root, so `api` stays a package (api.app, api.gate...).
    config = re.sub(r'(?m)^(main = ".*")$', r'\1\nbase_dir = "."', config, count=1)
    config = re.sub(r'(?m)^directory = ".*"$', f'directory = "{site.resolve()}"', config)
    config = re.sub(
        r'(?m)^migrations_dir = ".*"$',
        f'migrations_dir = "{(ROOT / "migrations").resolve()}"',
        config,
    )
    target = out / "wrangler.toml"
    target.write_text(config, encoding="utf-8")
    return target


def shipped(entry: str = ENTRY) -> list[str]:
    """The `api` modules the Worker's entry imports, directly or not: only these ship (the
    SQLite backend and the operator commands stay home). Imports under TYPE_CHECKING do not
    count; imports inside functions do (they may run)."""
    found, todo = {"__init__"}, [entry]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        tree = ast.parse((ROOT / "api" / f"{name}.py").read_text(encoding="utf-8"))
        todo += [n for n in _api_imports(tree) if (ROOT / "api" / f"{n}.py").is_file()]
    return sorted(found)


def _api_imports(tree: ast.Module) -> list[str]:
    """Module names of `api` that a module imports (`from . import x`, `from .x import y`,
    `from api.x import y`, `import api.x`), outside `if TYPE_CHECKING:` blocks."""
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            package = module == "api" or (node.level == 1 and not module)
            if package:
                names += [alias.name for alias in node.names]
            elif node.level == 1 or module.startswith("api."):
                names.append(module.removeprefix("api."))
        elif isinstance(node, ast.Import):
            names += [a.name.removeprefix("api.") for a in node.names if a.name.startswith("api.")]
    return names


def vendor(target: Path) -> None:
    """Pure-Python wheels for the Workers' Python, by pip (no native code can run there)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(target), "--only-binary=:all:", "--implementation", "py"]
    command += ["--python-version", PYTHON, "--no-deps", "--no-compile", *VENDORED]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandError(f"vendoring {', '.join(VENDORED)} failed:\n{done.stderr.strip()}")
    for extra in ("bin", "__pycache__"):
        shutil.rmtree(target / extra, ignore_errors=True)
