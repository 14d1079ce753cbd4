"""Permission-checked reads about question sets and results.

Who is who:
- a *learner* of a course is a signed-in person who may open the published course
  (`course_visible_to`) and is not one of its editors; only learners submit attempts;
- the course's *faculty* are its editors (`course_can_edit`: owner, coordinators of the
  course's school, staff); only they author, mark and read statistics.

What leaves the server for a learner: `learner_question_set` never carries which
options are correct or their feedback; those appear in `attempt_result`, after
submission, and the correct options only once the learner passed or has no attempt
left (otherwise the next attempt would be a copy of the answer key).

Read by other features (certificates, portfolio, school report):
`course_passed(user=, course=)`, `course_passers(course=, user_ids=)` and
`course_assessment_results(user=, course=)`. A set without any current question (all
removed, or none added yet) is not part of the verdict: nobody could pass it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.curriculum.selectors import CourseCompletion, course_can_edit, course_visible_to, courses_completed
from courses.library.selectors import material_visible_to
from courses.models import (
    Answer,
    AnswerOption,
    Attempt,
    AttemptStatus,
    Course,
    FileRole,
    Material,
    MaterialFile,
    Question,
    QuestionKind,
    QuestionSet,
)
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AnyUser
from server.people.models import User

# -- who may do what -------------------------------------------------------------------------


def question_set_is_learner(*, user: AnyUser, question_set: QuestionSet) -> bool:
    course = question_set.module.course
    return (
        user.is_authenticated
        and course.is_published
        and course_visible_to(user=user, course=course)
        and not course_can_edit(user=user, course=course)
    )


def require_learner(*, user: AnyUser, question_set: QuestionSet) -> None:
    """`PermissionRefused` unless `user` takes this course as a learner."""
    if not user.is_authenticated:
        raise PermissionRefused(_("Log in to answer this question set."), code="login_required")
    course = question_set.module.course
    if course_can_edit(user=user, course=course):
        raise PermissionRefused(
            _("You teach this course: you can preview its question sets but not submit answers."),
            code="course_faculty",
        )
    if not question_set_is_learner(user=user, question_set=question_set):
        raise PermissionRefused(_("This course does not exist or is not open to you."), code="course_not_visible")


def require_faculty(*, user: AnyUser, course: Course) -> None:
    if not course_can_edit(user=user, course=course):
        raise PermissionRefused(
            _("Only the course's author or a coordinator of its school can do this."), code="not_course_faculty"
        )


def question_set_get(*, user: AnyUser, question_set_id: int) -> QuestionSet:
    """The set if the user may open its course (as learner or faculty); a missing id and a
    hidden one get the same refusal."""
    question_set = (
        QuestionSet.objects.select_related("module__course__institution", "module__course__owner")
        .filter(pk=question_set_id)
        .first()
    )
    if question_set is None or not course_visible_to(user=user, course=question_set.module.course):
        raise PermissionRefused(
            _("This question set does not exist or is not open to you."), code="not_found"
        )
    return question_set


def question_sets_of_course(*, course: Course) -> QuerySet[QuestionSet]:
    """Every set of the course, empty ones too (faculty list them to fill them in).
    Precondition: the caller checked that the viewer may open `course`."""
    return QuestionSet.objects.filter(module__course=course).select_related("module").order_by(
        "module__position", "position", "pk"
    )


def _has_current_question() -> Exists:
    return Exists(Question.objects.filter(question_set=OuterRef("pk"), retired_at__isnull=True))


def question_sets_with_questions() -> QuerySet[QuestionSet]:
    """Sets (of any course) with at least one current question: the ones a course's
    verdict counts. A set whose questions were all removed, or that has none yet, is
    left out: counting it would make its course impossible to pass (and certify)."""
    return QuestionSet.objects.filter(_has_current_question())


def question_sets_counted(*, course: Course) -> QuerySet[QuestionSet]:
    """The course's sets that its verdict counts (`question_sets_with_questions`), in order."""
    return question_sets_of_course(course=course).filter(_has_current_question())


# -- what a learner sees ---------------------------------------------------------------------


