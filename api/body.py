"""Reading request bodies at the edge: size, type and shape checked before anything else."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from .errors import ApiError

MAX_BODY = 64 * 1024  # bytes; larger bodies are refused before being read whole
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,99}$")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """Read the raw body, refusing it (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, "too_large", f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    """Read a JSON object body (Content-Type: application/json)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    return parse_object(await read_body(request, limit))


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise ApiError(400, "invalid_json", "The body is not valid UTF-8 JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "The body must be a JSON object.")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def text(body: dict[str, Any], name: str, *, max_length: int = 200, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid", f"'{name}' must be a non-empty string.")
    if len(value) > max_length:
        raise ApiError(422, "invalid", f"'{name}' is longer than {max_length} characters.")
    return value.strip()


def event_id(body: dict[str, Any]) -> str:
    value = body.get("eventId")
    if not isinstance(value, str) or not EVENT_ID.match(value):
        raise ApiError(
            422, "invalid", "'eventId' must be 8 to 100 letters, digits or '_.:-' (a UUID is fine)."
        )
    return value


def forbid_identity(body: dict[str, Any]) -> None:
    """Identity never comes from a body: refuse one that tries, rather than ignore it."""
    for name in ("userId", "user_id", "learnerId", "teamId"):
        if name in body:
            raise ApiError(
                400, "identity_in_body", f"'{name}' is not accepted: you are who your session says."
            )
