"""Identity: admin bearer token, one-time sign-in links, HttpOnly session cookies.

A learner's identity comes only from the session cookie (or Cloudflare Access), never from a
request body or query. Tokens are random (256 bits); the database stores only their SHA-256 and
finds them by it, so no token is ever compared in Python; the admin token, which is not stored,
is compared in constant time. The links' lifecycle is api/signin.py.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError

COOKIE = "sillon_session"
SESSION_DAYS = 30  # a session ends 30 days after its last use (sliding)
SEEN_EVERY = timedelta(hours=1)  # a session's last use is written at most this often
# The cookie outlives any session (400 days: browsers cap Max-Age there); the server decides
# when the session ends, so a session in use every day is never cut at 30 days.
COOKIE_DAYS = 400


def new_token() -> str:
    return secrets.token_urlsafe(32)


def cohort_token(cohort: str | None) -> str:
    """A new token, which names its cohort first (`<cohort>.<random>`) on a deployment of
    several (api/cohorts.py routes a request by it, reading no database); hashed whole, so a
    token whose name is changed is no token of the other cohort."""
    token = new_token()
    return f"{cohort}.{token}" if cohort else token


def cohort_of(token: str) -> str | None:
    """The cohort a token names (random tokens have no dot), or None."""
    name, dot, _ = token.partition(".")
    return name if dot else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_learner_id() -> str:
    return "u_" + secrets.token_hex(8)


def require_admin(request: Request, admin_token: str | None) -> None:
    """Accept only `Authorization: Bearer <SILLON_ADMIN_TOKEN>`, compared in constant time."""
    if not admin_token:
        raise ApiError(403, "admin_disabled", "Admin endpoints are off: set SILLON_ADMIN_TOKEN.")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), admin_token.encode()
    ):
        raise ApiError(401, "unauthorized", "A valid admin bearer token is required.")


def is_admin(request: Request, admin_token: str | None) -> bool:
    try:
        require_admin(request, admin_token)
    except ApiError:
        return False
    return True


def session_token(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and len(value) < 200 else None


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_DAYS * 86400,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, secure=request.url.scheme == "https", samesite="lax"
    )


def session_expiry(now: datetime) -> datetime:
    return now + timedelta(days=SESSION_DAYS)
