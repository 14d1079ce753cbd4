"""Assessment pages. Thin: parse a form, call a service or selector, render or redirect.

Learners: the quiz page (`quiz_page`) is a plain form that works without JavaScript
(the server puts a fresh `client_id` in it, so a double click or a resent form counts
once); `frontend/static/js/assessment/quiz.js` sends the same answers as JSON and, when
the network is gone, keeps them in the browser until it is back.
Faculty: manage the course's sets, edit one, edit questions where they are (saved as a
new version: see `services.question_update`) and move them up or down with plain forms,
mark short answers, read statistics.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from courses.curriculum.selectors import course_can_edit, course_get_for_viewer
from courses.library.selectors import material_visible_to
from courses.models import Answer, Attempt, Course, Material, Module, Question, QuestionKind, QuestionSet
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest

from . import selectors, services
from .forms import MarkForm, QuestionForm, QuestionSetForm
from .statistics import question_set_statistics

logger = logging.getLogger(__name__)


def _refusals(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """PermissionRefused → 403 page; InvalidRequest → a message and back to where it came from."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except PermissionRefused as error:
            status = 404 if error.code == "not_found" else 403
            return render(request, "curriculum/refused.html", {"message": error.message, "code": error.code}, status=status)
        except InvalidRequest as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(request.path, status=303)

    return wrapper


def _set_in_course(request: HttpRequest, course_id: int, set_id: int) -> QuestionSet:
    question_set = selectors.question_set_get(user=request.user, question_set_id=set_id)
    if question_set.module.course_id != course_id:
        raise PermissionRefused(_("This question set does not exist or is not open to you."), code="not_found")
    return question_set


def _faculty_course(request: HttpRequest, course_id: int) -> Course:
    course = course_get_for_viewer(user=request.user, course_id=course_id)
    selectors.require_faculty(user=request.user, course=course)
    return course


def _course_materials(course: Course, request: HttpRequest) -> list[Material]:
    """Materials of the course the author may see: where question images come from."""
    ids = Module.objects.filter(course=course).values_list("items__material_id", flat=True)
    return list(material_visible_to(request.user).filter(pk__in=[i for i in ids if i]).order_by("title"))


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


# -- learners --------------------------------------------------------------------------------


@_refusals
def quiz_page(request: HttpRequest, course_id: int, set_id: int) -> HttpResponse:
    question_set = _set_in_course(request, course_id, set_id)
    course = question_set.module.course
    if request.method == "POST":
        if not request.user.is_authenticated:
            raise PermissionRefused(_("Log in to answer this question set."), code="login_required")
        # Every version of the set's questions: a form opened before faculty edited a
        # question carries the version the learner saw, which is marked as it was. A
        # question missing from the form (no option ticked) is answered blank anyway.
        answers: dict[int, dict[str, Any]] = {}
        for question in question_set.questions.all():
            key = f"q{question.pk}"
            if key not in request.POST:
                continue
            if question.kind == QuestionKind.SHORT:
                answers[question.pk] = {"text": request.POST.get(key, "")}
            else:
                answers[question.pk] = {"options": [v for v in request.POST.getlist(key) if v]}
        submission = services.attempt_submit(
            user=request.user, question_set=question_set, client_id=request.POST.get("client_id", ""), answers=answers
        )
        return HttpResponseRedirect(
            reverse("quiz-attempt", args=[course.pk, question_set.pk, submission.attempt.pk]), status=303
        )
    is_faculty = course_can_edit(user=request.user, course=course)
    data = selectors.learner_question_set(user=request.user, question_set=question_set)
    attempts = selectors.attempts_of(user=request.user, question_set=question_set)
    return render(
        request,
        "assessment/quiz.html",
        {
            "course": course,
            "question_set": question_set,
            "data": data,
            "attempts": attempts,
            "attempts_left": max(0, question_set.max_attempts - len(attempts)),
            "is_faculty": is_faculty,
            "is_learner": selectors.question_set_is_learner(user=request.user, question_set=question_set),
            "client_id": uuid.uuid4(),
        },
    )


@require_GET
@login_required
@_refusals
def attempt_page(request: AuthenticatedHttpRequest, course_id: int, set_id: int, attempt_id: int) -> HttpResponse:
    question_set = _set_in_course(request, course_id, set_id)
    attempt = Attempt.objects.filter(pk=attempt_id, question_set=question_set).first()
    if attempt is None:
        raise PermissionRefused(_("This attempt is not yours."), code="not_found")
    result = selectors.attempt_result(user=request.user, attempt=attempt)
    return render(
        request,
        "assessment/attempt.html",
        {"course": question_set.module.course, "question_set": question_set, "result": result},
    )


# -- faculty ---------------------------------------------------------------------------------


