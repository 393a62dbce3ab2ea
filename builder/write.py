"""Stage 6, write: put the site on disk, all at once (build) or only what changed (serve)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .assets import Output
from .cache import Cache, digest


def output_digests(outputs: dict[str, Output], cache: Cache) -> dict[str, str]:
    """Hash every output, so a later build can tell what changed."""
    result: dict[str, str] = {}
    for name, value in outputs.items():
        if isinstance(value, bytes):
            known = getattr(value, "digest", None)  # rendered pages carry theirs
            result[name] = known if known is not None else digest(value)
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
        _write_files(staging, outputs, outputs.keys(), direct=True)
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


def _write_files(
    root: Path, outputs: dict[str, Output], names: Iterable[str], direct: bool = False
) -> None:
    """Write files under root; `direct` when nobody reads root yet (a staging directory)."""
    names = list(names)
    for directory in sorted({os.path.dirname(n) for n in names}):
        (root / directory).mkdir(parents=True, exist_ok=True)
    write = _write_direct if direct else _write_replace
    for name in names:  # threads were measured: no faster than this loop
        write(os.path.join(root, name), outputs[name])


def _write_direct(target: str, value: Output) -> None:
    if isinstance(value, bytes):
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, value)
        finally:
            os.close(fd)
    else:
        shutil.copyfile(value, target)


def _write_replace(target: str, value: Output) -> None:
    """Write beside the target and rename over it, so a reader never sees half a file."""
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.tmp")
    _write_direct(tmp, value)
    os.replace(tmp, target)
