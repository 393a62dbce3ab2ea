"""What caches may keep of the API's answers: nothing. Every answer is about one caller (their
session, their progress) or a gate's verdict, so it is `no-store` and varies with the cookie;
a handler that sets its own Cache-Control keeps it. The site's files get theirs from
builder/headers.py (`_headers`): gated files private, only fingerprinted assets immutable."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = "no-store"
NO_STORE_BYTES = NO_STORE.encode()


class PrivateAnswers:
    """ASGI middleware: `Cache-Control: no-store` (unless set) and `Vary: Cookie` on /api/."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": private(message.get("headers", []))}
            await send(message)

        await self.app(scope, receive, send_private)


def private(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers, with `Cache-Control: no-store` unless one is set and `Vary: Cookie` unless
    the answer varies with the cookie already (one pass: every API answer goes through it)."""
    found = list(headers)
    cached = varied = False
    for name, value in found:
        name = name.lower()
        if name == b"cache-control":
            cached = True
        elif name == b"vary" and b"cookie" in value.lower():
            varied = True
    if not cached:
        found.append((b"cache-control", NO_STORE_BYTES))
    if not varied:
        found.append((b"vary", b"Cookie"))
    return found
