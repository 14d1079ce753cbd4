"""Writes about courses: composing them, publishing them, and a learner's progress.

Every function checks permission itself (tests call them directly), raises
`PermissionRefused` / `InvalidRequest` with a message for people, and emits one course
event after commit when others must see the change.

Ordering: `position` is 0-based and kept dense (0..n-1) inside a course (modules) and a
module (items) by renumbering after every add, move and remove, under a row lock on the
course so two editors cannot interleave.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.library.selectors import material_visible_to
from courses.models import (
    Course,
    CourseAudience,
    LearnerProgress,
    Level,
    Material,
    MaterialVersion,
    Module,
    ModuleItem,
    ProgressStatus,
    QuestionSet,
    question_lineages_keep,
)
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Institution, User

from .events import course_event_emit
from .selectors import course_can_edit, course_visible_to, item_available_to, user_builder_institution_ids

logger = logging.getLogger(__name__)

MAX_MODULES = 100
MAX_ITEMS_PER_MODULE = 200


def _require_editor(user: User, course: Course) -> None:
    if not course_can_edit(user=user, course=course):
        raise PermissionRefused(
            _("Only the course's author or a coordinator of %(school)s can change this course.")
            % {"school": course.institution.name},
            code="not_course_editor",
        )


def _locked_course(course: Course) -> Course:
    """Lock the course row for the rest of the transaction (ordering changes)."""
    return Course.objects.select_for_update().select_related("institution").get(pk=course.pk)


def clean_text(value: str, *, label: str, max_length: int, required: bool) -> str:
    """A form's text, stripped, or a clear refusal (`missing_field`, `too_long`); also used by assessment."""
    value = (value or "").strip()
    if required and not value:
        raise InvalidRequest(_("%(field)s is required.") % {"field": label}, code="missing_field")
    if len(value) > max_length:
        raise InvalidRequest(
            _("%(field)s is too long (at most %(n)d characters).") % {"field": label, "n": max_length},
            code="too_long",
        )
    return value


def _check_choices(*, level: str, audience: str) -> None:
    if level not in Level.values:
        raise InvalidRequest(_("Unknown level."), code="bad_level")
    if audience not in CourseAudience.values:
        raise InvalidRequest(_("Unknown audience."), code="bad_audience")


# -- courses --------------------------------------------------------------------------------


def course_create(
    *,
    by: User,
    institution: Institution,
    title: str,
    description: str = "",
    language: str = "en",
    level: str = Level.CLINICAL,
    audience: str = CourseAudience.PARTNERS,
) -> Course:
    """A faculty member, supervisor or coordinator starts a (draft) course for their school."""
    if institution.pk not in user_builder_institution_ids(user=by) and not by.is_staff:
        raise PermissionRefused(
            _("Only faculty, supervisors and coordinators of %(school)s can create its courses.")
            % {"school": institution.name},
            code="not_course_builder",
        )
    _check_choices(level=level, audience=audience)
    course = Course.objects.create(
        title=clean_text(title, label=_("Title"), max_length=200, required=True),
        description=clean_text(description, label=_("Description"), max_length=5000, required=False),
        language=clean_text(language, label=_("Language"), max_length=8, required=True),
        level=level,
        audience=audience,
        owner=by,
        institution=institution,
    )
    logger.info("course %s created at institution %s", course.pk, institution.pk)
    course_event_emit(kind="course.created", course_id=course.pk)
    return course


def course_update(
    *,
    by: User,
    course: Course,
    title: str,
    description: str,
    language: str,
    level: str,
    audience: str,
) -> Course:
    _require_editor(by, course)
    _check_choices(level=level, audience=audience)
    course.title = clean_text(title, label=_("Title"), max_length=200, required=True)
    course.description = clean_text(description, label=_("Description"), max_length=5000, required=False)
    course.language = clean_text(language, label=_("Language"), max_length=8, required=True)
    course.level = level
    course.audience = audience
    course.save(update_fields=["title", "description", "language", "level", "audience", "updated_at"])
    course_event_emit(kind="course.updated", course_id=course.pk)
    return course


