"""Stage 6, write: put the site on disk, all at once (build) or only what changed (serve)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .assets import Output
from .cache import Cache, digest


def output_digests(outputs: dict[str, Output], cache: Cache) -> dict[str, str]:
    """Hash every output, so a later build can tell what changed."""
    result: dict[str, str] = {}
    for name, value in outputs.items():
        if isinstance(value, bytes):
            result[name] = digest(value)
        else:
            result[name] = "file:" + (cache.file_digest(value) or "")
    return result


def write_atomic(out: Path, outputs: dict[str, Output]) -> None:
    """Write the whole site to a temporary directory, then swap it in for `out`.

    A build that fails before the swap leaves the previous site untouched.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
    try:
        _write_files(staging, outputs, outputs.keys())
        os.chmod(staging, 0o755)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(staging, out)


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write_changed(
    out: Path, outputs: dict[str, Output], before: dict[str, str], now: dict[str, str]
) -> list[str]:
    """Update `out` in place: write changed files (each atomically), delete vanished ones."""
    changed = [name for name, value in now.items() if before.get(name) != value]
    _write_files(out, outputs, changed)
    for name in before.keys() - now.keys():
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass
    return changed


def _write_files(root: Path, outputs: dict[str, Output], names: Iterable[str]) -> None:
    names = list(names)
    for directory in sorted({os.path.dirname(n) for n in names}):
        (root / directory).mkdir(parents=True, exist_ok=True)
    # File creation is syscall-bound; threads overlap it even under the GIL.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: _write_one(root / n, outputs[n]), names))


def _write_one(target: Path, value: Output) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    if isinstance(value, bytes):
        tmp.write_bytes(value)
    else:
        shutil.copyfile(value, tmp)
    os.replace(tmp, target)
