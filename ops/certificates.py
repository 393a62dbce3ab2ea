"""Operator commands for certificates: make the issuer's key, list certificates, revoke one.

`python build.py issuer-key` writes a new RSA key (PKCS#1 PEM, mode 600) for SILLON_ISSUER_KEY;
`python build.py certificates list|revoke` act on the local database with the API's own
statements (a revocation is what POST /api/admin/certificates/<id>/revoke does).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from api import issuer, sql
from api.app import Api
from api.errors import ApiError
from api.jws import IssuerKey
from api.settings import Settings
from api.sqlite import SQLiteDatabase

from .errors import CommandError


def create_key(path: Path, force: bool = False, bits: int = 3072) -> IssuerKey:
    """A new issuer key saved at `path`, readable by its owner only. An existing key is kept
    unless `force`: certificates signed with it stop verifying once its JWKS is gone."""
    if path.exists() and not force:
        raise CommandError(
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
    across restarts)."""
    if path.is_file():
        try:
            return IssuerKey.from_text(path.read_text(encoding="ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from None
    return create_key(path)


def instructions(key: IssuerKey, path: Path) -> str:
    return (
        f"Saved the issuer key (RSA, kid {key.thumbprint}) to {path} (mode 600). Keep a copy: "
        "certificates verify against it for as long as it is published.\n"
        f'  serve:  export SILLON_ISSUER_KEY="$(cat {path})"\n'
        f"  Worker: npx wrangler secret put SILLON_ISSUER_KEY < {path}"
    )


def _api(settings: Settings) -> Api:
    return Api(settings, SQLiteDatabase(settings.db_path))


def listed(settings: Settings) -> list[dict[str, Any]]:
    rows = asyncio.run(_api(settings).db.execute(sql.certificates_listed())).rows
    return [issuer.listed_row(row) for row in rows]


def table(rows: list[dict[str, Any]]) -> str:
    """A plain text table for the terminal."""
    if not rows:
        return "(no certificates)"
    columns = ["id", "name", "teamId", "issuedAt", "revokedAt"]
    cells = [[str(row[c] or "") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def revoke(settings: Settings, certificate_id: str, reason: str) -> dict[str, Any]:
    """Revoke a certificate for good (the admin API's revoke)."""
    if len(reason) > 500:
        raise CommandError("--reason: at most 500 characters")
    try:
        row = asyncio.run(issuer.revoke_certificate(_api(settings), certificate_id, reason))
    except ApiError as exc:
        raise CommandError(exc.message) from None
    return issuer.listed_row(row)
