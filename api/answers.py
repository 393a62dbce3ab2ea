"""What the API answers, as JSON Schemas for GET /api/openapi.json: the objects several
operations of api/operations.py answer, and the named schemas the document lists. Apart from
the operations only to keep each module short.
"""

from __future__ import annotations

from .openapi import array, nullable, obj, ref, typed

STEP = ref("Step")
NOTE_ANSWER = obj(stepId=str, title=(str, None), module=(str, None), text=str, updatedAt=str)
AWARDS = {"xp": array(obj(cause=str, amount=int)), "badges": array(str)}
VERSION = obj(
    seq=typed((int, None), "publication order"),
    label=typed(str, "v<seq>, what the admin page shows"),
    version=typed(str, "the manifest's content hash"),
    publishedAt=(str, None),
    current=bool,
    learners=int,
)
QUIZ_FIGURES = obj(tried=int, firstTryPassed=int, firstTryRate=(float, None))
INSIGHT_STEP = obj(
    position=int,
    id=str,
    title=str,
    kind={"type": "string", "enum": ["video", "lesson", "quiz"]},
    module=str,
    onStep=typed(int, "learners whose open step it is"),
    stalled=typed(int, "of them, open for over stallDays"),
    completed=typed(int, "learners who finished it (funnel)"),
    completedShare=(float, None),
    medianSeconds=typed((float, None), "exact median time open"),
    quiz={"oneOf": [{"type": "null"}, QUIZ_FIGURES]},
)
INSIGHT = obj(
    teamId=str,
    generatedAt=str,
    stallDays=int,
    course=dict,
    learners=int,
    neverSignedIn=typed(int, "enrolled, never signed in: on no step"),
    notStarted=typed(int, "signed in, not placed on the path yet"),
    finished=int,
    elsewhere=int,
    versions=array(VERSION),
    steps=array(INSIGHT_STEP),
    streaks=array(dict),
)
SCHEMAS = {
    "Step": obj(
        id=str, type={"type": "string", "enum": ["video", "lesson", "quiz"]}, title=str, module=str
    ),
    "Progress": obj(
        userId=str,
        teamId=str,
        xp=int,
        level=int,
        xpToNextLevel=int,
        badges={"type": "array"},
        streak=dict,
        currentStep=nullable(STEP),
        currentStepDone=typed(bool, "the open step is done: it stays open until POST /api/next"),
        summary={
            "oneOf": [
                {"type": "null"},
                obj(seconds=int, quizzes=array(obj(stepId=str, title=str, score=float))),
            ],
            "description": "once the course is finished: time on the steps, best quiz scores",
        },
        completed=array(str),
    ),
}
