"""Course pages. Thin: parse a form, call a service or selector, render or redirect.

Every change is a plain POST form that works without JavaScript; the builder's JS
(`frontend/static/js/curriculum/`) only saves page reloads through /api/courses/.
A refusal (`PermissionRefused`) is a 403 page with its message; a bad request
(`InvalidRequest`) comes back to the page as an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from courses.assessment.selectors import course_completed_at
from courses.library.selectors import material_visible_to
from courses.models import Course, MaterialVersion, Module, ModuleItem
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import Institution

from . import selectors, services
from .bundle import bundle_plan, bundle_response, bundle_size_estimate
from .forms import CourseForm, ItemAddForm, MaterialSearchForm, ModuleForm, MoveForm, ProgressForm

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest, error: PermissionRefused) -> HttpResponse:
    return render(request, "curriculum/refused.html", {"message": error.message, "code": error.code}, status=403)


def _translating_errors(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """PermissionRefused → 403 page; InvalidRequest → error message and back to the builder."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except PermissionRefused as error:
            return _refused(request, error)
        except InvalidRequest as error:
            messages.error(request, error.message)
            course_id = kwargs.get("course_id")
            target = reverse("course-builder", args=[course_id]) if course_id else reverse("course-list")
            return HttpResponseRedirect(target, status=303)

    return wrapper


def _editable_course(request: HttpRequest, course_id: int) -> Course:
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    if not selectors.course_can_edit(user=request.user, course=course):
        raise PermissionRefused(
            _("Only the course's author or a coordinator of %(school)s can change this course.")
            % {"school": course.institution.name},
            code="not_course_editor",
        )
    return course


def _back_to_builder(course: Course, anchor: str = "") -> HttpResponse:
    return HttpResponseRedirect(reverse("course-builder", args=[course.pk]) + anchor, status=303)


# -- reading ----------------------------------------------------------------------------------


COURSES_PER_PAGE = 50


