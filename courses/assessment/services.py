"""Writes about assessment: authoring question sets, submitting attempts, marking.

Every function checks permission itself (tests call them directly) and raises
`PermissionRefused` / `InvalidRequest` with a message for people. Authoring emits the
course's `course.outline_changed` event; a submitted attempt emits
`course.attempt_submitted` (ids only) so a marking page could refresh.

Scoring: a single-choice question scores its points when the one chosen option is
correct; a multiple-choice question when the chosen options are exactly the correct
ones (all or nothing: partial credit would reward ticking everything); a short answer
waits for faculty, and its attempt has no pass/fail until every short answer in it is
marked.

Editing: a saved edit of a question is a new version of it; the old row is retired, not
changed, so attempts keep what they answered (`question_update`). Moves renumber the
current questions under the set's lock (`question_move`).

Idempotency: an attempt is keyed by (learner, client_id). A second submission with the
same client_id returns the first attempt unchanged (`replayed=True`), whatever it
carries, and never uses an attempt. Submissions of one set are serialised by a row lock
on the set, so two copies arriving at once cannot both pass the attempts check.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.curriculum.events import course_event_emit
from courses.curriculum.services import clean_text
from courses.library.selectors import material_visible_to
from courses.models import (
    Answer,
    AnswerOption,
    Attempt,
    AttemptStatus,
    Material,
    Module,
    Question,
    QuestionKind,
    QuestionSet,
    question_lineages_keep,
)
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User

from .selectors import attempt_questions, current_questions, require_faculty, require_learner

logger = logging.getLogger(__name__)

MAX_QUESTIONS = 100
MAX_OPTIONS = 10
#: How far back an offline answer's own time is believed (a phone's clock can be wrong).
OFFLINE_CLOCK_WINDOW = timedelta(days=60)


def _check_settings(pass_mark: int, max_attempts: int) -> None:
    if not 0 <= int(pass_mark) <= 100:
        raise InvalidRequest(_("The pass mark is a percentage from 0 to 100."), code="bad_pass_mark")
    if not 1 <= int(max_attempts) <= 50:
        raise InvalidRequest(_("Allow from 1 to 50 attempts."), code="bad_max_attempts")


# -- authoring -------------------------------------------------------------------------------


def question_set_create(
    *, by: User, module: Module, title: str, instructions: str = "", pass_mark: int = 60, max_attempts: int = 3
) -> QuestionSet:
    """Append a question set to a module (after its materials)."""
    course = module.course
    require_faculty(user=by, course=course)
    _check_settings(pass_mark, max_attempts)
    question_set = QuestionSet.objects.create(
        module=module,
        title=clean_text(title, label=_("Title"), max_length=200, required=True),
        instructions=clean_text(instructions, label=_("Instructions"), max_length=2000, required=False),
        pass_mark=int(pass_mark),
        max_attempts=int(max_attempts),
        position=QuestionSet.objects.filter(module=module).count(),
        created_by=by,
    )
    course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"question_set_id": question_set.pk})
    return question_set


def question_set_update(
    *, by: User, question_set: QuestionSet, title: str, instructions: str, pass_mark: int, max_attempts: int
) -> QuestionSet:
    """Change a set's text and rules. Attempts already made keep their pass/fail."""
    course = question_set.module.course
    require_faculty(user=by, course=course)
    _check_settings(pass_mark, max_attempts)
    question_set.title = clean_text(title, label=_("Title"), max_length=200, required=True)
    question_set.instructions = clean_text(instructions, label=_("Instructions"), max_length=2000, required=False)
    question_set.pass_mark = int(pass_mark)
    question_set.max_attempts = int(max_attempts)
    question_set.save(update_fields=["title", "instructions", "pass_mark", "max_attempts"])
    course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"question_set_id": question_set.pk})
    return question_set


def question_set_delete(*, by: User, question_set: QuestionSet) -> None:
    """Delete a set with its questions and attempts. A question moved from it to another
    set (`question_transfer`) keeps its versions there: their `origin` is re-pointed to
    the earliest of them first, since the cascade from the origin row would delete them."""
    course = question_set.module.course
    require_faculty(user=by, course=course)
    with transaction.atomic():
        question_lineages_keep(leaving=QuestionSet.objects.filter(pk=question_set.pk))
        question_set.delete()
    course_event_emit(kind="course.outline_changed", course_id=course.pk)


