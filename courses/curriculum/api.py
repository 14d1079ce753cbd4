"""JSON about courses at /api/courses/ (session with CSRF, or a personal token).

Used by the course builder's JS to reorder and remove without reloading, and by the
course page's JS to mark progress; any client may read outlines. Every route calls the
same services and selectors as the pages, so the rules are the same.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from courses.models import Course, Module, ModuleItem
from server.people.errors import PermissionRefused
from server.people.http import AuthenticatedHttpRequest

from . import selectors, services
from .bundle import bundle_size_estimate
from .selectors import CourseOutline

logger = logging.getLogger(__name__)

router = Router()


class ErrorOut(Schema):
    code: str
    message: str


class CourseOut(Schema):
    id: int
    title: str
    description: str
    language: str
    level: str
    audience: str
    institution_id: int
    institution: str
    published: bool
    item_count: int
    url: str


class ItemOut(Schema):
    id: int
    position: int
    available: bool
    material_id: int | None = None
    title: str = ""
    kind: str = ""
    size_bytes: int = 0
    licence: str = ""
    school: str = ""
    version: int | None = None
    status: str = "not_started"


class ModuleOut(Schema):
    id: int
    position: int
    title: str
    summary: str
    items: list[ItemOut]


class OutlineOut(Schema):
    course: CourseOut
    can_edit: bool
    modules: list[ModuleOut]
    done_count: int
    available_count: int
    unavailable_count: int
    bundle_size_bytes: int
    bundle_url: str


class OrderIn(Schema):
    ids: list[int]


class MoveIn(Schema):
    position: int
    module_id: int | None = None


class ProgressIn(Schema):
    status: str


class ProgressOut(Schema):
    item_id: int
    status: str
    done_count: int
    available_count: int


def _course_out(course: Course, item_count: int | None = None) -> dict[str, Any]:
    if item_count is None:
        item_count = getattr(course, "item_count", None)
        if item_count is None:
            item_count = ModuleItem.objects.filter(module__course=course).count()
    return {
        "id": course.pk,
        "title": course.title,
        "description": course.description,
        "language": course.language,
        "level": course.level,
        "audience": course.audience,
        "institution_id": course.institution_id,
        "institution": course.institution.name,
        "published": course.is_published,
        "item_count": item_count,
        "url": f"/courses/{course.pk}/",
    }


def _outline_out(outline: CourseOutline) -> dict[str, Any]:
    course = outline.course
    modules = []
    for module_view in outline.modules:
        items: list[dict[str, Any]] = []
        for entry in module_view.items:
            if not entry.available:
                items.append({"id": entry.item.pk, "position": entry.item.position, "available": False})
                continue
            items.append(
                {
                    "id": entry.item.pk,
                    "position": entry.item.position,
                    "available": True,
                    "material_id": entry.item.material_id,
                    "title": entry.title,
                    "kind": entry.kind,
                    "size_bytes": entry.size_bytes,
                    "licence": entry.licence_label,
                    "school": entry.school_name,
                    "version": entry.version.number if entry.version is not None else None,
                    "status": entry.status,
                }
            )
        module = module_view.module
        modules.append(
            {"id": module.pk, "position": module.position, "title": module.title, "summary": module.summary, "items": items}
        )
    return {
        "course": _course_out(course, item_count=len(outline.items)),
        "can_edit": outline.can_edit,
        "modules": modules,
        "done_count": outline.done_count,
        "available_count": len(outline.available_items),
        "unavailable_count": outline.unavailable_count,
        "bundle_size_bytes": bundle_size_estimate(outline=outline),
        "bundle_url": f"/courses/{course.pk}/offline.zip",
    }


def _editable(request: HttpRequest, course_id: int) -> Course:
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    if not selectors.course_can_edit(user=request.user, course=course):
        raise PermissionRefused(
            "Only the course's author or a coordinator of its school can change this course.", code="not_course_editor"
        )
    return course


@router.get("/", response=list[CourseOut], summary="Published courses open to you")
def course_list(request: AuthenticatedHttpRequest) -> list[dict[str, Any]]:
    courses = selectors.courses_visible_to(user=request.user).filter(is_published=True)
    return [_course_out(course) for course in courses[:500]]


@router.get("/{course_id}", response={200: OutlineOut, 403: ErrorOut}, summary="A course's outline as you see it")
def course_get(request: AuthenticatedHttpRequest, course_id: int) -> Any:
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    return _outline_out(selectors.course_outline(user=request.user, course=course))


@router.post("/{course_id}/modules/order", response={200: OutlineOut, 400: ErrorOut, 403: ErrorOut}, summary="Reorder modules")
def modules_order(request: AuthenticatedHttpRequest, course_id: int, payload: OrderIn) -> Any:
    course = _editable(request, course_id)
    services.module_reorder(by=request.user, course=course, module_ids=payload.ids)
    return _outline_out(selectors.course_outline(user=request.user, course=course))


@router.post(
    "/{course_id}/modules/{module_id}/items/order",
    response={200: OutlineOut, 400: ErrorOut, 403: ErrorOut},
    summary="Reorder the items of a module",
)
def items_order(request: AuthenticatedHttpRequest, course_id: int, module_id: int, payload: OrderIn) -> Any:
    course = _editable(request, course_id)
    module = get_object_or_404(Module, pk=module_id, course=course)
    services.item_reorder(by=request.user, module=module, item_ids=payload.ids)
    return _outline_out(selectors.course_outline(user=request.user, course=course))


@router.post(
    "/{course_id}/items/{item_id}/move",
    response={200: OutlineOut, 400: ErrorOut, 403: ErrorOut},
    summary="Move an item (optionally to another module)",
)
def item_move(request: AuthenticatedHttpRequest, course_id: int, item_id: int, payload: MoveIn) -> Any:
    course = _editable(request, course_id)
    item = get_object_or_404(ModuleItem, pk=item_id, module__course=course)
    to_module = get_object_or_404(Module, pk=payload.module_id, course=course) if payload.module_id else None
    services.item_move(by=request.user, item=item, to_position=payload.position, to_module=to_module)
    return _outline_out(selectors.course_outline(user=request.user, course=course))


@router.delete("/{course_id}/items/{item_id}", response={200: OutlineOut, 403: ErrorOut}, summary="Remove an item")
def item_delete(request: AuthenticatedHttpRequest, course_id: int, item_id: int) -> Any:
    course = _editable(request, course_id)
    item = get_object_or_404(ModuleItem, pk=item_id, module__course=course)
    services.item_remove(by=request.user, item=item)
    return _outline_out(selectors.course_outline(user=request.user, course=course))


@router.delete("/{course_id}/modules/{module_id}", response={200: OutlineOut, 403: ErrorOut}, summary="Remove a module")
def module_delete(request: AuthenticatedHttpRequest, course_id: int, module_id: int) -> Any:
    course = _editable(request, course_id)
    module = get_object_or_404(Module, pk=module_id, course=course)
    services.module_remove(by=request.user, module=module)
    return _outline_out(selectors.course_outline(user=request.user, course=course))


@router.put(
    "/{course_id}/items/{item_id}/progress",
    response={200: ProgressOut, 400: ErrorOut, 403: ErrorOut},
    summary="Set your progress on an item",
)
def item_progress(request: AuthenticatedHttpRequest, course_id: int, item_id: int, payload: ProgressIn) -> Any:
    course = selectors.course_get_for_viewer(user=request.user, course_id=course_id)
    item = get_object_or_404(ModuleItem, pk=item_id, module__course=course)
    progress = services.progress_set(user=request.user, item=item, status=payload.status)
    outline = selectors.course_outline(user=request.user, course=course)
    return {
        "item_id": item.pk,
        "status": progress.status,
        "done_count": outline.done_count,
        "available_count": len(outline.available_items),
    }
