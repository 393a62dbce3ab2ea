"""The layout's rules, read from the source: four programs that import only what they may, no
import cycle, a Worker that ships only what its entry imports, and the size bars.

- builder/  the build pipeline: imports no other project package
- api/      what runs in the Worker and behind serve: imports no other project package
- serve/    the local server: the one place that composes builder and api
- ops/      operator commands: drive api (learners) and read content with builder's reader
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ops.worker import ENTRY, shipped

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("builder", "api", "serve", "ops")
ALLOWED = {
    "builder": {"builder"},
    "api": {"api"},
    "serve": {"serve", "builder", "api"},
    "ops": {"ops", "builder", "api"},
}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 50
SKIPPED = {"node_modules", "site", "golden", ".sillon", "python_modules", "__pycache__", ".venv"}


def modules() -> dict[str, Path]:
    """Every project module by dotted name (the two entry points included)."""
    found = {name: ROOT / f"{name}.py" for name in ("build", "stream_upload")}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            found[f"{package}.{path.stem}"] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules one module imports, however (top level, in functions, or only for
    type checking: a cycle through a type-checking import is still a tangle)."""
    package = name.rsplit(".", 1)[0] if "." in name else ""
    result: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            result |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            result.add(module)
            result |= {f"{module}.{a.name}" for a in node.names}
    return {m for m in result if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_layout_has_no_import_cycle() -> None:
    found = cycle(graph())
    assert found is None, "import cycle: " + " -> ".join(found or [])


def test_layout_cycle_finder_finds_a_planted_cycle() -> None:
    planted = {"api.a": {"api.b"}, "api.b": {"api.c"}, "api.c": {"api.a"}, "api.d": set()}
    assert cycle(planted) == ["api.a", "api.b", "api.c", "api.a"]


@pytest.mark.parametrize("package", PACKAGES)
def test_layout_packages_import_only_what_they_may(package: str) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name.startswith(package + ".")
        for target in targets
        if target.split(".")[0] not in ALLOWED[package]
    )
    assert wrong == []


def test_layout_worker_signs_without_native_packages() -> None:
    """The Worker runs pure-Python packages only: what it ships signs with `rsa` (api/jws.py).
    PyJWT and `cryptography` are imported by Cloudflare Access mode (api/access.py, a serve
    setting) and by key generation (api/jws.py `generate`, operators only), nowhere else."""
    allowed = {"access": ("jwt",), "jws": ("cryptography",)}
    for name in set(shipped()) - {"__init__"}:
        tree = ast.parse((ROOT / "api" / f"{name}.py").read_text(encoding="utf-8"))
        native = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0
        }
        assert not (native & {"jwt", "cryptography"}) - set(allowed.get(name, ())), name


def test_layout_worker_ships_only_what_its_entry_imports() -> None:
    ships = set(shipped())
    assert ENTRY in ships and {"app", "gate", "d1", "settings"} <= ships
    assert "sqlite" not in ships  # the local backend stays home
    for name in ships - {"__init__"}:
        source = (ROOT / "api" / f"{name}.py").read_text(encoding="utf-8")
        assert "argparse" not in source and "sys.argv" not in source, name


def python_files() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not SKIPPED & set(path.relative_to(ROOT).parts)
    ]


def test_layout_modules_stay_under_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in python_files()
        if (n := p.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES
    }
    assert long == {}


def test_layout_functions_stay_under_50_lines() -> None:
    long = {
        f"{p.relative_to(ROOT)}:{node.lineno} {node.name}": length
        for p in python_files()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    }
    assert long == {}
