"""Fuzzing the API contract: schemathesis against /api/openapi.json on a live `serve` process.

Every operation of the published document is fuzzed three times over (no identity, a signed-in
learner's cookie, the admin's bearer token), with positive and negative generated requests.
Each answer must be below 500; each error must be exactly {"error": {"code", "message"}}; and a
rejected request (4xx) must leave every table's row count as it was.

To reach past the first checks, generated values are mixed with a small dictionary of real
ones (step ids and the learner's open step, ids, invite token, gated paths, boundary numbers),
Tally webhooks are signed, manifests are mutated from the published one, each operation's
learner is a new one placed on a step the operation acts on, and a few boundary seeds are sent
first. Each request comes from its own X-Forwarded-For address so that the abuse limits (per
address) do not answer 429 before the handlers run. Derandomized: the same requests each run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import time
import uuid
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
from support.course import ROOT
from support.launch import ADMIN, SECRET, TALLY_SECRET, Site

from api.app import Api, Settings
from api.sqlite import SQLiteDatabase
from api.tally import hidden_token

IDENTITIES = ("anonymous", "learner", "admin")
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXAMPLES = 40  # per operation, generation mode and identity: at most 15 x 2 x 3 x 40 = 3,600
MINIMUM_REQUESTS = 1000
BUDGET = 300.0  # seconds of fuzzing (a loaded 2-core run needs ~160 s); past it no more are sent
EXAMPLES_KEPT = 3  # evidence kept per kind of failure
HUGE = 10**400  # valid JSON, but no float holds it


class Live(Site):
    """`serve` on the example course, with one enrolled learner placed on the first step."""

    def __init__(self, workdir: Path) -> None:
        self.addresses = 0
        super().__init__(workdir, ROOT / "content")
        self.team = "fuzz-team"
        self.manifest = json.loads(
            self.query("SELECT manifest FROM course_versions ORDER BY seq DESC LIMIT 1")[0][0]
        )
        self.email = f"fuzz-{uuid.uuid4().hex[:8]}@example.org"
        self.user_id, self.invite = self.enroll_email(self.email)
        self.current, self.current_invite = self.user_id, self.invite
        self.cookie = self.sign_in(self.invite)
        self.place(self.cookie)

    def address(self) -> dict[str, str]:
        """A new client address per request (uvicorn trusts X-Forwarded-For from 127.0.0.1).

        The abuse limits bucket requests per address; one address for all of them would answer
        most admin and session requests 429 before their handler runs.
        """
        self.addresses += 1
        n = self.addresses
        return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}

    def enroll_email(self, email: str) -> tuple[str, str]:
        created = httpx.post(
            self.url + "/api/admin/learners",
            json={"name": "Fuzz", "email": email, "teamId": self.team},
            headers={"Authorization": f"Bearer {ADMIN}", **self.address()},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        return created.json()["userId"], created.json()["inviteToken"]

    def sign_in(self, invite: str) -> str:
        response = httpx.post(
            self.url + "/api/session",
            json={"inviteToken": invite},
            headers=self.address(),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("sillon_session")
        assert cookie
        return cookie

    def enroll_at(self, position: int) -> str:
        """A new signed-in learner who finished the first `position` steps; their cookie."""
        self.current, invite = self.enroll_email(f"fuzz-{uuid.uuid4().hex[:8]}@example.org")
        self.current_invite = invite
        cookie = self.sign_in(invite)
        for step in self.manifest["steps"][:position]:
            body: dict[str, Any] = {"eventId": str(uuid.uuid4()), "stepId": step["id"]}
            if step.get("video"):
                path, body["intervals"] = "/api/video-event", [[0, step["video"]["duration"]]]
            elif step["kind"] == "quiz":
                path = "/api/quiz-submission"
                body["answers"] = [
                    q["answer"] if q["multiple"] else q["answer"][0] for q in step["questions"]
                ]
            else:
                path = "/api/lesson-done"
            done = httpx.post(
                self.url + path,
                json=body,
                cookies={"sillon_session": cookie},
                headers=self.address(),
                timeout=10,
            )
            assert done.status_code == 200, done.text
        assert self.place(cookie) == self.manifest["steps"][position]["id"]
        return cookie

    def place(self, cookie: str) -> str:
        """The learner's open step, as GET /api/learner tells it (and places a new learner)."""
        answer = httpx.get(
            self.url + "/api/learner",
            cookies={"sillon_session": cookie},
            headers=self.address(),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["currentStep"]["id"])

    def open_step(self) -> str | None:
        rows = self.query(f"SELECT open_step FROM learners WHERE id = '{self.current}'")
        return str(rows[0][0]) if rows and rows[0][0] else None

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return db.execute(statement).fetchall()

    def row_counts(self) -> dict[str, int]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            tables = [
                name
                for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


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
    """Exactly {"error": {"code": str, "message": str}}, both non-empty."""
    try:
        body = json.loads(content)
    except ValueError:
        return False
    if not isinstance(body, dict) or set(body) != {"error"}:
        return False
    error = body["error"]
    return (
        isinstance(error, dict)
        and set(error) == {"code", "message"}
        and all(isinstance(error[k], str) and error[k] for k in ("code", "message"))
    )


OPEN = "<the learner's open step>"  # resolved when the request is sent
KEEP = "<the generated body, signed>"
CUT = "<key removed>"


def dictionary(live: Live) -> dict[str, st.SearchStrategy[Any]]:
    """Real values that replace a generated field of the same name about half of the time."""
    steps = [s["id"] for s in live.manifest["steps"]]
    media = [s["video"]["url"].lstrip("/") for s in live.manifest["steps"] if s.get("video")]
    kms = [
        p["url"].lstrip("/") for p in live.manifest["kms"]["pages"] + live.manifest["kms"]["files"]
    ]
    choices = st.integers(min_value=-1, max_value=4)
    return {
        "stepId": st.one_of(st.just(OPEN), st.sampled_from(steps)),
        "path": st.sampled_from([*(f"steps/{s}.html" for s in steps), *media, *kms, "kms"]),
        "userId": st.just(live.user_id),
        "inviteToken": st.just(live.invite),
        "teamId": st.just(live.team),
        "email": st.just(live.email),
        "eventId": st.sampled_from(["fuzz-event-0001", "fuzz-event-0002"]),
        "intervals": st.lists(st.lists(BOUNDARIES, min_size=2, max_size=2), max_size=3),
        "answers": st.lists(
            st.one_of(choices, BOUNDARIES, st.lists(choices, max_size=4)), max_size=6
        ),
    }


BOUNDARIES = st.sampled_from([0, -0.0, 4.5, 9, 100, 1e308, -1e308, HUGE, -HUGE])
JSON_VALUES = st.one_of(
    BOUNDARIES,
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def tally_payload(live: Live) -> st.SearchStrategy[Any]:
    """The generated body signed, or a FORM_RESPONSE webhook with a hidden field and a score."""
    steps = [s["id"] for s in live.manifest["steps"]]
    forms = ["", "wrong-form", *(s["tally"] for s in live.manifest["steps"] if s.get("tally"))]
    signed = st.sampled_from(steps).map(
        lambda step: hidden_token(SECRET, live.user_id, step, time.time())
    )
    forged = st.lists(st.text(max_size=8), min_size=4, max_size=4).map(".".join)
    scores = st.one_of(BOUNDARIES, JSON_VALUES, st.floats(allow_nan=False), st.integers())

    def field_(kind: str, label: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries(
            {"type": st.just(kind), "label": st.just(label), "value": value}
        )

    fields = st.tuples(
        field_("HIDDEN_FIELDS", "sillon", st.one_of(signed, forged)),
        field_("CALCULATED_FIELDS", "score", scores),
        st.one_of(st.none(), field_("CALCULATED_FIELDS", "max_score", scores)),
    ).map(lambda f: [x for x in f if x is not None])
    webhook = st.fixed_dictionaries(
        {
            "eventType": st.just("FORM_RESPONSE"),
            "data": st.fixed_dictionaries(
                {
                    "responseId": st.text(min_size=1, max_size=12),
                    "formId": st.sampled_from(forms),
                    "fields": fields,
                }
            ),
        }
    )
    return st.one_of(st.just(KEEP), webhook)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of a JSON document, containers included."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutate(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of the document with one value replaced (or its key removed)."""
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if value == CUT and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def manifest_payload(live: Live) -> st.SearchStrategy[Any]:
    """The published manifest with one value replaced by another JSON value, or removed."""
    return st.tuples(
        st.sampled_from(list(paths(live.manifest))), st.one_of(st.just(CUT), JSON_VALUES)
    ).map(lambda change: mutate(live.manifest, *change))


def realistic(live: Live, case: Any, overrides: dict[str, Any]) -> None:
    """Put dictionary values in the generated body and query, where the names match."""
    for name, value in overrides.items():
        if value is None:
            continue
        if value == OPEN:
            value = live.open_step()
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value
        if isinstance(case.query, dict) and name in case.query:
            case.query[name] = value


def seeds(live: Live) -> dict[str, list[dict[str, Any]]]:
    """Boundary requests sent before each operation's generated ones (a fuzzer's seed corpus).

    JSON carries integers of any size; the API must refuse those no float can hold, not fail.
    A manifest is an admin's upload, but a malformed one is still a 422, not a 500.
    """
    manifest = live.manifest
    quiz = next(s for s in manifest["steps"] if s.get("questions"))
    video = next(n for n, s in enumerate(manifest["steps"]) if s.get("video"))
    token = hidden_token(SECRET, live.user_id, quiz["id"], time.time())

    def webhook(score: Any, most: Any = None) -> dict[str, Any]:
        fields = [
            {"type": "HIDDEN_FIELDS", "label": "sillon", "value": token},
            {"type": "CALCULATED_FIELDS", "label": "score", "value": score},
        ]
        if most is not None:
            fields.append({"type": "CALCULATED_FIELDS", "label": "max_score", "value": most})
        data = {"responseId": uuid.uuid4().hex, "formId": "", "fields": fields}
        return {"eventType": "FORM_RESPONSE", "data": data}

    def event(**fields: Any) -> dict[str, Any]:
        return {"body": {"eventId": str(uuid.uuid4()), "stepId": OPEN, **fields}}

    return {
        "POST /api/video-event": [
            event(intervals=[[0, HUGE]]),
            event(intervals=[[-HUGE, 1]]),
            event(intervals=[[0, 1e308]]),
        ],
        "POST /api/quiz-submission": [
            event(answers=[HUGE] * len(quiz["questions"])),
            event(answers=[[HUGE, -HUGE]] * len(quiz["questions"])),
        ],
        "POST /api/lesson-done": [event(), {"body": {"eventId": HUGE, "stepId": OPEN}}],
        "POST /api/tally-hook": [
            {"payload": webhook(HUGE)},
            {"payload": webhook(50, HUGE)},
            {"payload": webhook(1e308, 1e-308)},
        ],
        "POST /api/admin/publish": [
            *({"body": value} for value in ([], "manifest", 1, True)),
            {"body": mutate(manifest, ("completion",), HUGE)},
            {"body": mutate(manifest, ("steps", video, "video", "duration"), HUGE)},
            {"body": mutate(manifest, ("steps", 0, "id"), ["not", "a", "string"])},
            *({"body": mutate(manifest, ("version",), value)} for value in (None, [], {})),
        ],
        "POST /api/admin/learners": [
            {"body": {"name": "Seed", "email": "seed@example.org", "teamId": "t", "tz": HUGE}}
        ],
        "GET /api/leaderboard": [{"query": {"period": "all", "teamId": "\u0000"}}],
    }


# Where the learner stands while an operation is fuzzed (steps done first, through the API):
# on the first step's video, on a text lesson, or on the first built-in quiz.
POSITION = {"POST /api/lesson-done": 1, "POST /api/quiz-submission": 3}


def evidence(identity: str, case: Any, status: int, content: bytes) -> str:
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
    schema = schemathesis.openapi.from_url(live.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    findings = Findings()
    words = dictionary(live)
    overrides = st.fixed_dictionaries(
        {name: st.one_of(st.none(), values) for name, values in words.items()}
    )
    payloads = {
        "POST /api/tally-hook": tally_payload(live),
        "POST /api/admin/publish": manifest_payload(live),
    }
    corpus = seeds(live)
    started = time.monotonic()
    # Publishing changes the course for everyone: fuzz it last, so it cannot hide other bugs.
    operations.sort(key=lambda op: op.path == "/api/admin/publish")

    def send(identity: str, case: Any, label: str, seeded: bool = False) -> None:
        if time.monotonic() - started > BUDGET:
            return
        if identity == "learner":
            case.cookies = {**(case.cookies or {}), "sillon_session": live.cookie}
        elif identity == "admin":
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
        case.headers = {**(case.headers or {}), **live.address()}
        before = live.row_counts()
        try:
            response = case.call(base_url=live.url, timeout=30)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding too
            findings.keep(findings.crashes, label, f"{evidence(identity, case, 0, b'')}\n{exc!r}")
            return
        status = response.status_code
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
            after = live.row_counts()
            if after != before:
                changed = {t: (before.get(t), n) for t, n in after.items() if before.get(t) != n}
                findings.keep(findings.writes, (label, status), f"{seen}\nrows: {changed}")
        if identity == "learner" and label == "DELETE /api/session" and status == 204:
            # Signed out: sign in again for the next cases.
            live.cookie = live.sign_in(live.current_invite)

    def prepare(case: Any, label: str, chosen: dict[str, Any], payload: Any) -> None:
        realistic(live, case, chosen)
        if payload is not None and payload != KEEP:
            case.body = payload
        if label == "POST /api/tally-hook" and payload is not None:
            raw = (
                case.body
                if isinstance(case.body, bytes)
                else requests_json.dumps(case.body, allow_nan=False).encode()
            )
            case.headers = {**(case.headers or {}), "Tally-Signature": sign(raw)}

    def runner(identity: str, label: str, strategy: st.SearchStrategy[Any]) -> Any:
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
            prepare(case, label, chosen, payload)
            send(identity, case, label)

        return run

    for identity in IDENTITIES:
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            if label not in findings.operations:
                findings.operations.append(label)
            payload = payloads.get(label, st.nothing())
            for mode in MODES:
                if identity == "learner":  # a new learner, placed where the operation acts
                    live.cookie = live.enroll_at(POSITION.get(label, 0))
                for seed in corpus.get(label, []) if mode is MODES[0] else []:
                    case = operation.Case(
                        query=seed.get("query", {}),
                        body=seed.get("body", {}),
                        media_type="application/json",
                    )
                    prepare(case, label, {"stepId": OPEN}, seed.get("payload", KEEP))
                    send(identity, case, label, seeded=True)
                strategy = st.tuples(
                    operation.as_strategy(generation_mode=mode),
                    overrides,
                    st.one_of(st.none(), payload),
                )
                try:
                    runner(identity, label, strategy)()
                except Unsatisfiable:
                    # Nothing to make invalid (no parameters, no body): positive cases only.
                    assert mode is GenerationMode.NEGATIVE, label
                except Exception as exc:  # noqa: BLE001 - generation failures are findings
                    findings.keep(
                        findings.crashes, f"{label} [{identity}, {mode.value}]", repr(exc)
                    )
    findings.seconds = time.monotonic() - started
    return findings


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


def test_fuzz_openapi_document_is_valid_and_lists_every_route(live: Live) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/api/openapi.json")
    schema.validate()
    fuzzable = {
        (result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()
    }
    paths = httpx.get(live.url + "/api/openapi.json", timeout=10).json()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    api = Api(Settings(db_path=":memory:"), SQLiteDatabase(":memory:"))
    served = {
        (method, route.path)
        for route in api.routes()
        if isinstance(route, Route) and "{" not in route.path
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert documented == served
    # schemathesis leaves out the document itself; every other operation is fuzzed.
    assert fuzzable == served - {("GET", "/api/openapi.json")}


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


def test_fuzz_no_server_error(fuzzed: Findings) -> None:
    assert not fuzzed.server_errors, report(fuzzed.server_errors)


def test_fuzz_every_error_has_the_one_shape(fuzzed: Findings) -> None:
    assert not fuzzed.bad_shapes, report(fuzzed.bad_shapes)


def test_fuzz_rejected_requests_write_nothing(fuzzed: Findings) -> None:
    assert not fuzzed.writes, report(fuzzed.writes)
