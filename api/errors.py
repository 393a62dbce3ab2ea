"""The one error shape: `{"error": {"code": "...", "message": "..."}}` with a 4xx/5xx status."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.code, exc.message)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (404, 405...) in the same shape."""
    assert isinstance(exc, HTTPException)
    return error_response(
        exc.status_code, HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail)
    )


async def server_error(request: Request, exc: Exception) -> Response:
    """Last resort: still the one shape, never a stack trace."""
    return error_response(500, "internal_error", "Something went wrong on the server.")
