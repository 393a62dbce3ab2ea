"""The staged Python Worker on the runtime's Pyodide, a real D1 and the real asset worker.

`WorkerRuntime` does what a deploy does, offline: `python build.py worker` stages the Worker,
`wrangler deploy --dry-run --outdir` bundles it exactly as it would be uploaded (the main
module moved to the bundle's root, python_modules/ beside it), `wrangler d1 migrations apply
--local` migrates a fresh D1 from migrations/, and tests/runtime/harness.mjs runs the bundle in
npm `pyodide` (the version the pinned workerd loads) behind http://127.0.0.1:<port>, with
Miniflare's D1 and asset worker as `env.DB` and `env.ASSETS`. What the harness stands in for
(workerd's call path, its two internal JS modules, binding class names, the edge's router) is
listed at the top of harness.mjs; nothing of it changes what the Worker's Python sees.

Test code run inside the Worker's Python (`run_python("runtime.<module>")`) is imported from
`python_path`, which the harness mounts whole: TESTS (tests/), so tests/runtime/*.py and the
support package (support.conformance, support.clock) are importable there.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import tomllib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.worker import stage
from support.course import ROOT
from support.launch import ADMIN, SECRET, TALLY_SECRET, enroll, free_port, stop
from support.wrangler import d1_file, environment, migrate
from support.wrangler import run as wrangler

HARNESS = ROOT / "tests" / "runtime" / "harness.mjs"
PYODIDE = ROOT / "node_modules" / "pyodide"
TESTS = ROOT / "tests"  # mounted for run_python: runtime/ and support/ live there
START_TIMEOUT = 180.0


def require_runtime() -> None:
    if not (PYODIDE / "pyodide.asm.wasm").is_file():
        pytest.fail("npm pyodide is not installed: run `bash tests/setup.sh` (npm ci)")


def bundle(
    site: Path, workdir: Path, databases: tuple[str, ...] = ()
) -> tuple[Path, dict[str, Any], str]:
    """Stage and bundle the Worker as `wrangler deploy` would upload it, with a
    `[[d1_databases]]` block per extra binding in `databases`; return the bundle directory,
    the staged wrangler.toml and what wrangler said (the upload's sizes)."""
    staged = stage(workdir / "worker", site)
    with staged.open("a", encoding="utf-8") as toml:
        toml.writelines(d1_block(binding) for binding in databases)
    done = wrangler(
        ["deploy", "--dry-run", "-c", str(staged), "--outdir", str(workdir / "bundle")],
        staged.parent,
        workdir,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    toml = tomllib.loads(staged.read_text(encoding="utf-8"))
    return workdir / "bundle", toml, done.stdout + done.stderr


def d1_block(binding: str) -> str:
    """wrangler.toml's block for one more D1 database (a cohort's, `DB_SPRING`: database
    `sillon-spring`), as `build.py cohorts --cloudflare` prints it, with a made-up id."""
    name = "sillon-" + binding.removeprefix("DB_").lower().replace("_", "-")
    return (
        f'\n[[d1_databases]]\nbinding = "{binding}"\ndatabase_name = "{name}"\n'
        f'database_id = "{uuid.uuid5(uuid.NAMESPACE_URL, name)}"\n'
        f'migrations_dir = "{(ROOT / "migrations").resolve()}"\n'
    )


class WorkerRuntime:
    """The Worker behind http://127.0.0.1:<port> (site and API, as on Cloudflare)."""

    def __init__(
        self,
        site: Path,
        workdir: Path,
        secrets: dict[str, str],
        python_path: Path | None = None,
        databases: tuple[str, ...] = (),
    ) -> None:
        """`databases`: D1 bindings besides `DB` (e.g. a cohort's `DB_SPRING`), each declared
        in the staged wrangler.toml, migrated and bound; SILLON_COHORTS goes in `secrets`."""
        require_runtime()
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.modules, self.toml, self.bundle_output = bundle(site, workdir, databases)
        self.state = workdir / "state"
        for database in self.toml["d1_databases"]:
            migrate(workdir / "worker", self.state, workdir, database["database_name"])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = self.config(site, secrets, python_path)
        (workdir / "runtime.json").write_text(json.dumps(config), encoding="utf-8")
        self.log_path = workdir / "runtime.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            ["node", str(HARNESS), str(workdir / "runtime.json")],
            cwd=ROOT,
            env=environment(workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.wait_ready()

    def config(
        self, site: Path, secrets: dict[str, str], python_path: Path | None
    ) -> dict[str, Any]:
        toml = self.toml
        main = Path(toml["main"]).name
        assert (self.modules / main).is_file(), f"wrangler put the entry at {main}"
        assets = toml["assets"]
        return {
            "modules": str(self.modules),
            "main": main.removesuffix(".py"),
            "pythonPath": str(python_path) if python_path else None,
            "persist": str(self.state),
            "databases": {d["binding"]: d["database_id"] for d in toml["d1_databases"]},
            "site": str(site),
            "port": self.port,
            "vars": {**toml.get("vars", {}), **secrets},
            "compatibilityDate": toml["compatibility_date"],
            "compatibilityFlags": toml["compatibility_flags"],
            "runWorkerFirst": assets["run_worker_first"],
            "htmlHandling": assets.get("html_handling", "auto-trailing-slash"),
            "notFoundHandling": assets.get("not_found_handling", "none"),
            "pyodide": str(PYODIDE),
        }

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        ready: list[str] = []
        reader = threading.Thread(
            target=lambda: ready.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(START_TIMEOUT)
        if not ready or not ready[0].startswith("listening"):
            self.stop()
            raise AssertionError(f"the Worker did not start:\n{self.log_path.read_text()}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain prints

    def stats(self) -> dict[str, Any]:
        """Start-up times and, per Worker call since the last read, time, CPU and D1 use."""
        found: dict[str, Any] = httpx.get(f"{self.url}/__harness/stats", timeout=10).json()
        return found

    def scheduled(self) -> None:
        """The cron trigger, as workerd fires it (wrangler.toml `[triggers]`)."""
        answer = httpx.post(f"{self.url}/__harness/scheduled", timeout=60)
        assert answer.status_code == 204, answer.text

    def run_python(self, module: str, argument: str = "") -> Any:
        """`await <module>.main(env, argument)` inside the Worker's Pyodide; its JSON answer."""
        body = {"module": module, "argument": argument}
        answer = httpx.post(f"{self.url}/__harness/python", json=body, timeout=600)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stop(self) -> None:
        stop(self.process, timeout=15)
        self.log.close()

    def errors(self) -> str:
        """What the runtime printed (uncaught exceptions, warnings)."""
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()


class WorkerSite:
    """A course on the Worker, with the interface of support.launch.Site (url, enroll,
    manifest, rows, stop), so the browser journey runs against the Worker as against serve."""

    def __init__(self, workdir: Path, content: Path) -> None:
        from builder.config import BuildConfig
        from builder.pipeline import build

        self.config = BuildConfig.make(content=content, out=workdir / "site", disk_cache=False)
        build(self.config)
        secrets = {
            "SILLON_ADMIN_TOKEN": ADMIN,
            "SILLON_SECRET": SECRET,
            "TALLY_SIGNING_SECRET": TALLY_SECRET,
        }
        self.runtime = WorkerRuntime(
            self.config.out, workdir / "runtime", secrets, python_path=TESTS
        )
        self.url = self.runtime.url
        published = httpx.post(
            self.url + "/api/admin/publish",
            content=(self.config.private / "manifest.json").read_bytes(),
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
        assert published.status_code == 201, published.text

    def enroll(self, name: str, team: str = "blue") -> dict[str, Any]:
        return enroll(self.url, name, team)

    def manifest(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.config.private / "manifest.json").read_text())
        return found

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """Read D1's own SQLite file (Miniflare's, beside the running Worker)."""
        with sqlite3.connect(d1_file(self.runtime.state)) as db:
            return db.execute(query, params).fetchall()

    def stop(self) -> None:
        self.runtime.stop()
