"""The harness under tests/test_model.py's state machine: the real app (support.client.cohort)
and the model (support.model_world.World) side by side. Every request goes through `send`,
which checks the error rules (support.invariants); every answer is compared with the model's
prediction, made on a copy of the world, and the predicted world is then taken."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from hypothesis.stateful import RuleBasedStateMachine
from starlette.testclient import TestClient

from support import invariants
from support.client import Call, Cohort, cohort, event, in_flight
from support.model import Expect, Learner, read_course, variants
from support.model_requests import no_constant
from support.model_world import World, record


class ModelDriver(RuleBasedStateMachine):
    """The app, its clock and the model; the rules are the subclass's (test_model.Progression)."""

    content: Path  # the course, written once by the test
    workdir: Path
    manifests: dict[str, str] = {}
    runs = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).runs += 1
        self.tmp = self.workdir / f"run-{self.runs}"
        self.stack = ExitStack()
        self.app: Cohort = self.stack.enter_context(cohort(self.content, self.tmp))
        if not self.manifests:
            base = json.loads((self.tmp / "private/manifest.json").read_text())
            type(self).manifests = variants(base)
        self.courses = {n: read_course(json.loads(m)) for n, m in self.manifests.items()}
        self.world = World(self.courses["base"], self.app.clock.now)
        self.browsers: dict[str, TestClient] = {}
        self.anonymous = TestClient(self.app.client.app, base_url="http://testserver")
        self.last: dict[str, tuple[str, bytes]] = {}  # the learner's last event (url, body)
        self.responses: list[str] = []  # Tally response ids used so far
        self.seen: dict[str, invariants.Seen] = {}  # where each learner stood at the last check

    def teardown(self) -> None:
        self.stack.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers --

    @property
    def people(self) -> list[Learner]:
        return list(self.world.learners.values())

    def pick(self, who: int) -> Learner:
        return self.people[who % len(self.people)]

    def client_of(self, learner: Learner) -> TestClient:
        return self.browsers.get(learner.uid, self.anonymous)

    def send(self, client: TestClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a 4xx must be in the error shape and must have written nothing."""
        before = invariants.snapshot(self.app.db)
        response: httpx.Response = client.request(method, url, **kwargs)
        invariants.never_a_server_error(response)
        if response.status_code >= 400:
            invariants.errors_have_one_shape(response)
            invariants.errors_change_nothing(response, before, invariants.snapshot(self.app.db))
        return response

    def expect(self, response: httpx.Response, expected: Expect, world: World) -> None:
        invariants.answers_are_predicted(response, expected)
        self.settle(response, expected, world)

    def settle(self, response: httpx.Response, expected: Expect, world: World) -> None:
        """Take the predicted world, and remember the answer a replay must give back."""
        record(world, expected, response)
        self.world = world

    def predict(self, act: Callable[[World], Expect]) -> tuple[Expect, World]:
        """Play a request on a copy of the model (a refusal changes only the limit buckets)."""
        world = copy.deepcopy(self.world)
        return act(world), world

    def cookie_of(self, learner: Learner) -> str | None:
        browser = self.browsers.get(learner.uid)
        return browser.cookies.get("sillon_session") if browser else None

    def eid_for(self, learner: Learner, choice: str, index: int) -> str:
        answered = sorted({*learner.events, *(eid for eid, _ in learner.moves)})
        if choice == "replay" and answered:
            return answered[index % len(answered)]
        if choice == "other":
            others = [e for p in self.people if p is not learner for e in p.events]
            if others:
                return sorted(others)[index % len(others)]
        if choice == "short":
            return "short"
        return event()

    def step_for(self, learner: Learner, choice: object) -> object:
        return learner.open if choice == "open" else choice

    def post_event(self, learner: Learner, url: str, kind: str, raw: bytes) -> None:
        try:
            body: object = json.loads(raw, parse_constant=no_constant)
        except ValueError:
            body = ValueError
        cookie = self.cookie_of(learner)
        expected, world = self.predict(
            lambda w: w.event(w.learners.get(learner.uid), kind, body, cookie)
        )
        self.last[learner.uid] = (url, raw)
        response = self.send(
            self.client_of(learner),
            "POST",
            url,
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        self.expect(response, expected, world)

    def post_step_event(
        self,
        learner: Learner,
        url: str,
        kind: str,
        where: object,
        eid: str,
        index: int,
        **more: Any,
    ) -> None:
        """An event on a step (`where`: "open" or an id) with an event id of the `eid` choice."""
        body = {
            "eventId": self.eid_for(learner, eid, index),
            "stepId": self.step_for(learner, where),
        }
        self.post_event(learner, url, kind, json.dumps({**body, **more}).encode())

    def move_on(self, learner: Learner) -> None:
        """The player's Next button on a done open step."""
        self.post_step_event(learner, "/api/next", "next", "open", "new", 0)

    def signed_in(self, learner: Learner) -> bool:
        until = learner.session_until
        return until is not None and self.world.now < until and learner.uid in self.browsers

    def advance_by(self, seconds: float) -> None:
        self.app.clock.advance(seconds=seconds)
        self.world.now = self.app.clock.now

    def in_flight(
        self, requests: list[tuple[Learner, str, dict[str, Any]]]
    ) -> list[httpx.Response]:
        calls: list[Call] = []
        for person, url, body in requests:
            cookie = self.cookie_of(person)
            calls.append(({"sillon_session": cookie} if cookie else {}, {}, url, body))
        return in_flight(self.app, calls)
