"""Routing that does not try every route: a fixed path finds its routes in one dictionary
lookup, instead of Starlette matching some 40 path patterns in order (the API's, then serve's).

The outcome is the one Starlette's ordered scan gives: a path is indexed only when no route
before its own could match it, and only a route that matches the request whole (path and
method) is taken from the index; anything else (a path with parameters, a method the path does
not take: 405, an unknown path: 404, the site under serve's Mount) goes through the ordered
scan as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Lifespan, Receive, Scope, Send


def fixed_paths(routes: Sequence[BaseRoute]) -> dict[str, list[Route]]:
    """Each route of a fixed path (no parameters), under its path, in order; not one that a
    route with a pattern (parameters, a mount) before it could take as well."""
    index: dict[str, list[Route]] = {}
    for position, route in enumerate(routes):
        if isinstance(route, Route) and _fixed(route):
            if not _shadowed(route.path, routes[:position]):
                index.setdefault(route.path, []).append(route)
    return index


def _fixed(route: BaseRoute) -> bool:
    return isinstance(route, Route) and not route.param_convertors


def _shadowed(path: str, before: Sequence[BaseRoute]) -> bool:
    """Whether a route of `before` with a pattern could take `path` (one whose pattern this
    module cannot read counts as one that could)."""
    for route in before:
        if _fixed(route):
            continue  # another fixed path, or this one (indexed before it, in order)
        regex = getattr(route, "path_regex", None)
        if regex is None or regex.match(path):
            return True
    return False


class IndexedRouter(Router):
    """Starlette's Router, with a dictionary in front of its ordered scan."""

    def __init__(self, routes: Sequence[BaseRoute], lifespan: Lifespan[Any] | None = None) -> None:
        super().__init__(list(routes), lifespan=lifespan)
        self.fixed = fixed_paths(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for route in self.fixed.get(scope["path"], ()):
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
