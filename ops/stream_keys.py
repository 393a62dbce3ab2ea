"""`python build.py stream-key`: create a Cloudflare Stream signing key with Stream's API.

Signed playback (api/stream.py) needs a signing key: `POST {CLOUDFLARE_API_BASE}/accounts/<id>/
stream/keys` creates one and answers its id and its PEM (base64-encoded). The PEM is written to
a file only its owner can read, never printed; the command prints the secrets to set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"


class StreamKeyError(Exception):
    """A one-line error for the operator (exit 2 for setup, 1 for the server)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def credentials() -> tuple[str, str, str]:
    """Account id, API token and API base, from the environment or ./.env."""
    try:
        from dotenv import dotenv_values

        values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        values = {}
    values.update({k: v for k, v in os.environ.items() if k.startswith("CLOUDFLARE_")})
    account, token = (
        values.get("CLOUDFLARE_ACCOUNT_ID", ""),
        values.get("CLOUDFLARE_STREAM_API_TOKEN", ""),
    )
    missing = [
        n
        for n, v in (("CLOUDFLARE_ACCOUNT_ID", account), ("CLOUDFLARE_STREAM_API_TOKEN", token))
        if not v
    ]
    if missing:
        raise StreamKeyError(f"missing {', '.join(missing)} (environment or .env)")
    return account, token, values.get("CLOUDFLARE_API_BASE", DEFAULT_API_BASE).rstrip("/")


def create(out: Path) -> str:
    """Create a signing key, save it to `out` (mode 600), return its id."""
    account, token, base = credentials()
    url = f"{base}/accounts/{account}/stream/keys"
    try:
        response = httpx.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except httpx.HTTPError as exc:
        raise StreamKeyError(f"cannot reach {base}: {type(exc).__name__}", 1) from None
    body = _json(response)
    if response.status_code >= 400 or not body.get("success"):
        errors = (
            "; ".join(str(e.get("message", e)) for e in body.get("errors") or [])
            or response.reason_phrase
        )
        raise StreamKeyError(
            f"Stream refused to create a key ({response.status_code}): {errors}", 1
        )
    result = body.get("result") or {}
    if not result.get("id") or not result.get("pem"):
        raise StreamKeyError("Stream's answer has no key id or pem", 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"id": result["id"], "pem": result["pem"]}, handle)
    return str(result["id"])


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def instructions(key_id: str, out: Path) -> str:
    return (
        f"Created Stream signing key {key_id}; its PEM is in {out} (readable by you only).\n"
        "Set it as secrets, never in git:\n"
        f"  npx wrangler secret put CLOUDFLARE_STREAM_SIGNING_KEY_ID   # {key_id}\n"
        f"  npx wrangler secret put CLOUDFLARE_STREAM_SIGNING_KEY_PEM  # 'pem' in {out}\n"
        "  npx wrangler secret put CLOUDFLARE_STREAM_CUSTOMER_CODE    # customer-<code> in URLs\n"
        "For `python build.py serve`, export the same three variables (the PEM as is, base64)."
    )