def course_set_published(*, by: User, course: Course, published: bool) -> Course:
    """Publish (learners in the audience see it) or take back to draft."""
    _require_editor(by, course)
    if published and not ModuleItem.objects.filter(module__course=course).exists():
        raise InvalidRequest(_("Add at least one item before publishing the course."), code="empty_course")
    course.is_published = published
    course.published_at = timezone.now() if published else None
    course.save(update_fields=["is_published", "published_at", "updated_at"])
    course_event_emit(kind="course.published" if published else "course.unpublished", course_id=course.pk)
    return course


def course_delete(*, by: User, course: Course) -> None:
    _require_editor(by, course)
    course_id = course.pk
    course.delete()
    logger.info("course %s deleted", course_id)
    course_event_emit(kind="course.deleted", course_id=course_id)


# -- modules --------------------------------------------------------------------------------


def _renumber(rows: Sequence[Module | ModuleItem]) -> None:
    for index, row in enumerate(rows):
        if row.position != index:
            row.position = index
            row.save(update_fields=["position"])


def module_add(*, by: User, course: Course, title: str, summary: str = "") -> Module:
    """Append a module at the end of the course."""
    _require_editor(by, course)
    with transaction.atomic():
        course = _locked_course(course)
        count = course.modules.count()
        if count >= MAX_MODULES:
            raise InvalidRequest(_("A course has at most %(n)d modules.") % {"n": MAX_MODULES}, code="too_many_modules")
        module = Module.objects.create(
            course=course,
            title=clean_text(title, label=_("Title"), max_length=200, required=True),
            summary=clean_text(summary, label=_("Summary"), max_length=2000, required=False),
            position=count,
        )
        course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"module_id": module.pk})
    return module


def module_update(*, by: User, module: Module, title: str, summary: str = "") -> Module:
    _require_editor(by, module.course)
    module.title = clean_text(title, label=_("Title"), max_length=200, required=True)
    module.summary = clean_text(summary, label=_("Summary"), max_length=2000, required=False)
    module.save(update_fields=["title", "summary"])
    course_event_emit(kind="course.outline_changed", course_id=module.course_id, data={"module_id": module.pk})
    return module


def module_remove(*, by: User, module: Module) -> None:
    """Remove a module and its items (learners' progress on them goes too) and its question
    sets; a question moved from one of them to another module's set stays there with its
    later versions (`question_lineages_keep`)."""
    course = module.course
    _require_editor(by, course)
    with transaction.atomic():
        course = _locked_course(course)
        question_lineages_keep(leaving=QuestionSet.objects.filter(module=module))
        module.delete()
        _renumber(list(course.modules.order_by("position", "pk")))
        course_event_emit(kind="course.outline_changed", course_id=course.pk)


def module_move(*, by: User, module: Module, to_position: int) -> Module:
    """Move a module to `to_position` (0-based, clamped to the course's range)."""
    course = module.course
    _require_editor(by, course)
    with transaction.atomic():
        course = _locked_course(course)
        modules = [m for m in course.modules.order_by("position", "pk") if m.pk != module.pk]
        target = max(0, min(int(to_position), len(modules)))
        modules.insert(target, module)
        _renumber(modules)
        course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"module_id": module.pk})
    module.refresh_from_db()
    return module


def module_reorder(*, by: User, course: Course, module_ids: Sequence[int]) -> list[Module]:
    """Put the course's modules in the given order; the list must name each module once."""
    _require_editor(by, course)
    with transaction.atomic():
        course = _locked_course(course)
        modules = {m.pk: m for m in course.modules.all()}
        if sorted(module_ids) != sorted(modules):
            raise InvalidRequest(_("The new order must list every module of the course once."), code="bad_order")
        ordered = [modules[pk] for pk in module_ids]
        _renumber(ordered)
        course_event_emit(kind="course.outline_changed", course_id=course.pk)
    return ordered


# -- items ----------------------------------------------------------------------------------


