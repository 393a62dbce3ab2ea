"""The sign-in rules of tests/test_model.py's state machine (README, "Sign-in"): a link once
used, or replaced by the teacher's re-issue, opens no second session; the teacher re-issues a
link, optionally ending every session. test_model.Progression inherits them; its `sign_in`
re-issues a used link first (support.model_driver.ModelDriver runs the app and the model)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from starlette.testclient import TestClient

from support.model import ADDRESS, ADMIN_LIMIT, Learner, error
from support.model_driver import ModelDriver

LEARNER, INDEX = st.integers(0, 3), st.integers(0, 10)  # as test_model's


class SignInRules(ModelDriver):
    @precondition(lambda self: any(p.spent for p in self.people))
    @rule(who=LEARNER, index=INDEX)
    def reuse_link(self, who: int, index: int) -> None:
        """A link once used (or replaced by a re-issue) opens no second session: 410, and
        `send` checks that the refusal wrote nothing (no session, no link consumed)."""
        holders = [p for p in self.people if p.spent]
        learner = holders[who % len(holders)]
        token = sorted(learner.spent)[index % len(learner.spent)]
        browser = TestClient(self.app.client.app, base_url="http://testserver")
        limited = self.world.opening(token, known=True)
        response = self.send(browser, "POST", "/api/session", json={"inviteToken": token})
        self.expect(response, limited or error(410, learner.spent[token]), self.world)
        assert "sillon_session" not in browser.cookies

    @precondition(lambda self: self.people)
    @rule(who=LEARNER, revoke=st.sampled_from([False, False, True]))
    def reissue(self, who: int, revoke: bool) -> None:
        self.reissue_link(self.pick(who), revoke)

    def reissue_link(self, learner: Learner, revoke: bool) -> bool:
        """The teacher re-issues the learner's link: the old one, if unused, expires; with
        `revoke`, every session of theirs ends. False when the admin calls were limited."""
        limited = self.world.limited(ADMIN_LIMIT, ADDRESS)
        body = {"userId": learner.uid, "revokeSessions": revoke}
        response = self.send(
            self.app.client, "POST", "/api/admin/invite", json=body, headers=self.app.admin()
        )
        if limited:
            self.expect(response, limited, self.world)
            return False
        assert response.status_code == 201, response.text
        learner.spent.setdefault(learner.invite, "link_expired")
        learner.invite = response.json()["inviteToken"]
        if revoke:
            learner.session_until = None
        return True
