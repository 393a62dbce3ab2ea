"""A property-based progression model: hypothesis drives the real app on SQLite.

A `RuleBasedStateMachine` plays random cohorts through `support.client.cohort` (the real app on a real
SQLite file, with the fake clock): enrolments (two teams, three time zones), sessions, clock
jumps from seconds to a month, video reports (valid, forged, out of order, seeking ahead,
replayed, raw NaN/Infinity bodies), quiz submissions, lesson-done, Next, signed (and badly signed)
Tally webhooks, admin resets, republishes of modified courses, and duplicate or concurrent
requests. Next to it runs a small model of what each learner legitimately did, written from the
README's rules (support.model, support.model_world); every answer is predicted by the model and
compared with the server's (support.model_driver: the app and the model side by side). The
requests are built in support.model_requests.

After every step the invariants are read from the SQLite file and from the API itself, one
function per rule in support.invariants (its docstring lists them): a failure names the rule it
broke. The model also predicts the README's abuse limits (429) and every answer's `xp` and
`badges`; requests sent together must be answered as some order of them would be
(linearizable). The regressions the model found, made small, are in
tests/test_model_regressions.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient
from support import invariants
from support.client import event
from support.course import make_course
from support.journey import RIGHT
from support.model import (
    ADDRESS,
    ADMIN_LIMIT,
    SESSION,
    SESSION_LIMIT,
    Learner,
    error,
)
from support.model_requests import (
    ANSWERS,
    EID_CHOICES,
    SECONDS,
    SHAPES,
    STEP_CHOICES,
    hidden_field,
    next_request,
    tally_body,
    tally_headers,
    video_body,
)
from support.model_signin import SignInRules

TEAMS = ("t1", "t2")
ZONES = ("Europe/Paris", "Pacific/Auckland", "America/Los_Angeles")
NAMES = ("Ada", "Bob", "Cyd", "Dee")
# Strategies most rules share: a learner (taken modulo how many), a step, an event id choice.
LEARNER, STEP, EIDS, INDEX = (
    st.integers(0, 3),
    st.sampled_from(STEP_CHOICES),
    st.sampled_from(EID_CHOICES),
    st.integers(0, 10),
)


class Progression(SignInRules):
    """The rules: what learners, Tally and the admin do; the invariants after every step."""

    # -- rules: people and time --

    @precondition(lambda self: len(self.world.learners) < 4)
    @rule(
        team=st.sampled_from(TEAMS),
        tz=st.sampled_from(ZONES),
        sign_in=st.sampled_from([True] * 4 + [False]),
    )
    def enroll(self, team: str, tz: str, sign_in: bool) -> None:
        name = NAMES[len(self.people)]
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
        body = {"name": name, "email": email, "teamId": team, "tz": tz}
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/learners", json=body, headers=self.app.admin()
        )
        if limited:
            self.expect(response, limited, self.world)
            return
        assert response.status_code == 201, response.text
        created = response.json()
        learner = Learner(
            created["userId"],
            name,
            email,
            team,
            tz,
            created["inviteToken"],
            open=self.world.course.steps[0].id,
        )
        self.world.learners[learner.uid] = learner
        if sign_in:
            self.sign_in(len(self.people) - 1)

    @precondition(lambda self: self.people)
    @rule(who=LEARNER, really=st.integers(0, 2))
    def enroll_again(self, who: int, really: int) -> None:
        if really:
            return
        learner = self.pick(who)
        body = {"name": "X", "email": learner.email.upper(), "teamId": "t9"}
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/learners", json=body, headers=self.app.admin()
        )
        self.expect(response, limited or error(409, "already_enrolled"), self.world)

    @precondition(lambda self: self.people)
    @rule(who=LEARNER)
    def sign_in(self, who: int) -> None:
        """Open the learner's link; a link works once, so a used one is re-issued first (as the
        teacher does for a learner who asks)."""
        learner = self.pick(who)
        if learner.invite in learner.spent and not self.reissue_link(learner, revoke=False):
            return  # the admin calls were rate limited: no new link this time
        browser = TestClient(self.app.client.app, base_url="http://testserver")
        limited = self.world.opening(learner.invite, known=True)
        response = self.send(browser, "POST", "/api/session", json={"inviteToken": learner.invite})
        if limited:
            self.expect(response, limited, self.world)
            return
        assert response.status_code == 200 and response.json()["userId"] == learner.uid
        self.browsers[learner.uid] = browser
        learner.session_until, learner.seen_at = self.world.now + SESSION, self.world.now
        learner.spent[learner.invite] = "link_used"

    @precondition(lambda self: self.browsers)
    @rule(who=LEARNER)
    def sign_out(self, who: int) -> None:
        learner = self.pick(who)
        response = self.send(self.client_of(learner), "DELETE", "/api/session")
        assert response.status_code == 204
        learner.session_until = None

    @rule(invite=st.sampled_from(["made-up", "", "x" * 300]), really=st.integers(0, 4))
    def bad_sign_in(self, invite: str, really: int) -> None:
        if really:
            return  # rarely: 10 wrong tokens per address, then 6 a minute
        if invite == "made-up":
            limited = self.world.opening(invite, known=False)
        else:  # refused as a body (422) before any token is tried
            limited = self.world.limited(SESSION_LIMIT, ADDRESS)
        response = self.send(self.anonymous, "POST", "/api/session", json={"inviteToken": invite})
        expected = error(401, "bad_invite") if invite == "made-up" else error(422, "invalid")
        self.expect(response, limited or expected, self.world)

    @rule(seconds=st.sampled_from(SECONDS))
    def advance(self, seconds: int) -> None:
        self.advance_by(seconds)

    # -- rules: video --

    @precondition(lambda self: self.people)
    @rule(
        who=LEARNER,
        where=STEP,
        shape=st.sampled_from(SHAPES),
        size=st.integers(0, 60),
        offset=st.integers(0, 130),
        eid=EIDS,
        index=INDEX,
        identity=st.sampled_from([None] * 8 + ["userId", "teamId"]),
    )
    def video(
        self,
        who: int,
        where: object,
        shape: str,
        size: int,
        offset: int,
        eid: str,
        index: int,
        identity: str | None,
    ) -> None:
        learner = self.pick(who)
        step_id = self.step_for(learner, where)
        eid_now = self.eid_for(learner, eid, index)
        raw = video_body(
            self.world.course, learner, step_id, shape, size / 2, offset, eid_now, identity
        )
        self.post_event(learner, "/api/video-event", "video", raw)

    @precondition(lambda self: self.people)
    @rule(
        who=LEARNER,
        pace=st.sampled_from([1.0, 2.0, 2.0, 2.0, 2.5, 4.0]),
        chunk=st.sampled_from([5, 10, 10, 20]),
    )
    def watch_through(self, who: int, pace: float, chunk: int) -> None:
        """The player: report `chunk` seconds of media every chunk/pace seconds of wall clock."""
        uid = self.pick(who).uid
        self.ensure_session(uid)
        for _ in range(30):
            learner = self.world.learners[uid]
            step = self.world.course.step(learner.open)
            if step is None or step.kind != "video" or not self.signed_in(learner):
                break
            raw = video_body(self.world.course, learner, step.id, "next", chunk, 0, event())
            self.post_event(learner, "/api/video-event", "video", raw)
            self.advance_by(chunk / pace)
            if step.id in self.world.learners[uid].completed:
                break

    def ensure_session(self, uid: str) -> None:
        """Open the invite link again when the session is gone (as the player sends you to)."""
        if not self.signed_in(self.world.learners[uid]):
            self.sign_in(self.people.index(self.world.learners[uid]))

    @precondition(lambda self: self.people)
    @rule(
        who=LEARNER,
        score=st.sampled_from([100, 90, 80, 60]),
        perfect=st.booleans(),
        pace=st.sampled_from([2.0, 2.0, 3.0]),
        steps=st.integers(1, 4),
    )
    def play_open_steps(self, who: int, score: int, perfect: bool, pace: float, steps: int) -> None:
        """Do what the open step asks, the way the player does it, for a few steps."""
        uid = self.pick(who).uid
        for _ in range(steps):
            self.ensure_session(uid)
            self.play_open_step(who, score, perfect, pace)
            self.advance_by(60)

    def play_open_step(self, who: int, score: int, perfect: bool, pace: float) -> None:
        learner = self.pick(who)
        step = self.world.course.step(learner.open)
        if step is None:
            return
        if step.id in learner.completed:
            self.move_on(learner)
        elif step.kind == "video":
            self.watch_through(who, pace, 10)
        elif step.kind == "lesson":
            body: dict[str, object] = {"eventId": event(), "stepId": step.id}
            self.post_event(learner, "/api/lesson-done", "lesson", json.dumps(body).encode())
        elif step.tally:
            self.tally_hook(who, "open", "good", score, None, "new", 0, "good", "wMx9Qd")
        else:
            answers = RIGHT if perfect or score >= 80 else [1, [0]]
            body = {"eventId": event(), "stepId": step.id, "answers": answers}
            self.post_event(learner, "/api/quiz-submission", "quiz", json.dumps(body).encode())

    @precondition(lambda self: len(self.people) >= 2)
    @rule(first=LEARNER, second=LEARNER, rounds=st.integers(1, 6))
    def interleave(self, first: int, second: int, rounds: int) -> None:
        """Two learners' players reporting in turn, on the same seconds of media."""
        pair = [self.pick(first).uid, self.pick(second).uid]
        for _ in range(rounds):
            for uid in pair:
                learner = self.world.learners[uid]
                step_id = learner.open
                raw = video_body(self.world.course, learner, step_id, "next", 10, 0, event())
                self.post_event(learner, "/api/video-event", "video", raw)
            self.advance_by(5)

    @precondition(lambda self: self.last)
    @rule(who=LEARNER)
    def resend_last(self, who: int) -> None:
        """The same body twice in a row (a retry): answered like the first time, replayed."""
        learner = self.pick(who)
        if learner.uid not in self.last:
            return
        url, raw = self.last[learner.uid]
        kind = {"/api/video-event": "video", "/api/lesson-done": "lesson", "/api/next": "next"}
        kind = kind.get(url, "quiz")
        self.post_event(learner, url, kind, raw)

    @precondition(lambda self: self.people)
    @rule(who=LEARNER, other=LEARNER, mode=st.sampled_from(["same", "two-ids", "two-learners"]))
    def concurrent(self, who: int, other: int, mode: str) -> None:
        """Requests in flight together; the answers must be those of some order of them."""
        learner = self.pick(who)
        second = self.pick(other) if mode == "two-learners" else learner
        sent: list[invariants.Sent] = []
        for n, person in enumerate([learner, second]):
            url, kind, body = next_request(self.world.course, person)
            body = sent[0][3] if n == 1 and mode == "same" else {"eventId": event(), **body}
            sent.append((person, url, kind, body))
        responses = self.in_flight([(p, u, b) for p, u, _, b in sent])
        for response in responses:
            invariants.never_a_server_error(response, busy_allowed=True)
            if response.status_code >= 400:
                invariants.errors_have_one_shape(response)
        cookies = [self.cookie_of(person) for person, *_ in sent]
        self.world = invariants.requests_are_linearizable(self.world, sent, responses, cookies)

    # -- rules: lessons and quizzes --

    @precondition(lambda self: self.people)
    @rule(who=LEARNER, where=STEP, eid=EIDS, index=INDEX)
    def lesson_done(self, who: int, where: object, eid: str, index: int) -> None:
        self.post_step_event(self.pick(who), "/api/lesson-done", "lesson", where, eid, index)

    @precondition(lambda self: self.people)
    @rule(who=LEARNER, where=STEP, eid=EIDS, index=INDEX)
    def next_step(self, who: int, where: object, eid: str, index: int) -> None:
        """The Next button, on the open step (done or not), a past or a future one."""
        self.post_step_event(self.pick(who), "/api/next", "next", where, eid, index)

    @precondition(lambda self: self.people)
    @rule(
        who=LEARNER,
        where=STEP,
        answers=st.sampled_from(ANSWERS),
        eid=EIDS,
        index=INDEX,
    )
    def quiz(self, who: int, where: object, answers: object, eid: str, index: int) -> None:
        learner = self.pick(who)
        url = "/api/quiz-submission"
        self.post_step_event(learner, url, "quiz", where, eid, index, answers=answers)

    @precondition(lambda self: self.people)
    @rule(
        who=LEARNER,
        where=st.sampled_from(["open", "open", "final", "quiz-1", "texte"]),
        token=st.sampled_from(
            ["good"] * 6 + ["other-learner", "unknown-learner", "forged", "stale", "old"]
        ),
        score=st.sampled_from([100, 100, 90, 80, 79.9, 40, 0, 250, -1, "x", None]),
        most=st.sampled_from([None, None, None, 100, 10, 0]),
        response=st.sampled_from(["new", "new", "new", "again"]),
        index=INDEX,
        signature=st.sampled_from(["good"] * 8 + ["missing", "wrong"]),
        form=st.sampled_from(["wMx9Qd"] * 6 + ["otherForm"]),
    )
    def tally_hook(
        self,
        who: int,
        where: str,
        token: str,
        score: object,
        most: int | None,
        response: str,
        index: int,
        signature: str,
        form: str,
    ) -> None:
        learner = self.pick(who)
        step_id = str(self.step_for(learner, where) or "final")
        other = self.pick(who + 1).uid
        now = self.world.now.timestamp()
        hidden, uid, signed_at, mac_ok = hidden_field(learner.uid, other, token, step_id, now)
        rid = self.response_id(response, index)
        raw = tally_body(hidden, score, most, rid, form, self.world.iso())
        submission = {
            "score": score,
            "max_score": most,
            "mac_ok": mac_ok,
            "expires": int(signed_at + 7 * 86400),
            "uid": uid,
            "response": rid,
            "step": step_id,
            "form": form,
        }
        expected, world = self.predict(lambda w: w.tally(signature == "good", submission))
        headers = tally_headers(signature, raw)
        answer = self.send(self.app.client, "POST", "/api/tally-hook", content=raw, headers=headers)
        self.expect(answer, expected, world)

    def response_id(self, response: str, index: int) -> str:
        """A Tally response id: one already used ("again"), or a new one."""
        if response == "again" and self.responses:
            return self.responses[index % len(self.responses)]
        rid = f"resp-{uuid.uuid4().hex[:12]}"
        self.responses.append(rid)
        return rid

    # -- rules: the admin --

    @precondition(lambda self: self.people)
    @rule(who=LEARNER, auth=st.sampled_from(["admin", "admin", "admin", "none", "unknown"]))
    def reset(self, who: int, auth: str) -> None:
        learner = self.pick(who)
        uid = "u_nobody" if auth == "unknown" else learner.uid
        headers = self.app.admin() if auth != "none" else {}
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/reset", json={"userId": uid}, headers=headers
        )
        if limited:
            self.expect(response, limited, self.world)
        elif auth == "none":
            self.expect(response, error(401, "unauthorized"), self.world)
        elif auth == "unknown":
            self.expect(response, error(404, "unknown_learner"), self.world)
        else:
            first = self.world.course.steps[0].id
            assert response.status_code == 200 and response.json()["currentStep"]["id"] == first
            learner.completed, learner.modules, learner.views = {}, set(), {}
            learner.open = first
            learner.resets += 1

    @rule(
        name=st.sampled_from(["base", "base", "inserted", "extended", "trimmed"]),
        auth=st.sampled_from([True, True, True, False]),
    )
    def republish(self, name: str, auth: bool) -> None:
        headers = {"Content-Type": "application/json", **(self.app.admin() if auth else {})}
        manifest = self.manifests[name].encode()
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        response = self.send(
            self.app.client, "POST", "/api/admin/publish", content=manifest, headers=headers
        )
        if limited or not auth:
            self.expect(response, limited or error(401, "unauthorized"), self.world)
            return
        assert response.status_code == 201, response.text
        assert response.json()["version"] == self.courses[name].version
        self.world.course = self.courses[name]
        self.world.place_all()

    # -- invariants (support.invariants: one function per rule) --

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        if not hasattr(self, "world"):
            return
        course = self.world.course
        # The API's own view first (it places learners for the current course version).
        for learner in self.people:
            response = self.app.client.get(
                f"/api/learner?userId={learner.uid}", headers=self.app.admin()
            )
            invariants.the_api_agrees_with_the_model(course, learner, response)
        rows, guards = invariants.read_database(self.app.db)
        invariants.learners_are_the_enrolled(self.world, rows)
        for learner in self.people:
            self.progress_follows_the_rules(learner, rows[learner.uid])
            self.awards_follow_the_rules(learner, rows[learner.uid])
        invariants.guards_stay_empty(guards)

    def progress_follows_the_rules(self, learner: Learner, row: invariants.Stored) -> None:
        course, was = self.world.course, self.seen.get(learner.uid)
        invariants.completions_follow_the_rules(learner, row)
        invariants.counters_match_completions(learner, row)
        invariants.open_step_follows_the_path_rule(course, learner, row)
        invariants.completions_never_disappear(learner, was, row)
        invariants.position_never_moves_back(course, learner, was, row)
        self.seen[learner.uid] = invariants.seen_now(course, learner, row)
        invariants.views_are_the_accepted_intervals(learner, row)
        invariants.attempts_are_the_submissions(learner, row)
        invariants.attempts_respect_the_cooldown(course, learner, row)
        invariants.perfect_bonus_only_on_first_attempts(learner, row)
        invariants.events_are_the_answered_ones(learner, row)

    def awards_follow_the_rules(self, learner: Learner, row: invariants.Stored) -> None:
        invariants.one_award_per_cause(learner, row)
        invariants.awards_are_the_models(learner, row)
        invariants.xp_is_the_sum_of_its_logs(learner, row)

    @invariant()
    def leaderboards_are_exact(self) -> None:
        if not hasattr(self, "world"):
            return
        for team in TEAMS:
            for period, days in (("all", None), ("30d", 30), ("7d", 7)):
                response = self.app.client.get(
                    f"/api/leaderboard?teamId={team}&period={period}", headers=self.app.admin()
                )
                invariants.leaderboards_are_exact(self.world, team, period, days, response)


# -- the test ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_progression_model(tmp_path: Path) -> None:
    Progression.content = make_course(tmp_path / "course", duration=120, unlock="module")
    Progression.workdir = tmp_path
    Progression.manifests = {}
    run_state_machine_as_test(
        Progression,
        settings=settings(
            max_examples=45,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,  # the same cohorts on every run (CI); no example database
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
