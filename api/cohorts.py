"""Several cohorts, each on a database of its own: one API per cohort, one dispatcher in front.

One D1 database runs one query at a time (about 1,000 a second), so a deployment that needs
more splits its learners into cohorts (SILLON_COHORTS), each with its own database and its own
API object (clock, caches, course version). The dispatcher sends a request to its cohort
without reading any database:

- A learner's request goes by its session cookie, whose token names its cohort
  (`<cohort>.<random>`, api/auth.cohort_token); so do every sign-in link's token (`POST
  /api/session`, read from the body) and the Tally hidden field (`POST /api/tally-hook`). The
  name is only a route: a token is hashed whole and looked up in its cohort's database alone,
  so a token of one cohort renamed to another opens nothing there (401).
- A token naming no cohort of this deployment (or none) goes to the first, the home cohort,
  where it is unknown (401) unless it was issued there before SILLON_COHORTS was set.
- An admin call (a path under /api/admin/ or /api/xapi/, or any request with an
  Authorization header) names its cohort when there are several: `X-Sillon-Cohort: <name>` or
  `?cohort=<name>`, else 422 `cohort_required`. A name routes any request (the revocation
  list's `?cohort=`); one not configured is 422 `unknown_cohort`.
- `GET /api/health` asks every cohort; `POST /api/admin/publish` naming none publishes to every
  one (a course is the same everywhere); `GET /api/certificates/<id>` asks each until one has
  it; `POST /api/email-link` goes home, and the lookup after the answer asks every cohort
  (api/signin.py). The rest (OpenAPI, the issuer's key and profile, the site) goes home.

Every cohort's API shares one rate limiter, so guesses spread over cohorts count as one caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth, tally
from .app import Api
from .body import parse_object, read_body
from .errors import ApiError, api_error
from .operations import PUBLISH

COHORT_HEADER = "x-sillon-cohort"
ADMIN_PATHS = ("/api/admin/", "/api/xapi/")
CERTIFICATES = "/api/certificates/"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def invite_token(raw: bytes) -> str | None:
    token = parse_object(raw).get("inviteToken")
    return token if isinstance(token, str) else None


def hidden_field(raw: bytes) -> str | None:
    return tally.read_submission(parse_object(raw)).token


# Requests whose token is in their body (not a cookie): how to find it.
BODY_TOKENS: dict[str, Callable[[bytes], str | None]] = {
    "/api/session": invite_token,
    "/api/tally-hook": hidden_field,
}


class Cohorts:
    """The ASGI app in front of one app per cohort (in SILLON_COHORTS order: the first is home)."""

    def __init__(self, cohorts: list[tuple[Api, ASGIApp]]) -> None:
        self.apps = {str(api.settings.cohort): (api, app) for api, app in cohorts}
        self.home = cohorts[0][1]
        for api, _ in cohorts:
            api.limiter = cohorts[0][0].limiter
            api.peers = [peer for peer, _ in cohorts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan: the home app's runs every cohort's tasks
            await self.home(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await self.dispatch(request, send)
        except ApiError as exc:
            await (await api_error(request, exc))(scope, receive, send)

    async def dispatch(self, request: Request, send: Send) -> None:
        scope, receive, path = request.scope, request.receive, request.url.path
        named = request.headers.get(COHORT_HEADER) or request.query_params.get("cohort")
        if named is not None:
            await self.app_of(named)(scope, receive, send)
        elif path == "/api/health":
            await self.health(request, send)
        elif path.startswith(ADMIN_PATHS) or "authorization" in request.headers:
            await self.admin(request, send)
        elif path.startswith(CERTIFICATES) and not path.startswith(CERTIFICATES + "status/"):
            await self.first_found(request, send)
        else:
            token = auth.session_token(request)
            if token is None and request.method == "POST" and path in BODY_TOKENS:
                raw = await read_body(request)
                token, receive = token_in(path, raw), replay(raw, receive)
            app = self.apps.get(auth.cohort_of(token) or "") if token else None
            await (app[1] if app else self.home)(scope, receive, send)

    def app_of(self, name: str) -> ASGIApp:
        if name not in self.apps:
            raise ApiError(422, "unknown_cohort", f"No cohort '{name[:40]}' here.")
        return self.apps[name][1]

    async def admin(self, request: Request, send: Send) -> None:
        """An admin call names its cohort; publishing without a name reaches every cohort."""
        if request.url.path == "/api/admin/publish" and request.method == "POST":
            await self.publish(request, send)
        elif len(self.apps) > 1:
            raise ApiError(
                422,
                "cohort_required",
                "Name the cohort: the X-Sillon-Cohort header or ?cohort= "
                f"(one of {', '.join(self.apps)}).",
            )
        else:
            await self.home(request.scope, request.receive, send)

    async def health(self, request: Request, send: Send) -> None:
        """200 when every cohort's database reads and takes writes; else the first refusal,
        naming its cohort."""
        for name, (api, _) in self.apps.items():
            try:
                await api.health(request)
            except ApiError as exc:
                exc.message = f"Cohort '{name}': {exc.message}"
                raise
        home = next(iter(self.apps.values()))[0]
        answer = {"ok": True, "database": home.db.name, "cohorts": list(self.apps)}
        await JSONResponse(answer)(request.scope, request.receive, send)

    async def publish(self, request: Request, send: Send) -> None:
        """The same manifest to every cohort, in order; the first refusal stops and is the
        answer (the cohorts before it keep the version: publishing again is harmless)."""
        raw = await read_body(request, PUBLISH.limit)
        version = None
        for _, app in self.apps.values():
            status, headers, body = await answered(app, request.scope, raw)
            if status != 201:
                await replayed((status, headers, body))(request.scope, request.receive, send)
                return
            version = json.loads(body)["version"]
        answer = {"version": version, "cohorts": list(self.apps)}
        await JSONResponse(answer, 201)(request.scope, request.receive, send)

    async def first_found(self, request: Request, send: Send) -> None:
        """A certificate by its id: the first cohort that has it (ids are random UUIDs)."""
        found: Answer | None = None
        for _, app in self.apps.values():
            found = await answered(app, request.scope, b"")
            if found[0] != 404:
                break
        assert found is not None
        await replayed(found)(request.scope, request.receive, send)


def token_in(path: str, raw: bytes) -> str | None:
    """The token a body carries; None for a body its endpoint will refuse anyway."""
    try:
        return BODY_TOKENS[path](raw)
    except (ApiError, ValueError):
        return None


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then listens as before (a disconnect)."""
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def answered(app: ASGIApp, scope: Scope, body: bytes) -> Answer:
    """Run a request through one cohort's app, keeping its answer."""
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    async def disconnected() -> Message:
        return {"type": "http.disconnect"}

    await app(dict(scope), replay(body, disconnected), send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], list(start.get("headers", [])), content


def replayed(answer: Answer) -> Response:
    """A kept answer, as it was."""
    status, headers, body = answer
    response = Response(body, status)
    response.raw_headers = headers
    return response
