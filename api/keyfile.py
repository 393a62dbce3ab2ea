"""The issuer key's file, for the operators' `build.py issuer-key` and a loopback serve (never
shipped to the Worker: its entry does not import this)."""

from __future__ import annotations

import os
from pathlib import Path

from .jws import IssuerKey


def create_key(path: Path, force: bool = False, bits: int = 3072) -> IssuerKey:
    """A new issuer key saved at `path`, readable by its owner only. An existing key is kept
    unless `force` (FileExistsError): certificates it signed verify only while it is published."""
    if path.exists() and not force:
        raise FileExistsError(
            f"{path}: a key is already there; certificates it signed verify only while its "
            "public half is published. Use --force to replace it anyway."
        )
    key = IssuerKey.generate(bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.pem())
    os.chmod(path, 0o600)
    return key


def development_key(path: Path) -> IssuerKey:
    """The key a serve on a loopback address signs with when SILLON_ISSUER_KEY is not set: the
    one saved at `path`, made there the first time (so a demo's certificates keep verifying
    across restarts). ValueError when the file holds no readable key."""
    if path.is_file():
        try:
            return IssuerKey.from_text(path.read_text(encoding="ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
    return create_key(path)