@dataclass
class ImageView:
    url: str
    alt: str
    caption: str = ""
    storage_name: str = ""
    name: str = ""
    size: int = 0


def question_image(*, user: AnyUser, material: Material | None) -> ImageView | None:
    """The first image file of the material's current version, if this viewer may see the
    material; served by the library's own private file URL (which checks again)."""
    if material is None or not material_visible_to(user=user).filter(pk=material.pk).exists():
        return None
    version = material.current_version()
    if version is None:
        return None
    files: list[MaterialFile] = [
        f
        for f in version.files.order_by("position", "pk")
        if f.role == FileRole.CASE_IMAGE or f.content_type.startswith("image/")
        or f.original_name.lower().rsplit(".", 1)[-1] in {"png", "jpg", "jpeg", "gif", "webp"}
    ]
    files = [f for f in files if f.role != FileRole.THUMBNAIL] or files
    if not files:
        return None
    chosen = files[0]
    return ImageView(
        url=f"/library/{material.pk}/files/{chosen.pk}/",
        alt=chosen.caption or material.title,
        caption=chosen.caption,
        storage_name=chosen.storage_name,
        name=chosen.original_name,
        size=chosen.size,
    )


@dataclass
class QuestionView:
    question: Question
    options: list[AnswerOption]
    image: ImageView | None


def current_questions(question_set: QuestionSet) -> QuerySet[Question]:
    """The questions a learner is asked now, in order (versions kept only for the attempts
    that answered them are left out). Precondition: the caller may open the set."""
    return question_set.questions.filter(retired_at__isnull=True).order_by("position", "pk")


def late_answer_window() -> timedelta:
    """How long after an edit an answer to the replaced version is still marked
    (setting ASSESSMENT_LATE_ANSWER_DAYS)."""
    return timedelta(days=int(getattr(settings, "ASSESSMENT_LATE_ANSWER_DAYS", 14)))


def attempt_questions(
    *, question_set: QuestionSet, answered_ids: set[int], user: User, now: datetime | None = None
) -> list[Question]:
    """The questions an attempt covers: the current ones, except that an answer to an
    older version (the learner answered offline, or had the page open, while faculty
    edited or removed the question) is kept and marked against that version, in place of
    the current one. Two versions of one question in one attempt are refused.

    An older version is accepted only if the learner's paper can have carried it: it was
    retired after this learner's latest earlier attempt at the set was received, and at
    most `late_answer_window()` (ASSESSMENT_LATE_ANSWER_DAYS, 14 by default) before
    `now`; otherwise `bad_question`. Why this rule: the server keeps no record of when a
    paper was served (the page, the API and the offline bundle hand it out without one,
    and the attempt's `answered_at` is the device's clock, which the learner sets), but
    it does know when each attempt arrived, and the quiz page takes one attempt per load
    (its form hides once submitted; trying again loads the set again, now at its new
    version). So an old version in an attempt that follows one received after the edit
    is a copy kept from before (the old, corrected answer key replayed, or a removed
    question added back), never a paper still on its way. The window bounds how long a
    paper opened before an edit stays answerable (a phone offline for two weeks); past
    it, the edit wins. What the rule lets through: a learner whose earlier attempts all
    arrived before the edit may answer the old version within the window; that is the
    late offline learner it exists for, and what they can gain is the key they were
    already marked against before the edit, never a later one.

    Precondition: the caller holds the set's row lock (`attempt_submit`), so no edit
    and no other attempt of this learner lands between this read and the attempt's write.
    """
    options = Prefetch("options", AnswerOption.objects.order_by("position", "pk"))
    chosen = {q.lineage: q for q in current_questions(question_set).prefetch_related(options)}
    older = list(
        question_set.questions.filter(pk__in=answered_ids, retired_at__isnull=False).prefetch_related(options)
    )
    if older:
        now = now or timezone.now()
        previous = Attempt.objects.filter(user=user, question_set=question_set).aggregate(last=Max("received_at"))["last"]
        for question in older:
            assert question.retired_at is not None
            if previous is not None and question.retired_at <= previous:
                raise InvalidRequest(
                    _("Question %(id)s was changed or removed before your last attempt: load the question set "
                      "again and answer its current questions.") % {"id": question.pk},
                    code="bad_question",
                )
            if question.retired_at < now - late_answer_window():
                raise InvalidRequest(
                    _("Question %(id)s was changed or removed more than %(days)d days ago: load the question set "
                      "again and answer its current questions.") % {"id": question.pk, "days": late_answer_window().days},
                    code="bad_question",
                )
    for question in older:
        current = chosen.get(question.lineage)
        if current is not None and current.pk in answered_ids:
            raise InvalidRequest(_("Two versions of one question were answered."), code="bad_question")
        chosen[question.lineage] = question
    return sorted(chosen.values(), key=lambda q: (q.position, q.pk))


