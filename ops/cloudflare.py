"""Cloudflare's API as the operator commands see it: the credentials and its error answers.

The account id, the Stream API token and the API base are read once, here, from the environment
and then from a `.env` file (`stream_upload.py`, `build.py upload`, `build.py stream-key`). The
token is sent in a header and never printed: `Credentials`' repr leaves it out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"
ACCOUNT_VAR = "CLOUDFLARE_ACCOUNT_ID"
TOKEN_VAR = "CLOUDFLARE_STREAM_API_TOKEN"
BASE_VAR = "CLOUDFLARE_API_BASE"


@dataclass(frozen=True)
class Credentials:
    """The account, the API token (possibly blank: see `missing`) and the API base."""

    account_id: str
    token: str = field(repr=False)
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def load(cls, environ: Mapping[str, str], dotenv_path: Path) -> Credentials:
        """Read each variable from the environment, else from the `.env` file (if any)."""
        from_file: dict[str, str | None] = {}
        if dotenv_path.is_file():
            from_file = dotenv_values(dotenv_path)

        def value(name: str) -> str:
            return (environ.get(name) or from_file.get(name) or "").strip()

        api_base = (value(BASE_VAR) or DEFAULT_API_BASE).rstrip("/")
        return cls(value(ACCOUNT_VAR), value(TOKEN_VAR), api_base)

    @property
    def missing(self) -> list[str]:
        """The variables that are required and unset (each command words its own message)."""
        return [
            name
            for name, got in ((ACCOUNT_VAR, self.account_id), (TOKEN_VAR, self.token))
            if not got
        ]

    @property
    def headers(self) -> dict[str, str]:
        """The header that carries the token."""
        return {"Authorization": f"Bearer {self.token}"}


def api_errors(body: bytes | str | None, codes: bool = True) -> str:
    """Cloudflare's `{"errors": [{"code", "message"}]}` as text, or a short plain body."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        plain = " ".join(text.split())
        return plain[:200] if plain and "<" not in plain else ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if isinstance(error, dict) and error.get("message"):
            code = f" (code {error['code']})" if codes and "code" in error else ""
            parts.append(f"{error['message']}{code}")
    return "; ".join(parts)


def http_error(status: int, body: bytes | str | None) -> str:
    """`the server answered 401 Unauthorized: Authentication error (code 10000)`."""
    try:
        phrase = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = str(status)
    detail = api_errors(body)
    message = f"the server answered {phrase}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        message += f" (check {TOKEN_VAR} and {ACCOUNT_VAR})"
    return message