@login_required
@_refusals
def manage_page(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    """The course's question sets, and a form to add one."""
    course = _faculty_course(request, course_id)
    modules = list(Module.objects.filter(course=course).order_by("position", "pk"))
    form = QuestionSetForm(request.POST or None, modules=modules)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        module = get_object_or_404(Module, pk=data.pop("module"), course=course)
        question_set = services.question_set_create(by=request.user, module=module, **data)
        messages.success(request, _("Question set created. Add its questions."))
        return HttpResponseRedirect(reverse("quiz-edit", args=[course.pk, question_set.pk]), status=303)
    return render(
        request,
        "assessment/manage.html",
        {
            "course": course,
            "form": form,
            "sets": selectors.question_sets_of_course(course=course),
            "queue_count": len(selectors.marking_queue(user=request.user, course=course)),
        },
        status=400 if form.errors else 200,
    )


@login_required
@_refusals
def edit_page(request: AuthenticatedHttpRequest, course_id: int, set_id: int) -> HttpResponse:
    """A set's settings (POST `save_set`) and questions (POST `add_question`)."""
    question_set = _set_in_course(request, course_id, set_id)
    course = question_set.module.course
    selectors.require_faculty(user=request.user, course=course)
    initial = {
        "title": question_set.title, "instructions": question_set.instructions,
        "pass_mark": question_set.pass_mark, "max_attempts": question_set.max_attempts,
    }
    materials = _course_materials(course, request)
    answered = selectors.question_answer_counts(question_set=question_set)
    set_form = QuestionSetForm(request.POST if "save_set" in request.POST else None, initial=initial)
    question_form = QuestionForm(request.POST if "add_question" in request.POST else None, materials=materials)
    if "save_set" in request.POST and set_form.is_valid():
        services.question_set_update(by=request.user, question_set=question_set, **set_form.cleaned_data)
        messages.success(request, _("Question set saved."))
        return HttpResponseRedirect(request.path, status=303)
    if "add_question" in request.POST and question_form.is_valid():
        data = question_form.cleaned_data
        try:
            services.question_add(
                by=request.user, question_set=question_set, kind=data["kind"], prompt=data["prompt"],
                points=data["points"], image=question_form.chosen_image(), model_answer=data["model_answer"],
                options=question_form.option_drafts(),
            )
        except InvalidRequest as error:  # shown on the form, with what was typed kept
            question_form.add_error(None, error.message)
        else:
            messages.success(request, _("Question added."))
            return HttpResponseRedirect(request.path + "#add-question", status=303)
    question_views = selectors.question_set_questions(user=request.user, question_set=question_set)
    transferred = _int_or_none(request.GET.get("transferred"))
    return render(
        request,
        "assessment/edit.html",
        {
            "course": course,
            "question_set": question_set,
            "set_form": set_form,
            "question_form": question_form,
            "questions": [(view, answered.get(view.question.pk, 0)) for view in question_views],
            "removed": selectors.questions_removed(question_set=question_set),
            "other_sets": [s for s in selectors.question_sets_of_course(course=course) if s.pk != question_set.pk],
            # After a move to another set, focus goes to the question now in its place (or the last).
            "transfer_focus": (
                question_views[min(transferred, len(question_views) - 1)].question.pk
                if transferred is not None and question_views else None
            ),
            # After a move (a plain form post), focus goes back to the moved question's button.
            "moved": _int_or_none(request.GET.get("moved")),
            "moved_direction": request.GET.get("direction", ""),
        },
        status=400 if (set_form.errors or question_form.errors) else 200,
    )


@login_required
@_refusals
def question_edit_page(request: AuthenticatedHttpRequest, course_id: int, set_id: int, question_id: int) -> HttpResponse:
    """Edit one question where it is in the set (saved as a new version; see `question_update`)."""
    question_set = _set_in_course(request, course_id, set_id)
    course = question_set.module.course
    selectors.require_faculty(user=request.user, course=course)
    question = get_object_or_404(Question, pk=question_id, question_set=question_set, retired_at__isnull=True)
    materials = _course_materials(course, request)
    form = QuestionForm.for_question(question, request.POST if request.method == "POST" else None, materials=materials)
    edit: services.QuestionEdit | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            edit = services.question_update(
                by=request.user, question=question, kind=data["kind"], prompt=data["prompt"], points=data["points"],
                image=form.chosen_image(), model_answer=data["model_answer"], options=form.option_drafts(),
            )
        except InvalidRequest as error:  # shown on the form, with what was typed kept
            form.add_error(None, error.message)
    if edit is not None:
        if not edit.changed:
            messages.info(request, _("Nothing changed."))
        elif edit.answered:
            messages.success(request, ngettext(
                "Question saved as version %(version)d. The answer given to the earlier version keeps it, "
                "with its answer key and score.",
                "Question saved as version %(version)d. The %(n)d answers given to the earlier version keep it, "
                "with its answer key and score.",
                edit.answered,
            ) % {"version": edit.question.version, "n": edit.answered})
        else:
            messages.success(request, _("Question saved."))
        return HttpResponseRedirect(
            reverse("quiz-edit", args=[course.pk, question_set.pk]) + f"#question-{edit.question.pk}", status=303
        )
    return render(
        request,
        "assessment/question_edit.html",
        {
            "course": course,
            "question_set": question_set,
            "question": question,
            "form": form,
            "answered": selectors.question_answer_count(question=question),
            "number": selectors.current_questions(question_set).filter(position__lt=question.position).count() + 1,
        },
        status=400 if form.errors else 200,
    )


@require_GET
@login_required
@_refusals
def question_history_page(
    request: AuthenticatedHttpRequest, course_id: int, set_id: int, question_id: int
) -> HttpResponse:
    """Every version of a question, newest first (any version's id opens it)."""
    history = selectors.question_history(
        user=request.user, course_id=course_id, question_set_id=set_id, question_id=question_id
    )
    return render(
        request,
        "assessment/question_history.html",
        {"course": history.question_set.module.course, "question_set": history.question_set, "history": history},
    )


@require_POST
@login_required
@_refusals
def question_move(request: AuthenticatedHttpRequest, course_id: int, set_id: int, question_id: int) -> HttpResponse:
    """Move a question one place up or down (POST `direction`: up|down); works as a plain form."""
    question_set = _set_in_course(request, course_id, set_id)
    question = get_object_or_404(Question, pk=question_id, question_set=question_set)
    direction = request.POST.get("direction")
    try:
        if direction not in ("up", "down"):
            raise InvalidRequest(_("Move a question one place up or down."), code="bad_move")
        services.question_move(by=request.user, question=question, offset=-1 if direction == "up" else 1)
    except InvalidRequest as error:  # back to the list (this address only takes POSTs)
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("quiz-edit", args=[course_id, set_id]), status=303)
    messages.success(request, _("Question moved up.") if direction == "up" else _("Question moved down."))
    # No #fragment: a page opened at a fragment ignores autofocus (HTML's autofocus rules),
    # and autofocus is what puts the keyboard back on the moved question's button.
    return HttpResponseRedirect(
        reverse("quiz-edit", args=[course_id, set_id]) + f"?moved={question.pk}&direction={direction}", status=303
    )