def question_set_questions(*, user: AnyUser, question_set: QuestionSet) -> list[QuestionView]:
    """The questions in order with their options and images. Options are model rows: the
    caller decides which fields go out (`learner_question_set` drops the key)."""
    questions = (
        current_questions(question_set).select_related("image")
        .prefetch_related(Prefetch("options", AnswerOption.objects.order_by("position", "pk")))
        .order_by("position", "pk")
    )
    return [
        QuestionView(question=q, options=list(q.options.all()), image=question_image(user=user, material=q.image))
        for q in questions
    ]


def learner_question_set(*, user: AnyUser, question_set: QuestionSet) -> dict:
    """The set as a learner's client receives it: no correct flags, no feedback, no model
    answer. Used by the page, the API and the offline bundle alike."""
    attempts_used = Attempt.objects.filter(user=user, question_set=question_set).count() if user.is_authenticated else 0
    return {
        "id": question_set.pk,
        "course_id": question_set.module.course_id,
        "title": question_set.title,
        "instructions": question_set.instructions,
        "pass_mark": question_set.pass_mark,
        "max_attempts": question_set.max_attempts,
        "attempts_used": attempts_used,
        "questions": [
            {
                "id": view.question.pk,
                "kind": view.question.kind,
                "prompt": view.question.prompt,
                "points": view.question.points,
                "image_url": view.image.url if view.image else None,
                "image_alt": view.image.alt if view.image else "",
                "options": [{"id": option.pk, "text": option.text} for option in view.options],
            }
            for view in question_set_questions(user=user, question_set=question_set)
        ],
    }


# -- results ---------------------------------------------------------------------------------


def attempt_result(*, user: AnyUser, attempt: Attempt) -> dict:
    """What the learner reads after submitting: score, pass, feedback per chosen option,
    marker's feedback, and the correct options once revealing them gives nothing away."""
    if not user.is_authenticated or (attempt.user_id != user.pk and not course_can_edit(
        user=user, course=attempt.question_set.module.course
    )):
        raise PermissionRefused(_("This attempt is not yours."), code="not_found")
    question_set = attempt.question_set
    used = Attempt.objects.filter(user=attempt.user_id, question_set=question_set).count()
    passed_ever = Attempt.objects.filter(user=attempt.user_id, question_set=question_set, passed=True).exists()
    reveal = passed_ever or used >= question_set.max_attempts
    # The questions as this attempt answered them (their version then, even if edited since).
    answers = list(
        attempt.answers.select_related("question")
        .prefetch_related("options", Prefetch("question__options", AnswerOption.objects.order_by("position", "pk")))
        .order_by("question__position", "question_id")
    )
    questions = []
    for answer in answers:
        q = answer.question
        chosen = {o.pk for o in answer.options.all()}
        options = []
        for o in q.options.all():
            entry: dict = {"id": o.pk, "text": o.text, "chosen": o.pk in chosen}
            if o.pk in chosen:
                entry["feedback"] = o.feedback
                entry["correct"] = o.is_correct
            if reveal:
                entry["correct"] = o.is_correct
                entry["feedback"] = o.feedback
            options.append(entry)
        questions.append(
            {
                "id": q.pk,
                "kind": q.kind,
                "prompt": q.prompt,
                "points": q.points,
                "awarded": answer.points,
                "text": answer.text,
                "marker_feedback": answer.marker_feedback,
                "options": options,
            }
        )
    return {
        "attempt_id": attempt.pk,
        "client_id": str(attempt.client_id),
        "question_set_id": question_set.pk,
        "number": attempt.number,
        "status": attempt.status,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "percent": attempt.percent,
        "pass_mark": question_set.pass_mark,
        "passed": attempt.passed,
        "attempts_used": used,
        "attempts_left": max(0, question_set.max_attempts - used),
        "answers_revealed": reveal,
        "questions": questions,
    }


