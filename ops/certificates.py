"""Operator commands for certificates: make the issuer's key, list certificates, revoke one.

`python build.py issuer-key` writes a new RSA key (PKCS#1 PEM, mode 600) for SILLON_ISSUER_KEY;
`python build.py certificates list|revoke` act on the local database with the API's own
statements (a revocation is what POST /api/admin/certificates/<id>/revoke does).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from api import issuer, keyfile, sql
from api.app import Api
from api.errors import ApiError
from api.jws import IssuerKey
from api.settings import Settings
from api.sqlite import SQLiteDatabase

from .errors import CommandError


def create_key(path: Path, force: bool = False, bits: int = 3072) -> IssuerKey:
    """A new issuer key saved at `path` (mode 600); an existing one is kept unless `force`."""
    try:
        return keyfile.create_key(path, force, bits)
    except FileExistsError as exc:
        raise CommandError(str(exc)) from None


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