@dataclass(frozen=True)
class OptionDraft:
    text: str
    is_correct: bool = False
    feedback: str = ""


@dataclass(frozen=True)
class _CleanQuestion:
    kind: str
    prompt: str
    points: int
    model_answer: str
    image: Material | None
    options: list[OptionDraft]


def _clean_question(
    *, by: User, kind: str, prompt: str, options: Sequence[OptionDraft], image: Material | None, points: int,
    model_answer: str, kept_image_id: int | None = None,
) -> _CleanQuestion:
    """The rules of a question (adding or editing): choice questions need 2 to 10 options,
    single choice exactly one correct, multiple choice at least one; a short answer has no
    options; the image must be a material the author may see, unless it is the edited
    question's own image kept as it was (`kept_image_id`): a material can stop being
    shared with the editor's school after it was chosen (or another editor chose it), and
    keeping it shows the editor nothing new, while refusing would make the question
    uneditable without dropping its image."""
    if kind not in QuestionKind.values:
        raise InvalidRequest(_("Unknown kind of question."), code="bad_kind")
    prompt = clean_text(prompt, label=_("Question"), max_length=2000, required=True)
    try:
        points = int(points)
    except (TypeError, ValueError):
        raise InvalidRequest(_("A question is worth from 1 to 100 points."), code="bad_points") from None
    if not 1 <= points <= 100:
        raise InvalidRequest(_("A question is worth from 1 to 100 points."), code="bad_points")
    drafts = [o for o in options if (o.text or "").strip()]
    if kind == QuestionKind.SHORT:
        if drafts:
            raise InvalidRequest(_("A short-answer question has no options."), code="bad_options")
    else:
        if not 2 <= len(drafts) <= MAX_OPTIONS:
            raise InvalidRequest(
                _("A choice question needs from 2 to %(n)d options.") % {"n": MAX_OPTIONS}, code="bad_options"
            )
        correct = sum(1 for o in drafts if o.is_correct)
        if kind == QuestionKind.SINGLE and correct != 1:
            raise InvalidRequest(_("Mark exactly one option as correct."), code="bad_correct")
        if kind == QuestionKind.MULTIPLE and correct < 1:
            raise InvalidRequest(_("Mark at least one option as correct."), code="bad_correct")
    if image is not None and image.pk != kept_image_id and not material_visible_to(by).filter(pk=image.pk).exists():
        raise PermissionRefused(
            _("This material is not shared with your school, so it cannot be used in a question."),
            code="material_not_shared",
        )
    return _CleanQuestion(
        kind=kind,
        prompt=prompt,
        points=points,
        model_answer=clean_text(model_answer, label=_("Model answer"), max_length=2000, required=False),
        image=image,
        options=[
            OptionDraft(
                text=clean_text(o.text, label=_("Option"), max_length=500, required=True),
                is_correct=bool(o.is_correct),
                feedback=clean_text(o.feedback, label=_("Feedback"), max_length=1000, required=False),
            )
            for o in drafts
        ],
    )


def _create_options(question: Question, drafts: Sequence[OptionDraft]) -> None:
    AnswerOption.objects.bulk_create(
        [
            AnswerOption(question=question, text=o.text, is_correct=o.is_correct, feedback=o.feedback, position=index)
            for index, o in enumerate(drafts)
        ]
    )


def _renumber(question_set: QuestionSet, order: Sequence[Question] | None = None) -> None:
    """Positions 0..n-1 for the current questions, in `order` (default: as they are)."""
    for index, row in enumerate(order if order is not None else list(current_questions(question_set))):
        if row.position != index:
            row.position = index
            row.save(update_fields=["position"])


def _question_create(
    question_set: QuestionSet, clean: "_CleanQuestion", *, by: User, position: int, origin_id: int | None = None,
    version: int = 1, at: datetime | None = None,
) -> Question:
    """A question row and its options from checked fields: a new question, or the next
    version of one (`origin_id` names its first version), written by `by` at `at`."""
    question = Question.objects.create(
        question_set=question_set,
        created_by=by,
        created_at=at or timezone.now(),
        kind=clean.kind,
        prompt=clean.prompt,
        image=clean.image,
        points=clean.points,
        model_answer=clean.model_answer,
        position=position,
        origin_id=origin_id,
        version=version,
    )
    _create_options(question, clean.options)
    return question


