"""Tally steps on this machine: Tally's servers cannot reach a serve on a loopback address, so
serve answers in their place, for the signed-in learner only.

On such a serve the player's Tally step offers "simulate a Tally response" (serve/simulate.js,
added to its pages); `POST /_sillon/tally-simulate` builds the webhook Tally would send for the
learner's open Tally step (the signed hidden field, a score), signs it as Tally does and posts it
to the real `/api/tally-hook` of this very app: the same checks and the same awards as a real
response. Serve only: the Worker has no such route.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from api import tally
from api.body import read_json
from api.context import Context
from api.errors import ApiError
from api.rules import finite_number
from builder.i18n import STRINGS

from .author import Author

SCRIPT = Path(__file__).resolve().parent / "simulate.js"
SCRIPT_URL = "/_sillon/simulate.js"


def webhook(token: str, form: str, score: float) -> bytes:
    """The body Tally's webhook sends for a response: the hidden field and the score."""
    fields = [
        {"key": "sillon", "label": tally.HIDDEN_FIELD, "type": "HIDDEN_FIELDS", "value": token},
        {"key": "score", "label": "score", "type": "CALCULATED_FIELDS", "value": score},
    ]
    data = {"responseId": "local-" + uuid.uuid4().hex, "formId": form, "fields": fields}
    return json.dumps({"eventType": "FORM_RESPONSE", "data": data}).encode()


def percent(value: object) -> float:
    """A simulated score: a number from 0 to 100 (422 otherwise)."""
    if not finite_number(value) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ApiError(422, "invalid", "'score' must be a number from 0 to 100.")
    return float(value)


class TallySimulator:
    """`POST /_sillon/tally-simulate` and the player's script, on a loopback serve only."""

    def __init__(self, api: Context, author: Author) -> None:
        self.api, self.author = api, author
        self.app: ASGIApp | None = None  # the whole app, set once built: the hook goes through it

    def routes(self) -> list[Route]:
        return [
            Route("/_sillon/tally-simulate", self.simulate, methods=["POST"]),
            Route(SCRIPT_URL, self.script, methods=["GET"]),
            Route("/_sillon/strings/{language}", self.strings, methods=["GET"]),
        ]

    async def simulate(self, request: Request) -> Response:
        """Post the signed webhook of a response to the learner's open Tally step."""
        secret = self.api.settings.tally_secret
        if not self.author.local(request.scope) or self.app is None or secret is None:
            return PlainTextResponse("Not Found", status_code=404)
        body = await read_json(request)
        learner, course = await self.api.placed(request)
        step = self.api.learning.open_step(learner, course, body.get("stepId"))
        score = percent(body.get("score"))
        if not step.tally:
            raise ApiError(422, "not_a_tally_quiz", f"Step '{step.id}' is not a Tally quiz.")
        settings = self.api.settings
        token = tally.hidden_token(
            settings.secret, learner["id"], step.id, self.api.clock().timestamp(), settings.cohort
        )
        raw = webhook(token, step.tally, score)
        headers = {
            "Content-Type": "application/json",
            "Tally-Signature": tally.sign_webhook(secret, raw),
        }
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 0))
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            answer = await client.post("/api/tally-hook", content=raw, headers=headers)
        return JSONResponse(answer.json(), status_code=answer.status_code)

    async def script(self, request: Request) -> Response:
        return FileResponse(
            SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    async def strings(self, request: Request) -> Response:
        """The script's words, in the course's language."""
        found = STRINGS.get(request.path_params["language"], STRINGS["en"])
        return JSONResponse({k: v for k, v in found.items() if k.startswith("serve_")})
