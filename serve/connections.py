"""serve's connections: idle and slow ones are closed, and past a cap requests are refused.

uvicorn arms its keep-alive time-out only after a response, so a connection that never sends,
or sends its request a byte at a time, is held forever (issue 16: 200 of them held serve). The
protocol classes here are uvicorn's own (h11, or httptools when it is the one configured) with
one read deadline per connection, in the phase the connection is in:

- head: from connect, or from the end of the previous response, to the end of the request's
  head; then the connection is closed without a word (nothing was asked);
- body: from the end of the head to the end of the body, while the app waits for it; then 408
  in the one error shape, and the connection is closed;
- busy: the app has the whole request, or is answering: no deadline, so a video's range
  response or the live-reload event stream is never cut;
- idle after a response: uvicorn's keep-alive time-out (`Config(timeout_keep_alive=...)`);
  the head deadline also runs from the end of the response, so bytes that end the idle
  keep-alive but never complete a head are closed too.

Beyond `max_connections` open connections (or requests in flight), a request is answered 503
with `Retry-After: 1` and `Connection: close` (the one error shape under /api/, plain text for
the site), the way uvicorn's `limit_concurrency` would in plain text. The limits are
`api.settings.ConnectionLimits`, read from SILLON_*_TIMEOUT and SILLON_MAX_CONNECTIONS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, ClassVar, cast

import h11
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.errors import ApiError, api_error, error_response
from api.settings import ConnectionLimits

log = logging.getLogger("sillon.serve")
HEAD, BODY, BUSY = "head", "body", "busy"  # a connection's phases (BUSY: no deadline)
IMPLEMENTATIONS = ("auto", "h11", "httptools")  # uvicorn's HTTP/1.1 protocols, as `http=` names
FULL = "The server holds as many connections as it takes; try again in a second."


class Deadline:
    """One connection's read deadline: started on entering the head or body phase, none while
    busy; `expire(phase)` is called when it passes."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limits: ConnectionLimits,
        expire: Callable[[str], None],
    ) -> None:
        self.loop, self.expire = loop, expire
        self.seconds = {HEAD: limits.head, BODY: limits.body}
        self.phase = ""
        self.timer: asyncio.TimerHandle | None = None

    def enter(self, phase: str, again: bool = False) -> None:
        """Start `phase`'s deadline, unless the connection is in that phase already (`again`:
        start it anew all the same)."""
        if phase == self.phase and not again:
            return
        self.cancel()
        self.phase = phase
        if phase in self.seconds:
            self.timer = self.loop.call_later(self.seconds[phase], self.expire, phase)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Full(ApiError):
    """serve holds its maximum of connections: come back in a second."""

    retry_after = 1

    def __init__(self) -> None:
        super().__init__(503, "unavailable", FULL)


async def refuse(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """503 and close: the one error shape under /api/, plain text for the site's files."""
    request = Request(cast(dict[str, Any], scope))
    response: Response
    if request.url.path.startswith("/api/"):
        response = await api_error(request, Full())
    else:
        response = PlainTextResponse(FULL, status_code=503, headers={"Retry-After": "1"})
    response.headers["Connection"] = "close"
    await response(request.scope, cast(Any, receive), cast(Any, send))


class Cap:
    """At most `most` open connections (and requests in flight) are served, shared by every
    connection of a server; a request beyond is refused."""

    def __init__(self, most: int) -> None:
        self.most, self.full = most, False

    def guard(self, app: ASGI3Application, state: ServerState) -> ASGI3Application:
        """`app`, or the refusal when the server holds more than its maximum."""

        async def capped(
            scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
        ) -> None:
            if len(state.connections) <= self.most and len(state.tasks) <= self.most:
                self.full = False
                return await app(scope, receive, send)
            if not self.full:  # said once each time serve fills up, not once per request
                log.warning("%d connections open: refusing requests (503)", len(state.connections))
            self.full = True
            await refuse(scope, receive, send)

        return capped


def timed_out(seconds: int) -> bytes:
    """The whole 408 answer to a body that did not arrive in time, as sent."""
    message = f"The request's body did not arrive within {seconds} s."
    response = error_response(408, "request_timeout", message)
    lines = [b"HTTP/1.1 408 Request Timeout", *(n + b": " + v for n, v in response.raw_headers)]
    return b"\r\n".join([*lines, b"connection: close", b"", response.body])


class Guarded:
    """What both guarded protocols add to uvicorn's: the deadline of the phase the connection
    is in (`phase()`, read from the protocol's own state) and the cap; `expire` closes it."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    cap: ClassVar[Cap] = Cap(ConnectionLimits.max_connections)
    loop: asyncio.AbstractEventLoop
    app: Any
    server_state: ServerState

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = Deadline(self.loop, self.limits, self.expire)
        self.app = self.cap.guard(self.app, self.server_state)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.deadline.enter(HEAD)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        self.deadline.enter(self.phase())

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.deadline.enter(self.phase(), again=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def phase(self) -> str:
        raise NotImplementedError

    def expire(self, phase: str) -> None:
        raise NotImplementedError


class GuardedH11(Guarded, H11Protocol):
    """uvicorn's h11 protocol with the deadlines and the cap (phases from h11's states)."""

    def phase(self) -> str:
        theirs, ours = self.conn.their_state, self.conn.our_state
        if theirs is h11.IDLE:
            return HEAD
        return BODY if theirs is h11.SEND_BODY and ours is not h11.SEND_BODY else BUSY

    def expire(self, phase: str) -> None:
        if self.transport.get_protocol() is not self:
            return  # upgraded to a WebSocket, which has its own time-outs
        if phase == BODY and self.conn.our_state is h11.SEND_RESPONSE:
            self.cycle.disconnected = True  # the app's own answer, if any, is dropped
            self.transport.write(timed_out(self.limits.body))
        self.transport.close()


if TYPE_CHECKING or find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpTools(Guarded, HttpToolsProtocol):
        """uvicorn's httptools protocol with the deadlines and the cap (phases from its
        request cycles)."""

        def phase(self) -> str:
            cycle = self.cycle
            if cycle is None or cycle.response_complete:
                return HEAD
            reading = cycle.more_body and not cycle.response_started and not self.pipeline
            return BODY if reading else BUSY

        def expire(self, phase: str) -> None:
            if self.transport.get_protocol() is not self:
                return  # upgraded to a WebSocket, which has its own time-outs
            if phase == BODY and not self.cycle.response_started:
                self.cycle.disconnected = True  # the app's own answer, if any, is dropped
                self.transport.write(timed_out(self.limits.body))
            self.transport.close()


def protocol_class(limits: ConnectionLimits, http: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol named `http` (auto: httptools when installed, else h11, as
    uvicorn chooses), guarded by `limits`: pass it as `uvicorn.Config(http=...)`."""
    if http not in IMPLEMENTATIONS:
        raise ValueError(f"no guarded HTTP protocol {http!r}: one of {', '.join(IMPLEMENTATIONS)}")
    httptools = find_spec("httptools") is not None
    if http == "httptools" and not httptools:
        raise ValueError("uvicorn's httptools protocol needs the httptools package")
    base = GuardedHttpTools if httptools and http != "h11" else GuardedH11
    guarded = type(base.__name__, (base,), {"limits": limits, "cap": Cap(limits.max_connections)})
    return cast(type[asyncio.Protocol], guarded)