def question_add(
    *,
    by: User,
    question_set: QuestionSet,
    kind: str,
    prompt: str,
    options: Sequence[OptionDraft] = (),
    image: Material | None = None,
    points: int = 1,
    model_answer: str = "",
) -> Question:
    """Add a question at the end of the set (the rules are `_clean_question`'s)."""
    course = question_set.module.course
    require_faculty(user=by, course=course)
    clean = _clean_question(
        by=by, kind=kind, prompt=prompt, options=options, image=image, points=points, model_answer=model_answer
    )
    with transaction.atomic():
        QuestionSet.objects.select_for_update().filter(pk=question_set.pk).first()
        count = current_questions(question_set).count()
        if count >= MAX_QUESTIONS:
            raise InvalidRequest(_("A question set has at most %(n)d questions.") % {"n": MAX_QUESTIONS}, code="too_many")
        question = _question_create(question_set, clean, by=by, position=count)
        course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"question_set_id": question_set.pk})
    return question


@dataclass(frozen=True)
class QuestionEdit:
    """What `question_update` did: `question` is the version learners are asked now;
    `answered` how many answers the replaced version keeps."""

    question: Question
    changed: bool
    answered: int = 0


def _same_as(question: Question, clean: _CleanQuestion) -> bool:
    options = [(o.text, o.is_correct, o.feedback) for o in question.options.order_by("position", "pk")]
    return (
        (question.kind, question.prompt, question.points, question.model_answer, question.image_id)
        == (clean.kind, clean.prompt, clean.points, clean.model_answer, clean.image.pk if clean.image else None)
        and options == [(o.text, o.is_correct, o.feedback) for o in clean.options]
    )


def question_update(
    *,
    by: User,
    question: Question,
    kind: str,
    prompt: str,
    options: Sequence[OptionDraft] = (),
    image: Material | None = None,
    points: int = 1,
    model_answer: str = "",
) -> QuestionEdit:
    """Edit a question's text, options, answer key, feedback, points or image.

    The edit becomes a new version at the same place in the set; the edited row is
    retired with its options, never changed or deleted. Why every time, not only once
    answered (Moodle's rule too): attempts that answered it keep the version the learner
    saw (result, feedback and score unchanged), and so does an answer still on its way
    from a learner who had the page open or answered offline before the edit
    (`selectors.attempt_questions` marks it against that version instead of refusing
    it). An edit that changes nothing does nothing. Serialised with submissions by the
    set's row lock. The question's own image may be kept even if it is no longer shared
    with the editor (see `_clean_question`); any other image must be.
    """
    question_set = question.question_set
    course = question_set.module.course
    require_faculty(user=by, course=course)
    clean = _clean_question(
        by=by, kind=kind, prompt=prompt, options=options, image=image, points=points, model_answer=model_answer,
        kept_image_id=question.image_id,
    )
    with transaction.atomic():
        QuestionSet.objects.select_for_update().filter(pk=question_set.pk).first()
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.retired_at is not None:
            raise InvalidRequest(
                _("This version of the question was replaced or removed; edit the current one."), code="retired_question"
            )
        if _same_as(question, clean):
            return QuestionEdit(question=question, changed=False)
        answered = Answer.objects.filter(question=question).count()
        question.retired_at, question.retired_by = timezone.now(), by
        question.save(update_fields=["retired_at", "retired_by"])
        # Dated as the old one was retired: the history reads one moment for both.
        current = _question_create(
            question_set, clean, by=by, position=question.position, origin_id=question.lineage,
            version=question.version + 1, at=question.retired_at,
        )
        course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"question_set_id": question_set.pk})
    logger.info("question set %s question %s is version %s of %s (%s answers kept)", question_set.pk, current.pk,
                current.version, current.lineage, answered)
    return QuestionEdit(question=current, changed=True, answered=answered)


