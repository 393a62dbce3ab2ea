"""Issue 16, point 4, against a real `python build.py serve` with its abuse limits on: a class of
30 behind one address (a school's NAT) is all signed in within 30 s, while a guesser is refused
at the README's counts, per address and per token. Each test comes from its own address
(X-Forwarded-For, which uvicorn takes from 127.0.0.1), so the tests share one server."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support.course import make_course
from support.launch import Site
from support.signin import join

pytestmark = pytest.mark.live  # a real `python build.py serve` process

# README, "Abuse limits": written here as numbers, so that changing one fails a test.
FAILURES, PER_LINK = 10, 5  # wrong tokens per address, then 429; tries of one token, then 429


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("classroom")
    server = Site(workdir, make_course(workdir / "course", duration=120))
    yield server
    server.stop()


def sign_in(live: Site, token: str, address: str) -> httpx.Response:
    """One attempt, no retry, from `address`."""
    headers = {"X-Forwarded-For": address}
    return httpx.post(live.url + "/api/session", json={"inviteToken": token}, headers=headers)


def test_limits_classroom_of_30_behind_one_address_all_in_within_30_s(live: Site) -> None:
    invites = [live.enroll(f"Learner{n}")["inviteToken"] for n in range(30)]
    began = time.monotonic()
    school = {"X-Forwarded-For": "10.16.4.1"}
    with ThreadPoolExecutor(max_workers=len(invites)) as pool:
        answers = list(pool.map(lambda t: join(live.url, t, school, began + 30), invites))
    took = time.monotonic() - began
    assert [a.status_code for a in answers] == [200] * 30, [a.text for a in answers]
    assert took <= 30, took
    assert all("sillon_session" in a.cookies for a in answers)
    assert live.rows("SELECT COUNT(*) FROM sessions") == [(30,)]


def test_limits_guesser_of_random_tokens_refused_after_documented_count(live: Site) -> None:
    guesses = [sign_in(live, secrets.token_urlsafe(32), "10.16.4.2") for _ in range(FAILURES + 1)]
    assert [g.status_code for g in guesses] == [401] * FAILURES + [429]
    assert guesses[-1].json()["error"]["code"] == "too_many_requests"
    assert int(guesses[-1].headers["retry-after"]) >= 1
    # Out of failures, the address tries no token at all, a real one neither: no hit slips by.
    invite = live.enroll("Lucky")["inviteToken"]
    assert sign_in(live, invite, "10.16.4.2").status_code == 429
    assert sign_in(live, invite, "10.16.4.3").status_code == 200, "per address"


def test_limits_one_token_retried_refused_per_token(live: Site) -> None:
    token = secrets.token_urlsafe(32)
    tries = [sign_in(live, token, "10.16.4.4") for _ in range(PER_LINK + 1)]
    assert [t.status_code for t in tries] == [401] * PER_LINK + [429]
    assert sign_in(live, token, "10.16.4.5").status_code == 429, "per token, from any address"
    other = secrets.token_urlsafe(32)
    assert sign_in(live, other, "10.16.4.4").status_code == 401, "the address has failures left"