@require_POST
@login_required
@_refusals
def question_transfer(request: AuthenticatedHttpRequest, course_id: int, set_id: int, question_id: int) -> HttpResponse:
    """Move a question to another set of the course (POST `to_set`); works as a plain form.
    Back on this set's editor, the keyboard is on the same control of the question now in
    the moved one's place (or of the last question), as after a move up or down."""
    question_set = _set_in_course(request, course_id, set_id)
    question = get_object_or_404(Question, pk=question_id, question_set=question_set)
    editor = reverse("quiz-edit", args=[course_id, set_id])
    to_set_id = _int_or_none(request.POST.get("to_set"))
    to_set = QuestionSet.objects.select_related("module").filter(pk=to_set_id).first() if to_set_id else None
    try:
        if to_set is None:
            raise InvalidRequest(_("Choose another question set to move the question to."), code="bad_move")
        services.question_transfer(by=request.user, question=question, to_set=to_set)
    except InvalidRequest as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(editor, status=303)
    messages.success(request, _("Question moved to %(title)s, at its end. Attempts already made keep it where it was.")
                     % {"title": to_set.title})
    return HttpResponseRedirect(f"{editor}?transferred={question.position}", status=303)


@require_POST
@login_required
@_refusals
def question_remove(request: AuthenticatedHttpRequest, course_id: int, set_id: int, question_id: int) -> HttpResponse:
    question_set = _set_in_course(request, course_id, set_id)
    question = get_object_or_404(Question, pk=question_id, question_set=question_set, retired_at__isnull=True)
    services.question_remove(by=request.user, question=question)
    messages.success(request, _("Question removed. Attempts that answered it keep their answers and scores."))
    return HttpResponseRedirect(reverse("quiz-edit", args=[course_id, set_id]), status=303)


@require_POST
@login_required
@_refusals
def set_delete(request: AuthenticatedHttpRequest, course_id: int, set_id: int) -> HttpResponse:
    question_set = _set_in_course(request, course_id, set_id)
    services.question_set_delete(by=request.user, question_set=question_set)
    messages.success(request, _("Question set deleted."))
    return HttpResponseRedirect(reverse("assessment-manage", args=[course_id]), status=303)


@login_required
@_refusals
def marking_page(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    """Short answers waiting for a mark; each row is its own form (POST `answer`)."""
    course = _faculty_course(request, course_id)
    if request.method == "POST":
        answer = get_object_or_404(
            Answer, pk=request.POST.get("answer") or 0, attempt__question_set__module__course=course
        )
        form = MarkForm(request.POST)
        if not form.is_valid():
            raise InvalidRequest(_("Give the points as a number."), code="bad_points")
        services.answer_mark(by=request.user, answer=answer, points=form.cleaned_data["points"],
                             feedback=form.cleaned_data["feedback"])
        messages.success(request, _("Marked."))
        return HttpResponseRedirect(request.path, status=303)
    return render(
        request,
        "assessment/marking.html",
        {"course": course, "queue": selectors.marking_queue(user=request.user, course=course)},
    )


@require_GET
@login_required
@_refusals
def statistics_page(request: AuthenticatedHttpRequest, course_id: int, set_id: int) -> HttpResponse:
    question_set = _set_in_course(request, course_id, set_id)
    stats = question_set_statistics(user=request.user, question_set_id=question_set.pk)
    return render(request, "assessment/statistics.html", {"course": question_set.module.course, "stats": stats})
