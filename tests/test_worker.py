"""Staging and bundling the Python Worker (`python build.py worker`, `wrangler deploy --dry-run`).

The Worker itself runs for real, in the runtime's Pyodide on Miniflare's D1, in
tests/test_worker_runtime.py; this file checks what would be uploaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.course import make_course

from builder.config import BuildConfig
from builder.pipeline import build

pytestmark = pytest.mark.wrangler


def course_site(tmp_path: Path) -> BuildConfig:
    config = BuildConfig.make(
        content=make_course(tmp_path / "course", duration=120),
        out=tmp_path / "site",
        disk_cache=False,
    )
    build(config)
    return config


def test_worker_deploy_dry_run(tmp_path: Path) -> None:
    """The real wrangler bundles the staged Python Worker with its vendored packages."""
    from support.wrangler import run as wrangler

    from ops.worker import stage

    config = course_site(tmp_path)
    staged = stage(tmp_path / "worker", config.out)
    modules = tmp_path / "worker/python_modules"
    for package in ("starlette", "workers", "tzdata/zoneinfo/Europe"):
        assert (modules / package).is_dir(), package  # the SDK and a time-zone database
    assert not list(modules.rglob("*.pyc")), "no CPython bytecode in the upload"
    done = wrangler(
        ["deploy", "--dry-run", "-c", str(staged), "--outdir", str(tmp_path / "dist")],
        staged.parent,
        tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for expected in (
        "api/app.py",
        "api/gate.py",
        "api/d1.py",
        "Vendored Modules",
        "env.DB (sillon)",
        "env.ASSETS",
        "--dry-run: exiting now.",
    ):
        assert expected in output, expected
    assert ".html" not in output.split("Read ")[0], "no page of the site is bundled as a module"
    assert (tmp_path / "dist" / "worker.py").is_file(), "the entry is in the bundle"
