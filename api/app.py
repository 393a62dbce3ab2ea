"""The API's routes. The learning endpoints arrive with the API issue; this is the frame."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import db


@dataclass
class Settings:
    """What the API needs from its environment (SILLON_DB, SILLON_ADMIN_TOKEN)."""

    db_path: str
    admin_token: str | None


def error(status: int, code: str, message: str) -> JSONResponse:
    """The one error shape every API error uses."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def routes(settings: Settings) -> list[BaseRoute]:
    """Return the API's routes, bound to one database connection."""
    connection: sqlite3.Connection = db.connect(settings.db_path)

    async def health(request: Request) -> Response:
        if not db.healthy(connection):
            return error(503, "database_unavailable", "The database does not answer.")
        return JSONResponse({"ok": True, "database": "sqlite"})

    async def not_found(request: Request) -> Response:
        raise HTTPException(404)

    return [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    """Render HTTP errors under /api in the one error shape."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error(exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail)