def item_add(
    *,
    by: User,
    module: Module,
    material: Material,
    version: MaterialVersion | None = None,
    note: str = "",
) -> ModuleItem:
    """Append a library material to a module.

    The material must be one the builder may see under the library's scope rules (public,
    their own school's, or shared with partner schools by an ACTIVE partner). Anything
    else is refused even if its id is known.
    """
    course = module.course
    _require_editor(by, course)
    if not material_visible_to(by).filter(pk=material.pk).exists():
        raise PermissionRefused(
            _("This material is not shared with your school, so it cannot be added to a course."),
            code="material_not_shared",
        )
    if version is not None and version.material_id != material.pk:
        raise InvalidRequest(_("This version belongs to another material."), code="version_mismatch")
    with transaction.atomic():
        _locked_course(course)
        count = module.items.count()
        if count >= MAX_ITEMS_PER_MODULE:
            raise InvalidRequest(
                _("A module has at most %(n)d items.") % {"n": MAX_ITEMS_PER_MODULE}, code="too_many_items"
            )
        item = ModuleItem.objects.create(
            module=module,
            material=material,
            version=version,
            note=clean_text(note, label=_("Note"), max_length=500, required=False),
            position=count,
            added_by=by,
        )
        course_event_emit(kind="course.outline_changed", course_id=course.pk, data={"item_id": item.pk})
    return item


def item_remove(*, by: User, item: ModuleItem) -> None:
    module = item.module
    _require_editor(by, module.course)
    with transaction.atomic():
        _locked_course(module.course)
        item.delete()
        _renumber(list(module.items.order_by("position", "pk")))
        course_event_emit(kind="course.outline_changed", course_id=module.course_id)


def item_move(*, by: User, item: ModuleItem, to_position: int, to_module: Module | None = None) -> ModuleItem:
    """Move an item within its module, or into another module of the same course."""
    source = item.module
    target_module = to_module or source
    _require_editor(by, source.course)
    if target_module.course_id != source.course_id:
        raise InvalidRequest(_("An item can only move between modules of the same course."), code="other_course")
    with transaction.atomic():
        _locked_course(source.course)
        siblings = [i for i in target_module.items.order_by("position", "pk") if i.pk != item.pk]
        target = max(0, min(int(to_position), len(siblings)))
        if target_module.pk != source.pk:
            item.module = target_module
            item.save(update_fields=["module"])
        siblings.insert(target, item)
        _renumber(siblings)
        if target_module.pk != source.pk:
            _renumber(list(source.items.order_by("position", "pk")))
        course_event_emit(kind="course.outline_changed", course_id=source.course_id, data={"item_id": item.pk})
    item.refresh_from_db()
    return item


def item_reorder(*, by: User, module: Module, item_ids: Sequence[int]) -> list[ModuleItem]:
    """Put a module's items in the given order; the list must name each item once."""
    _require_editor(by, module.course)
    with transaction.atomic():
        _locked_course(module.course)
        items = {i.pk: i for i in module.items.all()}
        if sorted(item_ids) != sorted(items):
            raise InvalidRequest(_("The new order must list every item of the module once."), code="bad_order")
        ordered = [items[pk] for pk in item_ids]
        _renumber(ordered)
        course_event_emit(kind="course.outline_changed", course_id=module.course_id)
    return ordered


# -- progress -------------------------------------------------------------------------------


def progress_set(*, user: User, item: ModuleItem, status: str) -> LearnerProgress:
    """A learner marks where they are with one item (not started / in progress / done).

    Only for a course the learner may open and an item still shared with their school.
    Private to the learner, so no event.
    """
    if not user.is_authenticated:
        raise PermissionRefused(_("Log in to keep track of your progress."), code="login_required")
    if status not in ProgressStatus.values:
        raise InvalidRequest(_("Unknown progress status."), code="bad_status")
    course = item.module.course
    if not course_visible_to(user=user, course=course):
        raise PermissionRefused(_("This course does not exist or is not open to you."), code="course_not_visible")
    if not item_available_to(user=user, item=item):
        raise PermissionRefused(
            _("This item is no longer shared with your school."), code="item_not_shared"
        )
    progress, _created = LearnerProgress.objects.get_or_create(user=user, item=item)
    progress.status = status
    progress.completed_at = timezone.now() if status == ProgressStatus.DONE else None
    progress.save(update_fields=["status", "completed_at", "updated_at"])
    if status == ProgressStatus.DONE:
        # Ids only: the learning record (sessions/record) issues a course certificate.
        course_event_emit(kind="progress.done", course_id=course.pk, data={"user_id": user.pk})
    return progress
