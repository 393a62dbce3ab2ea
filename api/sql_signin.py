"""The sign-in statements (api/signin.py): one-time links and the sessions they open.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S


def end_session(token_hash: str) -> S:
    return S("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


def end_sessions(learner_id: str) -> S:
    """Every session of a learner (a re-issue that signs them out everywhere)."""
    return S("DELETE FROM sessions WHERE learner_id = ?", (learner_id,))


def end_other_sessions(learner_id: str, keep_hash: str) -> S:
    """Every session of a learner but this one ("sign out everywhere else")."""
    return S(
        "DELETE FROM sessions WHERE learner_id = ? AND token_hash <> ?", (learner_id, keep_hash)
    )


def sessions_of(learner_id: str, now: str) -> S:
    return S(
        "SELECT token_hash, device, created_at, last_seen FROM sessions "
        "WHERE learner_id = ? AND expires_at > ? ORDER BY created_at, token_hash",
        (learner_id, now),
    )


def touch_session(token_hash: str, now: str, expires_at: str, seen_before: str) -> S:
    """Slide a live session's end to 30 days from now, if it was last seen before `seen_before`
    (at most one write an hour per session)."""
    return S(
        "UPDATE sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ? "
        "AND expires_at > ? AND (last_seen IS NULL OR last_seen <= ?)",
        (now, expires_at, token_hash, now, seen_before),
    )


def learner_seen(learner_id: str, now: str, seen_before: str) -> S:
    """A learner without a session (Cloudflare Access) was seen: `active_at`, at most once an
    hour (the sessions' triggers keep it for everyone else, schema.sql)."""
    return S(
        "UPDATE learners SET active_at = ? WHERE id = ? AND (active_at IS NULL OR active_at <= ?)",
        (now, learner_id, seen_before),
    )


# -- one-time sign-in links -----------------------------------------------------------------


def new_link(token_hash: str, learner_id: str, kind: str, now: str, expires_at: str | None) -> S:
    return S(
        "INSERT INTO signin_links (token_hash, learner_id, kind, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (token_hash, learner_id, kind, now, expires_at),
    )


def link_state(token_hash: str) -> S:
    """A link, with the learner it signs in (for the answer, and to say why it is refused)."""
    return S(
        "SELECT k.learner_id, k.kind, k.expires_at, k.used_at, l.name, l.team_id "
        "FROM signin_links k JOIN learners l ON l.id = k.learner_id WHERE k.token_hash = ?",
        (token_hash,),
    )


def redeem_link(
    token_hash: str, session_hash: str, device: str, now: str, expires_at: str
) -> list[S]:
    """Mark the link used and open a session with it, in one batch: only the batch whose UPDATE
    found the link unused and unexpired tags it with its session, and the INSERT copies only a
    link tagged so. However many batches race, one inserts a session (the last result's
    `changes` says whether this one did); the learner's ended sessions are cleared on the way.
    """
    mine = "FROM signin_links WHERE token_hash = ? AND session_hash = ?"
    return [
        S(
            "UPDATE signin_links SET used_at = ?, session_hash = ? WHERE token_hash = ? "
            "AND used_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
            (now, session_hash, token_hash, now),
        ),
        S(
            "DELETE FROM sessions WHERE expires_at <= ? "
            f"AND learner_id = (SELECT learner_id {mine})",
            (now, token_hash, session_hash),
        ),
        S(
            "INSERT INTO sessions (token_hash, learner_id, created_at, expires_at, last_seen, "
            f"device) SELECT ?, learner_id, ?, ?, ?, ? {mine}",
            (session_hash, now, expires_at, now, device, token_hash, session_hash),
        ),
    ]


def revoke_links(learner_id: str, now: str) -> S:
    """End every link of a learner not used yet (a re-issued invite replaces them all)."""
    return S(
        "UPDATE signin_links SET expires_at = ? WHERE learner_id = ? AND used_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?)",
        (now, learner_id, now),
    )


def prune_links(learner_id: str, before: str) -> S:
    """Forget a learner's device and email links that ended before `before` (invites stay, so
    a used or replaced one is still answered as such)."""
    return S(
        "DELETE FROM signin_links WHERE learner_id = ? AND kind IN ('device', 'email') "
        "AND expires_at < ?",
        (learner_id, before),
    )