def question_move(*, by: User, question: Question, offset: int) -> None:
    """Move a current question `offset` places (-1 up, +1 down); at an end it stays.
    Positions are renumbered 0..n-1 under the set's lock, so two editors moving at once
    cannot leave two questions in one place. Order changes no score."""
    question_set = question.question_set
    course = question_set.module.course
    require_faculty(user=by, course=course)
    if offset not in (-1, 1):
        raise InvalidRequest(_("Move a question one place up or down."), code="bad_move")
    with transaction.atomic():
        QuestionSet.objects.select_for_update().filter(pk=question_set.pk).first()
        order = list(current_questions(question_set))
        index = next((i for i, row in enumerate(order) if row.pk == question.pk), None)
        if index is None:
            raise InvalidRequest(_("This version of the question is no longer asked."), code="retired_question")
        target = index + offset
        if 0 <= target < len(order):
            order[index], order[target] = order[target], order[index]
        _renumber(question_set, order)
        course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"question_set_id": question_set.pk})


def question_transfer(*, by: User, question: Question, to_set: QuestionSet) -> Question:
    """Move a current question to the end of another set of the same course; returns the
    version now asked there.

    The move is a new version of the question in the target set (same `origin`, the next
    `version`, the same text, options and key), and the moved row is retired where it
    was, as an edit retires it. Why not change the row's set: attempts at the old set
    answered that row, so it stays in the old set with them (their results, scores and
    that set's statistics are unchanged), and an answer to it still on its way from an
    offline learner of the old set is marked as after a removal
    (`selectors.attempt_questions`, within the late-answer window); the question's
    history (`selectors.question_history`) lists its versions in both sets. Both sets'
    row locks are taken in id order (as submissions take one), so a move cannot
    interleave with an attempt or an edit of either set, nor deadlock with a move the
    other way.
    """
    from_set = question.question_set
    course = from_set.module.course
    require_faculty(user=by, course=course)
    if to_set.module.course_id != course.pk:
        raise InvalidRequest(_("A question moves only to another question set of the same course."), code="bad_move")
    if to_set.pk == from_set.pk:
        raise InvalidRequest(_("Choose another question set to move the question to."), code="bad_move")
    with transaction.atomic():
        for locked in sorted((from_set.pk, to_set.pk)):
            QuestionSet.objects.select_for_update().filter(pk=locked).first()
        question = Question.objects.select_for_update().get(pk=question.pk)  # no outer join: PostgreSQL refuses one
        if question.retired_at is not None:
            raise InvalidRequest(_("This version of the question is no longer asked."), code="retired_question")
        count = current_questions(to_set).count()
        if count >= MAX_QUESTIONS:
            raise InvalidRequest(_("A question set has at most %(n)d questions.") % {"n": MAX_QUESTIONS}, code="too_many")
        question.retired_at, question.retired_by = timezone.now(), by
        question.save(update_fields=["retired_at", "retired_by"])
        clean = _CleanQuestion(
            kind=question.kind, prompt=question.prompt, points=question.points, model_answer=question.model_answer,
            image=question.image,
            options=[OptionDraft(o.text, o.is_correct, o.feedback) for o in question.options.order_by("position", "pk")],
        )
        moved = _question_create(
            to_set, clean, by=by, position=count, origin_id=question.lineage, version=question.version + 1,
            at=question.retired_at,
        )
        _renumber(from_set)
        for changed in (from_set, to_set):
            course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"question_set_id": changed.pk})
    logger.info("question %s moved from set %s to set %s as question %s (version %s)", question.pk, from_set.pk,
                to_set.pk, moved.pk, moved.version)
    return moved


def question_remove(*, by: User, question: Question) -> None:
    """Take a question out of the set: retired, not deleted (as an edit retires the old
    version), so attempts that answered it keep their answers, feedback and scores, and an
    answer still on its way from an offline learner is marked, not refused."""
    question_set = question.question_set
    require_faculty(user=by, course=question_set.module.course)
    with transaction.atomic():
        QuestionSet.objects.select_for_update().filter(pk=question_set.pk).first()
        Question.objects.filter(pk=question.pk).update(retired_at=timezone.now(), retired_by=by)
        _renumber(question_set)
    course_event_emit(kind="course.outline_changed", course_id=question_set.module.course_id)


# -- attempts --------------------------------------------------------------------------------


@dataclass
class Submission:
    attempt: Attempt
    replayed: bool


def _parse_client_id(value: str | uuid.UUID) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidRequest(_("The attempt id is not a valid UUID."), code="bad_client_id") from None


