"""The one error shape: `{"error": {"code": "...", "message": "..."}}` with a 4xx/5xx status
(and `retryAfter`, whole seconds, in an error that says when to try again)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .storage import DatabaseError

log = logging.getLogger("sillon")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised anywhere in a request: answered in the one error shape, nothing written."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def api_error(request: Request, exc: Exception) -> Response:
    """An ApiError; one that says when to come back (429) has `retryAfter` seconds in the
    error and the `Retry-After` header."""
    assert isinstance(exc, ApiError)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None:
        return error_response(exc.status, exc.code, exc.message)
    error = {"code": exc.code, "message": exc.message, "retryAfter": retry_after}
    headers = {"Retry-After": str(retry_after)}
    return JSONResponse({"error": error}, status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (404, 405...): the one shape under /api/, plain text for the
    site's files."""
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/api/"):
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


DATABASE_MESSAGES = {
    "database_busy": "The database is busy (another process is writing); try again.",
    "database_fault": "The database cannot take writes now (read-only or out of space); "
    "try again later.",
}


async def database_error(request: Request, exc: Exception) -> Response:
    """Storage busy, failing or refusing: 503 with Retry-After; nothing was written (every
    write is one batch)."""
    assert isinstance(exc, DatabaseError)
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    message = DATABASE_MESSAGES.get(exc.code, "The database is unavailable; try again.")
    error = {"code": exc.code, "message": message, "retryAfter": exc.retry_after}
    headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse({"error": error}, status_code=503, headers=headers)


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client went away mid-body (or serve's body time-out cut it off): nobody reads the
    answer, nothing was written, and it is no server error."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return error_response(400, "client_disconnected", "The request body did not arrive whole.")


async def server_error(request: Request, exc: Exception) -> Response:
    """Last resort: logged, and still the one shape, never a stack trace."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on the server.")


Handler = Callable[[Request, Exception], Awaitable[Response]]
# The one handler table: every app (serve, the Worker) registers exactly this.
HANDLERS: dict[type[Exception], Handler] = {
    ApiError: api_error,
    HTTPException: http_error,
    DatabaseError: database_error,
    ClientDisconnect: client_gone,
    Exception: server_error,
}
