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

from .cloudflare import Credentials, api_errors
from .errors import FAILED, CommandError


def credentials() -> Credentials:
    """The account, the API token and the API base, from the environment or ./.env."""
    found = Credentials.load(os.environ, Path(".env"))
    if found.missing:
        raise CommandError(f"missing {', '.join(found.missing)} (environment or .env)")
    return found


def create(out: Path) -> str:
    """Create a signing key, save it to `out` (mode 600), return its id."""
    found = credentials()
    url = f"{found.api_base}/accounts/{found.account_id}/stream/keys"
    try:
        response = httpx.post(url, headers=found.headers, timeout=30)
    except httpx.HTTPError as exc:
        message = f"cannot reach {found.api_base}: {type(exc).__name__}"
        raise CommandError(message, FAILED) from None
    body = _json(response)
    if response.status_code >= 400 or not body.get("success"):
        errors = api_errors(response.content, codes=False) or response.reason_phrase
        message = f"Stream refused to create a key ({response.status_code}): {errors}"
        raise CommandError(message, FAILED)
    result = body.get("result") or {}
    if not result.get("id") or not result.get("pem"):
        raise CommandError("Stream's answer has no key id or pem", FAILED)
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
    """What to do with the new key: the secrets to set, never its PEM."""
    return (
        f"Created Stream signing key {key_id}; its PEM is in {out} (readable by you only).\n"
        "Set it as secrets, never in git:\n"
        f"  npx wrangler secret put CLOUDFLARE_STREAM_SIGNING_KEY_ID   # {key_id}\n"
        f"  npx wrangler secret put CLOUDFLARE_STREAM_SIGNING_KEY_PEM  # 'pem' in {out}\n"
        "  npx wrangler secret put CLOUDFLARE_STREAM_CUSTOMER_CODE    # customer-<code> in URLs\n"
        "For `python build.py serve`, export the same three variables (the PEM as is, base64)."
    )