def _answered_at(value: datetime | None) -> datetime:
    now = timezone.now()
    if value is None or timezone.is_naive(value) or not now - OFFLINE_CLOCK_WINDOW <= value <= now + timedelta(minutes=5):
        return now
    return min(value, now)


def _score(question: Question, chosen: set[int]) -> float:
    correct = {o.pk for o in question.options.all() if o.is_correct}
    if question.kind == QuestionKind.SINGLE:
        return float(question.points) if len(chosen) == 1 and chosen <= correct else 0.0
    return float(question.points) if chosen == correct else 0.0


def _finish(attempt: Attempt, question_set: QuestionSet) -> None:
    """Set score, status and pass from the attempt's answers."""
    answers = list(attempt.answers.all())
    pending = any(a.points is None for a in answers)
    attempt.score = float(sum(a.points or 0 for a in answers))
    attempt.status = AttemptStatus.PENDING if pending else AttemptStatus.GRADED
    if pending:
        attempt.passed = None
    else:
        percent = 100 * attempt.score / attempt.max_score if attempt.max_score else 100.0
        # A float sum of integer points compared with an integer mark: no rounding surprises.
        attempt.passed = percent + 1e-9 >= question_set.pass_mark


def _attempt_answers(
    *, question_set: QuestionSet, user: User, answers: Mapping[int, Mapping[str, Any]], now: datetime
) -> tuple[dict[int, Question], dict[int, tuple[set[int], str]]]:
    """The questions an attempt covers (`selectors.attempt_questions`) and its answers
    parsed against them: question id → (chosen option ids, text). Raises `InvalidRequest`
    for an unknown question or option. Precondition: the set's row lock is held."""
    submitted: set[int] = set()
    for raw_id in answers:
        try:
            submitted.add(int(raw_id))
        except (TypeError, ValueError):
            raise InvalidRequest(_("Unknown question."), code="bad_question") from None
    questions = {q.pk: q for q in attempt_questions(question_set=question_set, answered_ids=submitted, user=user, now=now)}
    if not questions:
        raise InvalidRequest(_("This question set has no questions yet."), code="empty_set")
    parsed: dict[int, tuple[set[int], str]] = {}
    for raw_id, raw in answers.items():
        try:
            question_id = int(raw_id)
        except (TypeError, ValueError):
            raise InvalidRequest(_("Unknown question."), code="bad_question") from None
        question = questions.get(question_id)
        if question is None:
            raise InvalidRequest(_("Question %(id)s is not in this set.") % {"id": raw_id}, code="bad_question")
        option_ids = {int(o) for o in (raw.get("options") or []) if str(o).lstrip("-").isdigit()}
        if len(option_ids) != len(raw.get("options") or []):
            raise InvalidRequest(_("Options are given by their ids."), code="bad_option")
        valid = {o.pk for o in question.options.all()}
        if not option_ids <= valid:
            raise InvalidRequest(_("An option does not belong to its question."), code="bad_option")
        if question.kind == QuestionKind.SINGLE and len(option_ids) > 1:
            raise InvalidRequest(_("Choose one option for a single-choice question."), code="bad_option")
        text = str(raw.get("text") or "")
        if question.kind == QuestionKind.SHORT:
            if option_ids:
                raise InvalidRequest(_("A short-answer question takes text, not options."), code="bad_option")
            text = clean_text(text, label=_("Answer"), max_length=5000, required=False)
        else:
            text = ""
        parsed[question_id] = (option_ids, text)
    return questions, parsed


