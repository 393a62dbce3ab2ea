"""Certificates' statements (api/certificates.py): issue once, read, list, revoke.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S

CERTIFICATE_COLUMNS = (
    "c.id, c.learner_id, c.status_index, c.course_version, c.credential, c.issued_at, "
    "c.revoked_at, c.revoked_reason"
)


def certificate_of(learner_id: str) -> S:
    return S(
        f"SELECT {CERTIFICATE_COLUMNS} FROM certificates c WHERE c.learner_id = ?", (learner_id,)
    )


def certificate_by_id(certificate_id: str) -> S:
    return S(f"SELECT {CERTIFICATE_COLUMNS} FROM certificates c WHERE c.id = ?", (certificate_id,))


def issue_certificate(
    certificate_id: str, learner_id: str, index: int, version: str, credential: str, now: str
) -> S:
    """Ignored when the learner already has one (a race: the first stays, for good) or when the
    status index is taken (the caller draws another)."""
    return S(
        "INSERT OR IGNORE INTO certificates "
        "(id, learner_id, status_index, course_version, credential, issued_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (certificate_id, learner_id, index, version, credential, now),
    )


def certificates_listed() -> S:
    """Every certificate with its learner (if still enrolled), newest first (the teacher's)."""
    return S(
        f"SELECT {CERTIFICATE_COLUMNS}, l.name, l.email, l.team_id FROM certificates c "
        "LEFT JOIN learners l ON l.id = c.learner_id ORDER BY c.issued_at DESC, c.id",
        scan=True,
    )


def revoke_certificate(certificate_id: str, now: str, reason: str) -> S:
    """Revocation is for good: a revoked certificate keeps its first date and reason."""
    return S(
        "UPDATE certificates SET revoked_at = ?, revoked_reason = ? "
        "WHERE id = ? AND revoked_at IS NULL",
        (now, reason, certificate_id),
    )


def revoked_indexes() -> S:
    """The status list's set bits."""
    return S("SELECT status_index FROM certificates WHERE revoked_at IS NOT NULL ORDER BY 1")


def evidence_completions(learner_id: str) -> S:
    return S(
        "SELECT step_id, kind, completed_at, seconds FROM completions WHERE learner_id = ? "
        "ORDER BY completed_at, rowid",
        (learner_id,),
    )


def evidence_views(learner_id: str) -> S:
    return S("SELECT step_id, watched FROM video_views WHERE learner_id = ?", (learner_id,))


def evidence_attempts(learner_id: str) -> S:
    """Every quiz attempt in order: the first and the last of each step are the evidence."""
    return S(
        "SELECT step_id, score, passed FROM quiz_attempts WHERE learner_id = ? ORDER BY id",
        (learner_id,),
    )
