"""Cloudflare Stream signed playback: a short RS256 token for the learner's open video only.

The token is a JWT signed with a Stream signing key (`POST /accounts/<id>/stream/keys` returns
its id and its PEM, base64-encoded): header `kid`, claims `sub` (the video uid), `kid`, `exp`
(at most 24 h ahead, Stream's limit), `nbf`, and optional `accessRules`. Stream's own players
take it in place of the uid: `https://customer-<code>.cloudflarestream.com/<token>/iframe`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from .jws import IssuerKey

KEY_ID_ENV = "CLOUDFLARE_STREAM_SIGNING_KEY_ID"
PEM_ENV = "CLOUDFLARE_STREAM_SIGNING_KEY_PEM"
CUSTOMER_ENV = "CLOUDFLARE_STREAM_CUSTOMER_CODE"
LIFETIME = timedelta(hours=2)  # long enough for one lesson at 1x; Stream allows 24 h at most
MAX_LIFETIME = timedelta(hours=24)
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class StreamKeys:
    key_id: str
    pem: str
    customer_code: str
    access_rules: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StreamKeys | None:
        """Read the signing key; None when Stream playback is not configured."""
        key_id, raw, code = (
            environ.get(n, "").strip() for n in (KEY_ID_ENV, PEM_ENV, CUSTOMER_ENV)
        )
        if not (key_id or raw or code):
            return None
        missing = [
            n for n, v in ((KEY_ID_ENV, key_id), (PEM_ENV, raw), (CUSTOMER_ENV, code)) if not v
        ]
        if missing:
            raise ValueError(f"Stream playback needs {', '.join(missing)} as well")
        pem = decode_pem(raw)
        signer(pem)  # a key that does not read fails here, at start, not at a playback
        return cls(key_id, pem, code)


@cache
def signer(pem: str) -> IssuerKey:
    """The Stream key, read once: signed by api/jws.py's pure-Python RS256, so the Worker (which
    cannot vendor `cryptography`) signs playback as serve does."""
    return IssuerKey.from_pem(pem, PEM_ENV)


def decode_pem(raw: str) -> str:
    """Accept the PEM as is, or base64-encoded exactly as Stream's keys endpoint returns it."""
    if "-----BEGIN" in raw:
        return raw.replace("\\n", "\n")
    try:
        decoded = base64.b64decode(raw, validate=False).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if "-----BEGIN" not in decoded:
        raise ValueError(f"{PEM_ENV} is neither a PEM nor a base64-encoded PEM")
    return decoded


def playback(
    keys: StreamKeys, uid: str, now: datetime, lifetime: timedelta = LIFETIME
) -> dict[str, Any]:
    """The signed token and the URLs the player uses for one video."""
    expires = now + min(lifetime, MAX_LIFETIME)
    claims: dict[str, Any] = {
        "sub": uid,
        "kid": keys.key_id,
        "exp": int(expires.timestamp()),
        "nbf": int((now - CLOCK_SKEW).timestamp()),
    }
    if keys.access_rules:
        claims["accessRules"] = keys.access_rules
    token = signer(keys.pem).sign(claims, {"kid": keys.key_id, "typ": "JWT"})
    base = f"https://customer-{keys.customer_code}.cloudflarestream.com/{token}"
    return {
        "token": token,
        "iframeUrl": f"{base}/iframe",
        "hlsUrl": f"{base}/manifest/video.m3u8",
        "expiresAt": expires.isoformat().replace("+00:00", "Z"),
    }
