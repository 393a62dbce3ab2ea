"""The demo learner of a serve on this machine: from "it serves" to the player in one click.

On a loopback address serve enrolls one demo learner per database (the first time) and prints a
sign-in link for them at every start: links work once, so each start issues a new one and the
previous unused one stops working (the teacher's re-issue, api/signin.py).
"""

from __future__ import annotations

from api import signin, sql
from api.app import Api

NAME, EMAIL, TEAM = "Demo", "demo@localhost", "demo"


async def demo_link(api: Api, site: str) -> str:
    """A fresh one-time sign-in link for the demo learner, enrolled if they are not yet."""
    found = (await api.db.execute(sql.learner_by_email(EMAIL))).first()
    if found is None:
        created = await api.create_learner(NAME, EMAIL, TEAM, api.settings.default_tz)
        token = created["inviteToken"]
    else:
        token, _ = await signin.reinvite(api, found["id"], revoke_sessions=False)
    return f"{site}/join/#{token}"