def attempts_of(*, user: AnyUser, question_set: QuestionSet) -> list[Attempt]:
    if not user.is_authenticated:
        return []
    return list(Attempt.objects.filter(user=user, question_set=question_set).order_by("number"))


@dataclass
class SetResult:
    question_set_id: int
    title: str
    attempts_used: int
    best_percent: float | None
    passed: bool
    pending: bool


@dataclass
class CourseResults:
    course_id: int
    sets: list[SetResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.sets) and all(s.passed for s in self.sets)


def course_assessment_results(*, user: AnyUser, course: Course) -> CourseResults:
    """One learner's standing on each question set of a course (read by certificates and the
    portfolio). No permission check: it only ever reads the `user`'s own rows; callers
    that show it to someone else check that they may."""
    results = CourseResults(course_id=course.pk)
    sets = list(question_sets_counted(course=course))
    attempts: dict[int, list[Attempt]] = {}
    if user.is_authenticated and sets:
        for attempt in Attempt.objects.filter(user=user, question_set__in=sets).order_by("number"):
            attempts.setdefault(attempt.question_set_id, []).append(attempt)
    for question_set in sets:
        mine = attempts.get(question_set.pk, [])
        graded = [a for a in mine if a.status == AttemptStatus.GRADED]
        results.sets.append(
            SetResult(
                question_set_id=question_set.pk,
                title=question_set.title,
                attempts_used=len(mine),
                best_percent=max((a.percent for a in graded), default=None),
                passed=any(a.passed for a in graded),
                pending=any(a.status == AttemptStatus.PENDING for a in mine),
            )
        )
    return results


def course_passed(*, user: AnyUser, course: Course) -> bool:
    """True when the course has at least one question set (with a current question) and
    the user passed every one. For one learner (the listener after an attempt or a mark);
    for many at once, `course_passers`."""
    return course_assessment_results(user=user, course=course).passed


def course_passers(*, course: Course, user_ids: Iterable[int]) -> set[int]:
    """Those of `user_ids` for whom `course_passed` holds, in two queries whatever their
    number (the sets counted, then the learners with a passed graded attempt at each):
    switching a course's certificate rule on asks this of every learner at once, inside
    the request, where a `course_passed` per learner cost two queries each."""
    set_ids = list(question_sets_counted(course=course).values_list("pk", flat=True))
    ids = list(user_ids)
    if not set_ids or not ids:
        return set()
    passers = (
        Attempt.objects.filter(
            question_set_id__in=set_ids, user_id__in=ids, status=AttemptStatus.GRADED, passed=True
        )
        .order_by()
        .values("user_id")
        .annotate(n=Count("question_set", distinct=True))
        .filter(n=len(set_ids))
        .values_list("user_id", flat=True)
    )
    return set(passers)


def _ids(user_ids: Iterable[int] | QuerySet) -> list[int] | QuerySet:
    """A query of ids stays a query (one subquery in SQL); anything else becomes a list."""
    return user_ids if isinstance(user_ids, QuerySet) else list(user_ids)


