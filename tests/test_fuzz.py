"""Fuzzing the API contract: schemathesis against /api/openapi.json on a live `serve` process.

Every operation of the published document is fuzzed three times over (no identity, a signed-in
learner's cookie, the admin's bearer token), with positive and negative generated requests.
Each answer must be below 500; each error must be exactly {"error": {"code", "message"}} (and
`retryAfter` when it says when to try again); and a rejected request (4xx) must leave every
table's row count as it was.

To reach past the first checks, generated values are mixed with a small dictionary of real
ones (step ids and the learner's open step, ids, invite token, gated paths, boundary numbers),
Tally webhooks are signed, manifests are mutated from the published one, each operation's
learner is a new one placed on a step the operation acts on, and a few boundary seeds are sent
first. Each request comes from its own X-Forwarded-For address so that the abuse limits (per
address) do not answer 429 before the handlers run. Derandomized: the same requests each run.
The serve, the dictionary, the payloads and the seeds are in support/fuzz.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from requests.compat import json as requests_json
from schemathesis import GenerationMode
from starlette.routing import Route
from support.fuzz import (
    KEEP,
    OPEN,
    POSITION,
    Live,
    dictionary,
    manifest_payload,
    realistic,
    seeds,
    tally_payload,
)
from support.launch import ADMIN, TALLY_SECRET

from api.app import Api, Settings
from api.sqlite import SQLiteDatabase

pytestmark = pytest.mark.live  # every test asks for the `live` serve process
IDENTITIES = ("anonymous", "learner", "admin")
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXAMPLES = 40  # per operation, generation mode and identity: at most 15 x 2 x 3 x 40 = 3,600
MINIMUM_REQUESTS = 1000
BUDGET = 300.0  # seconds of fuzzing (a loaded 2-core run needs ~160 s); past it no more are sent
EXAMPLES_KEPT = 3  # evidence kept per kind of failure


@dataclass
class Findings:
    """What the fuzzing saw: counts, and evidence of each broken rule."""

    requests: int = 0
    operations: list[str] = field(default_factory=list)
    seeded: int = 0  # of which seed requests (not generated)
    limited: int = 0  # answered 429 by the abuse limits, before the handler
    seconds: float = 0.0
    per_operation: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    bad_shapes: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    writes: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    crashes: dict[str, list[str]] = field(default_factory=dict)

    @staticmethod
    def keep(bucket: dict[Any, list[str]], key: Any, evidence: str) -> None:
        kept = bucket.setdefault(key, [])
        if len(kept) < EXAMPLES_KEPT:
            kept.append(evidence)


def report(bucket: dict[Any, list[str]]) -> str:
    return "\n\n".join(f"{key}:\n" + "\n---\n".join(items) for key, items in bucket.items())


def sign(raw: bytes) -> str:
    return base64.b64encode(hmac.new(TALLY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()


def one_shape(content: bytes) -> bool:
    """Exactly {"error": {"code": str, "message": str}}, both non-empty, and an integer
    `retryAfter` when the error says when to try again."""
    try:
        body = json.loads(content)
    except ValueError:
        return False
    if not isinstance(body, dict) or set(body) != {"error"}:
        return False
    error = body["error"]
    return (
        isinstance(error, dict)
        and set(error) - {"retryAfter"} == {"code", "message"}
        and all(isinstance(error[k], str) and error[k] for k in ("code", "message"))
        and isinstance(error.get("retryAfter", 1), int)
    )


def evidence(identity: str, case: Any, status: int, content: bytes) -> str:
    """The request (its secrets left out) and the start of the answer, for a failure report."""
    headers = {
        k: v
        for k, v in (case.headers or {}).items()
        if k.lower() not in {"authorization", "x-forwarded-for"}
    }
    try:
        body = case.body if isinstance(case.body, bytes) else json.dumps(case.body)[:2000]
    except TypeError:  # no body
        body = None
    return (
        f"[{identity}] {case.method.upper()} {case.formatted_path} query={case.query!r} "
        f"headers={headers!r} cookies={sorted(case.cookies or {})} "
        f"media_type={case.media_type!r} body={body!r}\n-> {status} {content[:500]!r}"
    )


def fuzz(live: Live) -> Findings:
    """Seeds, then generated cases, for every operation as each identity, within BUDGET."""
    schema = schemathesis.openapi.from_url(live.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzer = Fuzzer(live)
    # Publishing changes the course for everyone: fuzz it last, so it cannot hide other bugs.
    operations.sort(key=lambda op: op.path == "/api/admin/publish")
    for identity in IDENTITIES:
        for operation in operations:
            fuzzer.operation(identity, operation)
    fuzzer.findings.seconds = time.monotonic() - fuzzer.started
    return fuzzer.findings


class Fuzzer:
    """Sends requests to the live serve as one identity or another, and checks each answer."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.findings = Findings()
        words = dictionary(live)
        self.overrides = st.fixed_dictionaries(
            {name: st.one_of(st.none(), values) for name, values in words.items()}
        )
        self.payloads = {
            "POST /api/tally-hook": tally_payload(live),
            "POST /api/admin/publish": manifest_payload(live),
        }
        self.corpus = seeds(live)
        self.started = time.monotonic()

    def operation(self, identity: str, operation: Any) -> None:
        """Both generation modes of one operation; the seeds first, with the positive one."""
        label = f"{operation.method.upper()} {operation.path}"
        if label not in self.findings.operations:
            self.findings.operations.append(label)
        payload = self.payloads.get(label, st.nothing())
        for mode in MODES:
            if identity == "learner":  # a new learner, placed where the operation acts
                self.live.cookie = self.live.enroll_at(POSITION.get(label, 0))
            for seed in self.corpus.get(label, []) if mode is MODES[0] else []:
                case = operation.Case(
                    query=seed.get("query", {}),
                    body=seed.get("body", {}),
                    media_type="application/json",
                )
                self.prepare(case, label, {"stepId": OPEN}, seed.get("payload", KEEP))
                self.send(identity, case, label, seeded=True)
            self.generate(identity, operation, label, mode, payload)

    def generate(self, identity: str, operation: Any, label: str, mode: Any, payload: Any) -> None:
        """Up to EXAMPLES generated cases of the operation in this mode."""
        strategy = st.tuples(
            operation.as_strategy(generation_mode=mode),
            self.overrides,
            st.one_of(st.none(), payload),
        )
        try:
            self.runner(identity, label, strategy)()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, no body): positive cases only.
            assert mode is GenerationMode.NEGATIVE, label
        except Exception as exc:  # noqa: BLE001 - generation failures are findings
            self.findings.keep(
                self.findings.crashes, f"{label} [{identity}, {mode.value}]", repr(exc)
            )

    def runner(self, identity: str, label: str, strategy: st.SearchStrategy[Any]) -> Any:
        """The hypothesis test that prepares and sends each drawn case."""

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def run(drawn: tuple[Any, dict[str, Any], Any]) -> None:
            case, chosen, payload = drawn
            self.prepare(case, label, chosen, payload)
            self.send(identity, case, label)

        return run

    def prepare(self, case: Any, label: str, chosen: dict[str, Any], payload: Any) -> None:
        """Real values into the case, the payload as its body; a Tally webhook signed."""
        realistic(self.live, case, chosen)
        if payload is not None and payload != KEEP:
            case.body = payload
        if label == "POST /api/tally-hook" and payload is not None:
            raw = (
                case.body
                if isinstance(case.body, bytes)
                else requests_json.dumps(case.body, allow_nan=False).encode()
            )
            case.headers = {**(case.headers or {}), "Tally-Signature": sign(raw)}

    def send(self, identity: str, case: Any, label: str, seeded: bool = False) -> None:
        """Send the case as the identity, from a new address; record what came back."""
        if time.monotonic() - self.started > BUDGET:
            return
        if identity == "learner":
            case.cookies = {**(case.cookies or {}), "sillon_session": self.live.cookie}
        elif identity == "admin":
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
        case.headers = {**(case.headers or {}), **self.live.address()}
        before = self.live.row_counts()
        try:
            response = case.call(base_url=self.live.url, timeout=30)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding too
            seen = f"{evidence(identity, case, 0, b'')}\n{exc!r}"
            self.findings.keep(self.findings.crashes, label, seen)
            return
        self.record(identity, case, label, seeded, response, before)
        signed_out = identity == "learner" and label == "DELETE /api/session"
        reissued = label == "POST /api/admin/invite" and response.status_code == 201
        if (signed_out and response.status_code == 204) or reissued:
            # Signed out (or the link re-issued): sign in again for the next cases.
            self.live.sign_in_again()

    def record(
        self,
        identity: str,
        case: Any,
        label: str,
        seeded: bool,
        response: Any,
        before: dict[str, int],
    ) -> None:
        """Count the answer; keep evidence of each rule it breaks."""
        findings, status = self.findings, response.status_code
        findings.requests += 1
        findings.seeded += seeded
        findings.limited += status == 429
        findings.per_operation[(identity, label)] += 1
        findings.statuses[(label, status)] += 1
        seen = evidence(identity, case, status, response.content)
        if status >= 500:
            findings.keep(findings.server_errors, (label, status), seen)
        if status >= 400 and not one_shape(response.content):
            findings.keep(findings.bad_shapes, (label, status), seen)
        if 400 <= status < 500:
            after = self.live.row_counts()
            if after != before:
                changed = {t: (before.get(t), n) for t, n in after.items() if before.get(t) != n}
                findings.keep(findings.writes, (label, status), f"{seen}\nrows: {changed}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = Live(tmp_path_factory.mktemp("fuzz"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzzed(live: Live) -> Findings:
    findings = fuzz(live)
    print(
        f"\nfuzz: {findings.requests} requests ({findings.seeded} seeds, "
        f"{findings.limited} limited) in "
        f"{findings.seconds:.0f} s; statuses "
        + ", ".join(
            f"{label} {status}: {n}" for (label, status), n in sorted(findings.statuses.items())
        )
    )
    return findings


def test_fuzz_openapi_document_is_valid_and_lists_every_route(live: Live, tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/api/openapi.json")
    schema.validate()
    fuzzable = {
        (result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()
    }
    paths = httpx.get(live.url + "/api/openapi.json", timeout=10).json()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    api = Api(Settings(db_path=str(tmp_path / "routes.db")), SQLiteDatabase(tmp_path / "routes.db"))
    served = {
        (method, route.path)
        for route in api.routes()
        if isinstance(route, Route) and route.path != "/api/{rest:path}"  # the catch-all 404
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert documented == served
    # schemathesis leaves out the document itself; every other operation is fuzzed.
    assert fuzzable == served - {("GET", "/api/openapi.json")}


@pytest.mark.slow
def test_fuzz_sends_at_least_1000_requests_to_every_operation_as_each_identity(
    live: Live, fuzzed: Findings
) -> None:
    assert not fuzzed.crashes, report(fuzzed.crashes)
    handled = fuzzed.requests - fuzzed.seeded - fuzzed.limited
    assert handled >= MINIMUM_REQUESTS, (fuzzed.requests, fuzzed.limited, fuzzed.seconds)
    fuzzable = {
        (result.ok().method.upper(), result.ok().path)
        for result in schemathesis.openapi.from_url(
            live.url + "/api/openapi.json"
        ).get_all_operations()
    }
    assert len(fuzzed.operations) == len(fuzzable) >= 21
    for identity in IDENTITIES:
        for label in fuzzed.operations:
            assert fuzzed.per_operation[(identity, label)] > 0, (identity, label)


@pytest.mark.slow
def test_fuzz_no_server_error(fuzzed: Findings) -> None:
    assert not fuzzed.server_errors, report(fuzzed.server_errors)


@pytest.mark.slow
def test_fuzz_every_error_has_the_one_shape(fuzzed: Findings) -> None:
    assert not fuzzed.bad_shapes, report(fuzzed.bad_shapes)


@pytest.mark.slow
def test_fuzz_rejected_requests_write_nothing(fuzzed: Findings) -> None:
    assert not fuzzed.writes, report(fuzzed.writes)
