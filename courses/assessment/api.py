"""JSON about question sets at /api/assessment/ (session with CSRF, or a personal token).

The quiz page's JS submits through here, online or from its offline queue: the
client's `client_id` makes a resend harmless (201 the first time, 200 with
`replayed: true` after). Faculty author, mark and read statistics here too. Every
route calls the same services and selectors as the pages; refusals are raised and
mapped to `{"code", "message"}` by server/api.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Status

from courses.models import Answer, Attempt, Material, Module, Question, QuestionKind
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest

from . import selectors, services
from .statistics import question_set_statistics

router = Router()


class ErrorOut(Schema):
    code: str
    message: str


class OptionOut(Schema):
    id: int
    text: str


class QuestionOut(Schema):
    id: int
    kind: str
    prompt: str
    points: int
    image_url: str | None = None
    image_alt: str = ""
    options: list[OptionOut]


class QuestionSetOut(Schema):
    """A set as learners get it: no correct flags, feedback or model answers."""

    id: int
    course_id: int
    title: str
    instructions: str
    pass_mark: int
    max_attempts: int
    attempts_used: int
    questions: list[QuestionOut]


class AnswerIn(Schema):
    question_id: int
    options: list[int] = []
    text: str = ""


class AttemptIn(Schema):
    client_id: str
    answered_at: datetime | None = None
    answers: list[AnswerIn]


class ResultOptionOut(Schema):
    id: int
    text: str
    chosen: bool
    correct: bool | None = None
    feedback: str | None = None


class ResultQuestionOut(Schema):
    id: int
    kind: str
    prompt: str
    points: int
    awarded: float | None
    text: str
    marker_feedback: str
    options: list[ResultOptionOut]


class ResultOut(Schema):
    attempt_id: int
    client_id: str
    question_set_id: int
    number: int
    status: str
    score: float
    max_score: float
    percent: float
    pass_mark: int
    passed: bool | None
    attempts_used: int
    attempts_left: int
    answers_revealed: bool
    replayed: bool = False
    questions: list[ResultQuestionOut]


class QuestionSetIn(Schema):
    module_id: int
    title: str
    instructions: str = ""
    pass_mark: int = 60
    max_attempts: int = 3


class OptionIn(Schema):
    text: str
    correct: bool = False
    feedback: str = ""


class QuestionIn(Schema):
    kind: str
    prompt: str
    points: int = 1
    image_material_id: int | None = None
    model_answer: str = ""
    options: list[OptionIn] = []


class MoveIn(Schema):
    direction: str  # "up" or "down"


class QuestionEditOut(Schema):
    question_id: int
    version: int
    changed: bool
    answers_kept: int
    set: QuestionSetOut


class MarkIn(Schema):
    points: float
    feedback: str = ""


class ItemStatsOut(Schema):
    question_id: int
    prompt: str
    kind: str
    answered: int
    difficulty: float | None
    point_biserial: float | None
    upper_lower: float | None


class StatsOut(Schema):
    question_set_id: int
    learners: int
    mean_percent: float | None
    pass_rate: float | None
    items: list[ItemStatsOut]


def _answers(payload: AttemptIn) -> dict[int, dict[str, Any]]:
    answers: dict[int, dict[str, Any]] = {}
    for answer in payload.answers:
        if answer.question_id in answers:
            raise InvalidRequest(_("Each question is answered once."), code="bad_question")
        answers[answer.question_id] = {"options": answer.options, "text": answer.text}
    return answers


@router.get("/sets/{set_id}", response={200: QuestionSetOut, 403: ErrorOut, 404: ErrorOut}, summary="A question set")
def question_set_get(request: AuthenticatedHttpRequest, set_id: int) -> Any:
    question_set = selectors.question_set_get(user=request.user, question_set_id=set_id)
    return selectors.learner_question_set(user=request.user, question_set=question_set)


@router.post(
    "/sets/{set_id}/attempts",
    response={200: ResultOut, 201: ResultOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Submit an attempt (idempotent by client_id)",
)
def attempt_submit(request: AuthenticatedHttpRequest, set_id: int, payload: AttemptIn) -> Any:
    question_set = selectors.question_set_get(user=request.user, question_set_id=set_id)
    submission = services.attempt_submit(
        user=request.user,
        question_set=question_set,
        client_id=payload.client_id,
        answers=_answers(payload),
        answered_at=payload.answered_at,
    )
    result = selectors.attempt_result(user=request.user, attempt=submission.attempt)
    result["replayed"] = submission.replayed
    return Status(200 if submission.replayed else 201, result)


@router.get("/attempts/{attempt_id}", response={200: ResultOut, 403: ErrorOut, 404: ErrorOut}, summary="An attempt's result")
def attempt_get(request: AuthenticatedHttpRequest, attempt_id: int) -> Any:
    attempt = Attempt.objects.select_related("question_set__module__course").filter(pk=attempt_id).first()
    if attempt is None:
        raise PermissionRefused(_("This attempt is not yours."), code="not_found")
    return selectors.attempt_result(user=request.user, attempt=attempt)


@router.post(
    "/courses/{course_id}/sets",
    response={201: QuestionSetOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Add a question set to a module (faculty)",
)
def question_set_create(request: AuthenticatedHttpRequest, course_id: int, payload: QuestionSetIn) -> Any:
    module = get_object_or_404(Module.objects.select_related("course__institution"), pk=payload.module_id, course_id=course_id)
    question_set = services.question_set_create(
        by=request.user, module=module, title=payload.title, instructions=payload.instructions,
        pass_mark=payload.pass_mark, max_attempts=payload.max_attempts,
    )
    return Status(201, selectors.learner_question_set(user=request.user, question_set=question_set))


@router.post(
    "/sets/{set_id}/questions",
    response={201: QuestionSetOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Add a question (faculty)",
)
def question_add(request: AuthenticatedHttpRequest, set_id: int, payload: QuestionIn) -> Any:
    question_set = selectors.question_set_for_faculty(user=request.user, question_set_id=set_id)
    image = _question_image(payload)
    if payload.kind not in QuestionKind.values:
        raise InvalidRequest(_("Unknown kind of question."), code="bad_kind")
    services.question_add(
        by=request.user, question_set=question_set, kind=payload.kind, prompt=payload.prompt, points=payload.points,
        image=image, model_answer=payload.model_answer,
        options=[services.OptionDraft(o.text, o.correct, o.feedback) for o in payload.options],
    )
    return Status(201, selectors.learner_question_set(user=request.user, question_set=question_set))


def _question_image(payload: "QuestionIn") -> Material | None:
    """The library image a question shows, if it names one; whether the author may use it
    is the service's rule (`_clean_question`), this only refuses an id that is not there."""
    if payload.image_material_id is None:
        return None
    image = Material.objects.filter(pk=payload.image_material_id).first()
    if image is None:
        raise PermissionRefused(
            _("This material is not shared with your school, so it cannot be used in a question."),
            code="material_not_shared",
        )
    return image