def attempt_submit(
    *,
    user: User,
    question_set: QuestionSet,
    client_id: str | uuid.UUID,
    answers: Mapping[int, Mapping[str, Any]],
    answered_at: datetime | None = None,
) -> Submission:
    """Record and grade one attempt; the same `client_id` again returns the first attempt.

    `answers` maps question id → {"options": [option ids], "text": str}. A question left
    out is answered blank (no points). Refused: not a learner of the course, an unknown
    question or option, two options for a single-choice question, an older version of a
    question the learner's paper can no longer carry (`selectors.attempt_questions`), no
    attempt left. The questions are read and the answers checked under the set's row
    lock, so an attempt is recorded wholly before or wholly after an edit.
    """
    require_learner(user=user, question_set=question_set)
    client_uuid = _parse_client_id(client_id)
    existing = Attempt.objects.filter(user=user, client_id=client_uuid).first()
    if existing is not None:
        return _replayed(existing, question_set)
    try:
        with transaction.atomic():
            QuestionSet.objects.select_for_update().filter(pk=question_set.pk).first()
            existing = Attempt.objects.filter(user=user, client_id=client_uuid).first()
            if existing is not None:
                return _replayed(existing, question_set)
            now = timezone.now()
            # Read under the lock: the questions, their versions and keys are those of one
            # moment, wholly before or wholly after any edit (edits take the same lock).
            questions, parsed = _attempt_answers(question_set=question_set, user=user, answers=answers, now=now)
            used = Attempt.objects.filter(user=user, question_set=question_set).count()
            if used >= question_set.max_attempts:
                raise InvalidRequest(
                    _("You have used all %(n)d attempts at this question set.") % {"n": question_set.max_attempts},
                    code="no_attempts_left",
                )
            attempt = Attempt.objects.create(
                question_set=question_set,
                user=user,
                client_id=client_uuid,
                number=used + 1,
                max_score=float(sum(q.points for q in questions.values())),
                answered_at=_answered_at(answered_at),
                received_at=now,
            )
            for question in questions.values():
                option_ids, text = parsed.get(question.pk, (set(), ""))
                if question.kind == QuestionKind.SHORT:
                    points = None if text else 0.0  # a blank short answer needs no marker
                else:
                    points = _score(question, option_ids)
                answer = Answer.objects.create(attempt=attempt, question=question, text=text, points=points)
                if option_ids:
                    answer.options.set(option_ids)
            _finish(attempt, question_set)
            attempt.save(update_fields=["score", "status", "passed"])
            course_event_emit(
                kind="course.attempt_submitted",
                course_id=question_set.module.course_id,
                data={"question_set_id": question_set.pk, "attempt_id": attempt.pk, "user_id": attempt.user_id},
            )
    except IntegrityError:
        # The same client_id committed by a concurrent request between our check and insert.
        existing = Attempt.objects.filter(user=user, client_id=client_uuid).first()
        if existing is None:
            raise
        return _replayed(existing, question_set)
    logger.info("question set %s attempt %s (#%s) recorded", question_set.pk, attempt.pk, attempt.number)
    return Submission(attempt=attempt, replayed=False)


def _replayed(existing: Attempt, question_set: QuestionSet) -> Submission:
    if existing.question_set_id != question_set.pk:
        raise InvalidRequest(_("This attempt id was already used for another question set."), code="client_id_reused")
    logger.info("question set %s attempt %s replayed", question_set.pk, existing.pk)
    return Submission(attempt=existing, replayed=True)


# -- marking ---------------------------------------------------------------------------------


def answer_mark(*, by: User, answer: Answer, points: float, feedback: str = "") -> Answer:
    """Faculty mark a short answer (0..the question's points); the attempt is graded when its
    last short answer is marked. Marking again corrects the mark."""
    question = answer.question
    question_set = question.question_set
    require_faculty(user=by, course=question_set.module.course)
    if question.kind != QuestionKind.SHORT:
        raise InvalidRequest(_("Only short answers are marked by hand."), code="not_short_answer")
    try:
        value = float(points)
    except (TypeError, ValueError):
        raise InvalidRequest(_("Give the points as a number."), code="bad_points") from None
    if not 0 <= value <= question.points:
        raise InvalidRequest(
            _("Give from 0 to %(n)d points.") % {"n": question.points}, code="bad_points"
        )
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().get(pk=answer.attempt_id)
        answer.points = value
        answer.marker_feedback = clean_text(feedback, label=_("Feedback"), max_length=2000, required=False)
        answer.marked_by = by
        answer.marked_at = timezone.now()
        answer.save(update_fields=["points", "marker_feedback", "marked_by", "marked_at"])
        _finish(attempt, question_set)
        attempt.save(update_fields=["score", "status", "passed"])
        course_event_emit(
            kind="course.answer_marked",
            course_id=question_set.module.course_id,
            data={"question_set_id": question_set.pk, "attempt_id": attempt.pk, "user_id": attempt.user_id},
        )
    return answer