def courses_passed(*, user_ids: Iterable[int] | QuerySet, course_ids: Iterable[int] | None = None) -> list[CourseCompletion]:
    """Per learner, the courses for which `course_passed` holds (every counted set passed,
    by a graded attempt), and when: the moment the last of its sets was first passed.
    An attempt passed when it arrived (`received_at`, the server's clock: `answered_at` is
    the device's) or, with short answers, when the last of them was marked. Two queries
    whatever the number of learners and courses (their passed attempts, then the counted
    sets of the courses those attempts belong to), so a course list or a portfolio reads
    all its courses at once. `user_ids` may be a query of ids (the school report's
    learners), kept as a subquery. No permission check: it reads the learners' own attempts."""
    ids = _ids(user_ids)
    if not isinstance(ids, QuerySet) and not ids:
        return []
    attempts = Attempt.objects.filter(
        user_id__in=ids, status=AttemptStatus.GRADED, passed=True, question_set__in=question_sets_with_questions()
    )
    if course_ids is not None:
        attempts = attempts.filter(question_set__module__course_id__in=list(course_ids))
    first_pass: dict[tuple[int, int], datetime] = {}  # (user, set) -> when first passed
    courses: set[int] = set()
    rows = attempts.annotate(marked=Max("answers__marked_at")).values_list(
        "user_id", "question_set_id", "question_set__module__course_id", "received_at", "marked"
    )
    for user_id, set_id, course_id, received_at, marked_at in rows:
        at = max(received_at, marked_at) if marked_at else received_at
        key = (user_id, set_id)
        first_pass[key] = min(first_pass.get(key, at), at)
        courses.add(course_id)
    sets_of: dict[int, list[int]] = {}
    for course_id, set_id in question_sets_with_questions().filter(module__course_id__in=courses).values_list(
        "module__course_id", "pk"
    ):
        sets_of.setdefault(course_id, []).append(set_id)
    found = []
    for user_id in sorted({user for user, _set in first_pass}):  # only learners who passed a set
        for course_id, set_ids in sets_of.items():
            times = [first_pass.get((user_id, set_id)) for set_id in set_ids]
            if all(times):
                found.append(CourseCompletion(user_id=user_id, course_id=course_id, completed_at=max(times)))  # type: ignore[type-var]
    return found


def course_completions(*, user_ids: Iterable[int] | QuerySet, course_ids: Iterable[int] | None = None) -> list[CourseCompletion]:
    """The courses each learner completed, by the course's own criterion (the one its
    certificate asks, `sessions.record.services.course_certificate_criterion`): a course
    with question sets when every set is passed (`courses_passed`; items ticked done do
    not count, a learner ticks those themselves), a course without any when every item is
    done (`courses_completed`). `completed_at` is when that happened. What the course
    page, the course list, the portfolio and the school's report count as completed.
    Five queries."""
    ids = _ids(user_ids)
    if not isinstance(ids, QuerySet) and not ids:
        return []
    passed = courses_passed(user_ids=ids, course_ids=course_ids)
    by_items = courses_completed(user_ids=ids, course_ids=course_ids)
    assessed = set(
        question_sets_with_questions()
        .filter(module__course_id__in={c.course_id for c in by_items})
        .values_list("module__course_id", flat=True)
    )
    return passed + [c for c in by_items if c.course_id not in assessed]


def course_completed_at(*, user: AnyUser, course_ids: Iterable[int]) -> dict[int, datetime]:
    """For one viewer, when they completed each of `course_ids` (`course_completions`);
    courses not completed are absent. Anonymous viewers completed nothing."""
    if not user.is_authenticated:
        return {}
    return {c.course_id: c.completed_at for c in course_completions(user_ids=[user.pk], course_ids=list(course_ids))}


# -- faculty ---------------------------------------------------------------------------------


def marking_queue(*, user: AnyUser, course: Course) -> list[Answer]:
    """Short answers of this course's learners waiting for a mark, oldest first."""
    require_faculty(user=user, course=course)
    return list(
        Answer.objects.filter(
            attempt__question_set__module__course=course, question__kind=QuestionKind.SHORT, points__isnull=True
        )
        .select_related("question", "attempt__user", "attempt__question_set")
        .order_by("attempt__received_at", "pk")
    )


def question_answer_counts(*, question_set: QuestionSet) -> dict[int, int]:
    """Answers per current question (the edit page says which edits make a new version).
    Precondition: the caller checked the viewer is the course's faculty."""
    rows = (
        Answer.objects.filter(question__question_set=question_set, question__retired_at__isnull=True)
        .values("question_id").annotate(n=Count("id")).values_list("question_id", "n")
    )
    return dict(rows)