def _faculty_question(request: AuthenticatedHttpRequest, set_id: int, question_id: int) -> Question:
    question_set = selectors.question_set_for_faculty(user=request.user, question_set_id=set_id)
    question = question_set.questions.filter(pk=question_id, retired_at__isnull=True).first()
    if question is None:
        raise PermissionRefused(_("No such question in this set (an edited one has a new id)."), code="not_found")
    question.question_set = question_set
    return question


@router.put(
    "/sets/{set_id}/questions/{question_id}",
    response={200: QuestionEditOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Edit a question (faculty): saved as a new version; attempts keep the one they answered",
)
def question_update(request: AuthenticatedHttpRequest, set_id: int, question_id: int, payload: QuestionIn) -> Any:
    question = _faculty_question(request, set_id, question_id)
    image = _question_image(payload)
    edit = services.question_update(
        by=request.user, question=question, kind=payload.kind, prompt=payload.prompt, points=payload.points,
        image=image, model_answer=payload.model_answer,
        options=[services.OptionDraft(o.text, o.correct, o.feedback) for o in payload.options],
    )
    return {
        "question_id": edit.question.pk, "version": edit.question.version, "changed": edit.changed,
        "answers_kept": edit.answered,
        "set": selectors.learner_question_set(user=request.user, question_set=question.question_set),
    }


@router.post(
    "/sets/{set_id}/questions/{question_id}/move",
    response={200: QuestionSetOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Move a question one place up or down (faculty)",
)
def question_move(request: AuthenticatedHttpRequest, set_id: int, question_id: int, payload: MoveIn) -> Any:
    question = _faculty_question(request, set_id, question_id)
    if payload.direction not in ("up", "down"):
        raise InvalidRequest(_("Move a question one place up or down."), code="bad_move")
    services.question_move(by=request.user, question=question, offset=-1 if payload.direction == "up" else 1)
    return selectors.learner_question_set(user=request.user, question_set=question.question_set)


@router.post(
    "/answers/{answer_id}/mark",
    response={200: ResultOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Mark a short answer (faculty)",
)
def answer_mark(request: AuthenticatedHttpRequest, answer_id: int, payload: MarkIn) -> Any:
    answer = Answer.objects.select_related("question__question_set__module__course", "attempt").filter(pk=answer_id).first()
    if answer is None:
        raise PermissionRefused(_("No such answer."), code="not_found")
    services.answer_mark(by=request.user, answer=answer, points=payload.points, feedback=payload.feedback)
    return selectors.attempt_result(user=request.user, attempt=Attempt.objects.get(pk=answer.attempt_id))


@router.get(
    "/sets/{set_id}/statistics", response={200: StatsOut, 403: ErrorOut, 404: ErrorOut}, summary="Item statistics (faculty)"
)
def statistics_get(request: AuthenticatedHttpRequest, set_id: int) -> Any:
    stats = question_set_statistics(user=request.user, question_set_id=set_id)
    return {
        "question_set_id": stats.question_set.pk,
        "learners": stats.learners,
        "mean_percent": stats.mean_percent,
        "pass_rate": stats.pass_rate,
        "items": [item.__dict__ for item in stats.items],
    }