@require_GET
def course_list(request: HttpRequest) -> HttpResponse:
    courses = selectors.courses_visible_to(user=request.user).filter(is_published=True).order_by("title", "pk")
    # The list grows with every school that shares: a page at a time on a paid-by-the-MB phone.
    page = Paginator(courses, COURSES_PER_PAGE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    completed = course_completed_at(user=request.user, course_ids=[course.pk for course in listed])
    return render(
        request,
        "curriculum/course_list.html",
        {
            "courses": listed,
            # (course, when the viewer completed it or None): completed ones say so.
            "rows": [(course, completed.get(course.pk)) for course in listed],
            "page": page,
            "my_courses": selectors.courses_edited_by(user=request.user),
            "can_build": selectors.user_can_build_courses(user=request.user),
        },
    )


@require_GET
@_translating_errors
def course_detail(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    outline = selectors.course_outline(user=request.user, course=course)
    return render(
        request,
        "curriculum/course_detail.html",
        {
            "course": course,
            "outline": outline,
            "bundle_size": bundle_size_estimate(outline=outline),
            "completed_at": course_completed_at(user=request.user, course_ids=[course.pk]).get(course.pk),
        },
    )


@require_GET
@_translating_errors
def course_bundle(request: HttpRequest, course_id: int) -> HttpResponseBase:
    """The offline zip, streamed; only what this downloader may see goes in."""
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    plan = bundle_plan(user=request.user, course=course)
    return bundle_response(request, plan)


# -- composing --------------------------------------------------------------------------------


@login_required
@_translating_errors
def course_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    school_ids = selectors.user_builder_institution_ids(user=request.user)
    institutions = list(Institution.objects.filter(pk__in=school_ids))
    if not institutions:
        raise PermissionRefused(
            _("Only faculty, supervisors and coordinators can create courses."), code="not_course_builder"
        )
    form = CourseForm(request.POST or None, institutions=institutions)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        course = services.course_create(
            by=request.user,
            institution=data["institution"],
            title=data["title"],
            description=data["description"],
            language=data["language"],
            level=data["level"],
            audience=data["audience"],
        )
        messages.success(request, _("Course created. Add modules and material, then publish it."))
        return _back_to_builder(course)
    return render(request, "curriculum/course_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@_translating_errors
def course_builder(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    """The builder page; a POST saves the course's description."""
    course = _editable_course(request, course_id)
    initial = {
        "title": course.title,
        "description": course.description,
        "language": course.language,
        "level": course.level,
        "audience": course.audience,
    }
    form = CourseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.course_update(by=request.user, course=course, **form.cleaned_data)
        messages.success(request, _("Course saved."))
        return _back_to_builder(course)
    search = MaterialSearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    outline = selectors.course_outline(user=request.user, course=course)
    preselected = None
    if request.GET.get("material", "").isdigit():
        preselected = material_visible_to(request.user).filter(pk=int(request.GET["material"])).first()
    return render(
        request,
        "curriculum/course_builder.html",
        {
            "course": course,
            "form": form,
            "outline": outline,
            "module_form": ModuleForm(),
            "search": search,
            "query": query,
            "results": selectors.builder_material_search(user=request.user, query=query),
            "preselected": preselected,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
@_translating_errors
def course_publish(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    published = request.POST.get("published") == "1"
    services.course_set_published(by=request.user, course=course, published=published)
    messages.success(request, _("The course is published.") if published else _("The course is back to draft."))
    return _back_to_builder(course)


@require_POST
@login_required
@_translating_errors
def course_delete(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    services.course_delete(by=request.user, course=course)
    messages.success(request, _("The course was deleted."))
    return HttpResponseRedirect(reverse("course-list"), status=303)


@require_POST
@login_required
@_translating_errors
def module_add(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    form = ModuleForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_("A module needs a title."), code="missing_field")
    module = services.module_add(by=request.user, course=course, **form.cleaned_data)
    return _back_to_builder(course, f"#module-{module.pk}")


@require_POST
@login_required
@_translating_errors
def module_update(request: AuthenticatedHttpRequest, course_id: int, module_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    module = get_object_or_404(Module, pk=module_id, course=course)
    form = ModuleForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_("A module needs a title."), code="missing_field")
    services.module_update(by=request.user, module=module, **form.cleaned_data)
    return _back_to_builder(course, f"#module-{module.pk}")


def _target_position(form: MoveForm, current: int) -> int:
    data = form.cleaned_data
    if data.get("position") is not None:
        return int(data["position"])
    if data.get("direction") == "up":
        return max(0, current - 1)
    if data.get("direction") == "down":
        return current + 1
    raise InvalidRequest(_("Say where to move it."), code="bad_move")


@require_POST
@login_required
@_translating_errors
def module_move(request: AuthenticatedHttpRequest, course_id: int, module_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    module = get_object_or_404(Module, pk=module_id, course=course)
    form = MoveForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_("Say where to move it."), code="bad_move")
    services.module_move(by=request.user, module=module, to_position=_target_position(form, module.position))
    return _back_to_builder(course, f"#module-{module.pk}")


@require_POST
@login_required
@_translating_errors
def module_remove(request: AuthenticatedHttpRequest, course_id: int, module_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    module = get_object_or_404(Module, pk=module_id, course=course)
    services.module_remove(by=request.user, module=module)
    messages.success(request, _("Module removed."))
    return _back_to_builder(course)


@require_POST
@login_required
@_translating_errors
def item_add(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    form = ItemAddForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_("Choose a material and a module to add it to."), code="missing_field")
    data = form.cleaned_data
    module = get_object_or_404(Module, pk=data["module"], course=course)
    # Only what the builder may see is looked up further (its versions included): a missing
    # material and another school's unshared one get the same answer.
    material = material_visible_to(request.user).filter(pk=data["material"]).first()
    if material is None:
        raise PermissionRefused(
            _("This material is not shared with your school, so it cannot be added to a course."),
            code="material_not_shared",
        )
    version = None
    if data.get("version"):
        version = MaterialVersion.objects.filter(material=material, number=data["version"]).first()
        if version is None:
            raise InvalidRequest(_("This material has no such version."), code="version_not_found")
    item = services.item_add(by=request.user, module=module, material=material, version=version, note=data["note"])
    messages.success(request, _("Added “%(title)s”.") % {"title": material.title})
    return _back_to_builder(course, f"#item-{item.pk}")


@require_POST
@login_required
@_translating_errors
def item_move(request: AuthenticatedHttpRequest, course_id: int, item_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    item = get_object_or_404(ModuleItem, pk=item_id, module__course=course)
    form = MoveForm(request.POST)
    if not form.is_valid():
        raise InvalidRequest(_("Say where to move it."), code="bad_move")
    to_module = None
    if form.cleaned_data.get("module"):
        to_module = get_object_or_404(Module, pk=form.cleaned_data["module"], course=course)
    position = _target_position(form, item.position) if (form.cleaned_data.get("direction") or form.cleaned_data.get("position") is not None) else 10**6
    services.item_move(by=request.user, item=item, to_position=position, to_module=to_module)
    return _back_to_builder(course, f"#item-{item.pk}")


@require_POST
@login_required
@_translating_errors
def item_remove(request: AuthenticatedHttpRequest, course_id: int, item_id: int) -> HttpResponse:
    course = _editable_course(request, course_id)
    item = get_object_or_404(ModuleItem, pk=item_id, module__course=course)
    services.item_remove(by=request.user, item=item)
    messages.success(request, _("Item removed."))
    return _back_to_builder(course)


# -- learning ---------------------------------------------------------------------------------


@require_POST
@login_required
@_translating_errors
def item_progress(request: AuthenticatedHttpRequest, course_id: int, item_id: int) -> HttpResponse:
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    item = get_object_or_404(ModuleItem, pk=item_id, module__course=course)
    form = ProgressForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown progress status."))
    else:
        services.progress_set(user=request.user, item=item, status=form.cleaned_data["status"])
    return HttpResponseRedirect(reverse("course-detail", args=[course.pk]) + f"#item-{item.pk}", status=303)