def question_answer_count(*, question: Question) -> int:
    return Answer.objects.filter(question=question).count()


def question_set_for_faculty(*, user: AnyUser, question_set_id: int) -> QuestionSet:
    question_set = question_set_get(user=user, question_set_id=question_set_id)
    require_faculty(user=user, course=question_set.module.course)
    return question_set


@dataclass
class QuestionVersionView:
    """One version of a question on its history page: `question` (with `created_by`,
    `retired_by` and its options prefetched) and how many attempts answered it."""

    question: Question
    options: list[AnswerOption]
    attempts: int

    @property
    def is_current(self) -> bool:
        return self.question.retired_at is None


@dataclass
class QuestionHistory:
    question_set: QuestionSet
    versions: list[QuestionVersionView]  # newest first

    @property
    def current(self) -> Question | None:
        """The version learners are asked now; None once the question was removed."""
        return next((v.question for v in self.versions if v.is_current), None)

    @property
    def removed(self) -> bool:
        return self.current is None


def question_history(*, user: AnyUser, course_id: int, question_set_id: int, question_id: int) -> QuestionHistory:
    """Every version of a question, current and retired, newest first, for the course's
    faculty (as Moodle's question "History"): its text, options and answer key, who
    wrote it and when, and how many attempts answered it (an attempt keeps the version
    it answered, so this is what an edit left in place). `question_id` may name any
    version of this set; versions in another set of the course (the question was moved
    there, `services.question_transfer`) are listed too. A learner gets `not_course_faculty` (403) and anyone who cannot open the
    course, or a question of another set or a set of another course, `not_found` (404),
    as on the other faculty pages."""
    question_set = question_set_for_faculty(user=user, question_set_id=question_set_id)
    if question_set.module.course_id != course_id:
        raise PermissionRefused(_("This question set does not exist or is not open to you."), code="not_found")
    asked = Question.objects.filter(pk=question_id, question_set=question_set).values_list("pk", "origin_id").first()
    if asked is None:
        raise PermissionRefused(_("This question does not exist or is not open to you."), code="not_found")
    lineage = asked[1] or asked[0]
    # A question moved to another set of the course has its later versions there.
    versions = Question.objects.filter(pk=lineage) | Question.objects.filter(origin_id=lineage)
    rows = (
        versions.select_related("created_by", "retired_by", "question_set")
        .annotate(attempts=Count("answers"))
        .prefetch_related(Prefetch("options", AnswerOption.objects.order_by("position", "pk")))
        .order_by("-version", "-pk")
    )
    return QuestionHistory(
        question_set=question_set,
        versions=[
            QuestionVersionView(question=row, options=list(row.options.all()), attempts=row.attempts)
            for row in rows
        ],
    )


@dataclass
class RemovedQuestion:
    question: Question  # its last version in this set
    moved_to: QuestionSet | None  # the set of the course that asks it now, if it was moved


def questions_removed(*, question_set: QuestionSet) -> list[RemovedQuestion]:
    """The last version of each question taken out of the set (retired with no current
    version after it in this set), newest removal first, with the set it was moved to
    if any: the editor links to their history. Two queries.
    Precondition: the caller checked the viewer is the course's faculty."""
    latest: dict[int, Question] = {}
    for row in question_set.questions.order_by("version", "pk"):
        latest[row.lineage] = row
    gone = {lineage: row for lineage, row in latest.items() if row.retired_at is not None}
    moved: dict[int, QuestionSet] = {}
    if gone:
        elsewhere = Question.objects.filter(retired_at__isnull=True, question_set__module__course_id=question_set.module.course_id)
        for row in elsewhere.filter(origin_id__in=list(gone)).exclude(question_set=question_set).select_related("question_set"):
            moved[row.lineage] = row.question_set
    return [
        RemovedQuestion(question=row, moved_to=moved.get(lineage))
        for lineage, row in sorted(gone.items(), key=lambda pair: (pair[1].retired_at, pair[1].pk), reverse=True)
    ]
