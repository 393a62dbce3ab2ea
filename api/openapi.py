"""The OpenAPI 3.1 document (GET /api/openapi.json), rendered from the operations' declarations.

An `Operation` says what a route takes (its `Body`, its query and header `Params`, from
api/body.py, the same declarations that check requests) and what it answers: its replies and
the error statuses its handler adds. A body or query adds the statuses reading it may answer,
and any operation that can refuse may also be rate limited (429). The declarations themselves
are in api/operations.py; this module only renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .auth import COOKIE
from .body import Body, Params

Schema = Mapping[str, Any]
Kind = type | None | tuple[type | None, ...]  # a JSON type by its Python type; None is null

OBJECT: Schema = {"type": "object"}
ERROR = {"$ref": "#/components/schemas/Error"}
LEARNER = ("cookieAuth",)  # security: the session cookie
ADMIN = ("adminToken",)  # security: the admin bearer token
SECURITY_SCHEMES = {
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": COOKIE},
    "adminToken": {"type": "http", "scheme": "bearer"},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retryAfter": {"type": "integer", "description": "seconds before trying again"},
            },
        }
    },
}
JSON_TYPES: dict[type | None, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    None: "null",
}


def typed(kind: Kind, help: str = "") -> dict[str, Any]:
    """A JSON Schema of one type, or of several (`(int, None)`: an integer or null)."""
    if isinstance(kind, tuple):
        found: dict[str, Any] = {"type": [JSON_TYPES[k] for k in kind]}
    else:
        found = {"type": JSON_TYPES[kind]}
    return {**found, "description": help} if help else found


def schema(value: Kind | Schema) -> dict[str, Any]:
    """A schema as given, or the schema of a type."""
    return dict(value) if isinstance(value, Mapping) else typed(value)


def obj(**properties: Kind | Schema) -> dict[str, Any]:
    """An object schema with these properties (each a type or a schema)."""
    return {"type": "object", "properties": {k: schema(v) for k, v in properties.items()}}


def array(items: Kind | Schema) -> dict[str, Any]:
    return {"type": "array", "items": schema(items)}


def nullable(value: Schema) -> dict[str, Any]:
    return {"oneOf": [dict(value), {"type": "null"}]}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Reply:
    """A successful answer: its status, description and content (None: no content)."""

    status: int = 200
    description: str = "OK"
    schema: Schema | None = field(default_factory=lambda: OBJECT)
    media_type: str = "application/json"

    def document(self) -> dict[str, Any]:
        if self.schema is None:
            return {"description": self.description}
        content = {self.media_type: {"schema": dict(self.schema)}}
        return {"description": self.description, "content": content}


def ok(schema: Schema, status: int = 200, description: str = "OK") -> tuple[Reply, ...]:
    """The one reply of an operation that answers JSON."""
    return (Reply(status, description, schema),)


@dataclass(frozen=True)
class Operation:
    """One route's contract: what it takes and what it answers."""

    method: str
    path: str
    summary: str
    security: tuple[str, ...] = ()  # () is public; several are alternatives
    body: Body | None = None
    query: Params | None = None
    headers: Params | None = None
    in_path: Params | None = None  # the path's {parameters}
    replies: tuple[Reply, ...] = (Reply(),)
    errors: tuple[int, ...] = ()  # what the handler adds to what reading the request refuses

    def refusals(self) -> list[int]:
        """Every error status, in order; 429 with any (the abuse limits may answer first)."""
        found = set(self.errors)
        for part in (self.body, self.query, self.headers):
            found.update(part.refusals() if part is not None else ())
        return sorted(found | {429}) if found else []

    def document(self) -> dict[str, Any]:
        """The OpenAPI operation object."""
        found: dict[str, Any] = {"summary": self.summary}
        if self.security:
            found["security"] = [{name: []} for name in self.security]
        parameters = [
            *_parameters(self.in_path),
            *_parameters(self.query),
            *_parameters(self.headers),
        ]
        if parameters:
            found["parameters"] = parameters
        if self.body is not None:
            found["requestBody"] = self.body.document()
        error = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
        found["responses"] = {
            **{str(r.status): r.document() for r in self.replies},
            **{str(status): error for status in self.refusals()},
        }
        return found


def _parameters(params: Params | None) -> list[dict[str, Any]]:
    return params.document() if params is not None else []


def document(operations: tuple[Operation, ...], schemas: Mapping[str, Schema]) -> dict[str, Any]:
    """The OpenAPI document of these operations, with these named schemas."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation.document()
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sillon learning API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": {"Error": ERROR_SCHEMA, **{k: dict(v) for k, v in schemas.items()}},
        },
    }
