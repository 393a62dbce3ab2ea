"""Requests at the edge: a body read within its limits, then a body or a query checked against
its declaration (`Body`, `Params` of `Field`s, declared per operation in api/operations.py),
which the OpenAPI document renders too, so what is refused and what is documented agree.

A body is refused before anything else reads it: past 64 KiB (413), not application/json (415),
not UTF-8 JSON or holding NaN/Infinity (400), not an object (422), naming an identity (400).
Then each field in declaration order, one 422 message per failure: free text must be a
non-empty string within its length (it is stripped); an exact value must match its pattern or
be one of its choices. A field whose rule needs the step, the session or the course
(`checked_by`) is declared for the document and checked there, after identity and replays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .errors import ApiError

MAX_BODY = 64 * 1024  # bytes; larger bodies are refused before being read whole
IDENTITY = ("userId", "user_id", "learnerId", "teamId")  # never from a learner's body


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
    """A JSON object from UTF-8 bytes: 400 when it is no JSON, 422 when it is no object."""
    try:
        data = _DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise ApiError(400, "invalid_json", "The body is not valid UTF-8 JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "The body must be a JSON object.")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with a keyword argument builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def forbid_identity(body: Mapping[str, Any]) -> None:
    """Identity never comes from a body: refuse one that tries, rather than ignore it."""
    for name in IDENTITY:
        if name in body:
            raise ApiError(
                400, "identity_in_body", f"'{name}' is not accepted: you are who your session says."
            )


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid", message)


@dataclass(frozen=True)
class Field:
    """One named value of a body or a query: its rules, and the help the document shows."""

    name: str
    help: str = ""
    required: bool = True
    max_length: int | None = None
    pattern: str | None = None  # an exact value, matched whole
    choices: tuple[str, ...] = ()  # an exact value, one of these
    default: str | None = None
    format: str | None = None  # documented only (email, date-time)
    check: Callable[[str], bool] | None = None  # a last rule on the checked value
    message: str = ""  # the refusal when pattern, choices or check fail; may use {value!r}
    checked_by: str = ""  # the module whose rule needs the step or the session: not read here
    shape: Mapping[str, Any] | None = None  # the JSON Schema of a value checked elsewhere

    def __post_init__(self) -> None:
        if self.shape is not None and not self.checked_by:
            raise ValueError(f"{self.name}: only a field checked elsewhere has a free shape")

    @property
    def exact(self) -> bool:
        """A token (pattern or choices), compared as sent, rather than free text (stripped)."""
        return bool(self.pattern or self.choices)

    def read(self, raw: object, missing: str, too_long: str) -> str:
        """The checked value (free text stripped; "" when optional and absent), or a 422."""
        if raw is None and not self.required:
            return ""
        if self.exact:
            if not isinstance(raw, str) or not self._matches(raw):
                raise self._refusal(raw)
            return raw
        if not isinstance(raw, str) or not raw.strip():
            raise invalid(missing.format(name=self.name))
        if self.max_length is not None and len(raw) > self.max_length:
            raise invalid(too_long.format(name=self.name, max_length=self.max_length))
        value = raw.strip()
        if self.check is not None and not self.check(value):
            raise self._refusal(value)
        return value

    def _matches(self, value: str) -> bool:
        if self.choices and value not in self.choices:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None

    def _refusal(self, value: object) -> ApiError:
        if self.message:
            return invalid(self.message.format(value=value))
        if self.choices:
            return invalid(f"'{self.name}' must be one of {', '.join(self.choices)}.")
        return invalid(f"'{self.name}' is not valid.")

    def schema(self) -> dict[str, Any]:
        """The value's JSON Schema (without the help, which a parameter holds beside it)."""
        if self.shape is not None:
            return dict(self.shape)
        free_text = not self.exact and not self.checked_by  # read() refuses "" and blanks
        rules: dict[str, Any] = {
            "enum": list(self.choices) or None,
            "default": self.default,
            "pattern": self.pattern,
            "format": self.format,
            "minLength": 1 if free_text else None,
            "maxLength": self.max_length,
        }
        return {"type": "string", **{k: v for k, v in rules.items() if v is not None}}

    def described(self) -> dict[str, Any]:
        """The schema with the help, as a body's property."""
        schema = self.schema()
        return {**schema, "description": self.help} if self.help else schema


def _checked(
    fields: tuple[Field, ...],
    data: Mapping[str, Any],
    words: tuple[str, str],
    defaults: Mapping[str, str],
) -> dict[str, str]:
    """Each field checked here, in declaration order (the first failure is the answer); an
    absent one (or null) is its default, which is checked too."""
    found: dict[str, str] = {}
    for field in fields:
        if not field.checked_by:
            raw = data.get(field.name)
            raw = defaults.get(field.name, field.default) if raw is None else raw
            found[field.name] = field.read(raw, *words)
    return found


@dataclass(frozen=True)
class Received:
    """A JSON body read and checked: its checked fields by name, and the whole object for the
    fields that are checked later (`checked_by`)."""

    data: dict[str, Any]
    values: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values[name]


class Body:
    """A request body: a JSON object of declared fields, or (`json=False`) bytes the handler
    reads itself (a manifest, a signed webhook), documented as an object."""

    missing = "'{name}' must be a non-empty string."
    too_long = "'{name}' is longer than {max_length} characters."

    def __init__(
        self,
        *fields: Field,
        forbid_identity: bool = False,
        json: bool = True,
        limit: int = MAX_BODY,
        help: str = "",
    ) -> None:
        self.fields, self.forbid_identity, self.json = fields, forbid_identity, json
        self.limit, self.help = limit, help

    async def read(self, request: Request, **defaults: str) -> Received:
        """Read the JSON object and check it (`defaults` stand in for absent fields)."""
        data = await read_json(request, self.limit)
        return Received(data, self.check(data, **defaults))

    async def read_bytes(self, request: Request) -> bytes:
        """Read the raw body (within its limit) for a handler that parses it itself."""
        return await read_body(request, self.limit)

    def check(self, data: Mapping[str, Any], **defaults: str) -> dict[str, str]:
        """The fields checked here; `defaults` stand in for absent ones (and are checked)."""
        if self.forbid_identity:
            forbid_identity(data)
        return _checked(self.fields, data, (self.missing, self.too_long), defaults)

    def refusals(self) -> tuple[int, ...]:
        """What reading it may answer."""
        return (400, 413, 415, 422) if self.json else (413,)

    def document(self) -> dict[str, Any]:
        """The OpenAPI requestBody."""
        schema: dict[str, Any] = {"type": "object"}
        if self.fields:
            schema["properties"] = {f.name: f.described() for f in self.fields}
            schema["required"] = [f.name for f in self.fields if f.required]
        help = self.help
        if self.forbid_identity:
            names = f"{', '.join(IDENTITY[:-1])} or {IDENTITY[-1]}"
            help = f"{help} Identity comes from the session: a body naming {names} is a 400."
            help = help.strip()
        found: dict[str, Any] = {"required": True}
        if help:
            found["description"] = help
        return {**found, "content": {"application/json": {"schema": schema}}}


class Params:
    """A request's query (or, with `location="header"`, header) parameters."""

    missing = "'{name}' is required."
    too_long = "'{name}' is at most {max_length} characters."

    def __init__(self, *fields: Field, location: str = "query") -> None:
        self.fields, self.location = fields, location

    def check(self, query: Mapping[str, str]) -> dict[str, str]:
        """The parameters checked here, absent ones as their default."""
        return _checked(self.fields, query, (self.missing, self.too_long), {})

    def refusals(self) -> tuple[int, ...]:
        return (422,) if any(not f.checked_by for f in self.fields) else ()

    def document(self) -> list[dict[str, Any]]:
        """The OpenAPI parameters."""
        return [
            {
                "name": f.name,
                "in": self.location,
                "required": f.required,
                "schema": f.schema(),
                **({"description": f.help} if f.help else {}),
            }
            for f in self.fields
        ]
