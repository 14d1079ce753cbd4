"""Permission-checked reads about courses: who sees a course, what each viewer gets of it.

Availability of an item is never stored: it is the library's own scope rule
(`material_visible_to`) evaluated for the viewer at read time. So a partnership that
ends takes its school's items out of every course immediately, and they show as
"no longer shared with your school" instead of breaking the page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from courses.library.selectors import material_visible_to
from courses.models import (
    Course,
    CourseAudience,
    LearnerProgress,
    Material,
    MaterialVersion,
    Module,
    ModuleItem,
    ProgressStatus,
    QuestionSet,
)
from server.people.errors import PermissionRefused
from server.people.http import AnyUser
from server.people.models import Role, User
from server.people.selectors import institution_partner_ids, user_has_role, user_institution_ids

logger = logging.getLogger(__name__)

#: Roles that may compose courses (at their own school).
BUILDER_ROLES = (Role.FACULTY, Role.SUPERVISOR, Role.COORDINATOR)


def user_builder_institution_ids(*, user: AnyUser) -> set[int]:
    """Schools where the user may create courses (faculty, supervisor or coordinator)."""
    if not user.is_authenticated:
        return set()
    return set(
        user.memberships.filter(is_active=True, role__in=list(BUILDER_ROLES)).values_list("institution_id", flat=True)
    )


def user_can_build_courses(*, user: AnyUser) -> bool:
    return bool(user_builder_institution_ids(user=user))


def course_can_edit(*, user: AnyUser, course: Course) -> bool:
    """The owner (while still teaching at the course's school), its coordinators, and staff."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if user_has_role(user=user, roles=[Role.COORDINATOR], institution=course.institution):
        return True
    return course.owner_id == user.pk and course.institution_id in user_builder_institution_ids(user=user)


def _audience_filter(user: AnyUser) -> Q:
    """Published courses this user is in the audience of (see the model's docstring)."""
    public = Q(is_published=True, audience=CourseAudience.PUBLIC)
    if not user.is_authenticated:
        return public
    own = user_institution_ids(user=user)
    partners = institution_partner_ids(institution_ids=own)
    return (
        public
        | Q(is_published=True, audience=CourseAudience.SCHOOL, institution_id__in=own)
        | Q(is_published=True, audience=CourseAudience.PARTNERS, institution_id__in=own | partners)
    )


def courses_visible_to(*, user: AnyUser) -> QuerySet[Course]:
    """Every course the user may open: published ones in their audience, and their drafts."""
    query = _audience_filter(user)
    if user.is_authenticated and not user.is_staff:
        coordinated = set(
            user.memberships.filter(is_active=True, role=Role.COORDINATOR).values_list("institution_id", flat=True)
        )
        query |= Q(owner=user, institution_id__in=user_builder_institution_ids(user=user))
        query |= Q(institution_id__in=coordinated)
    courses = Course.objects.all() if user.is_authenticated and user.is_staff else Course.objects.filter(query)
    return (
        courses
        .select_related("institution", "owner")
        .annotate(item_count=Count("modules__items", distinct=True))
        .distinct()
    )


def course_visible_to(*, user: AnyUser, course: Course) -> bool:
    if course_can_edit(user=user, course=course):
        return True
    return Course.objects.filter(_audience_filter(user), pk=course.pk).exists()


def course_get_for_viewer(*, user: AnyUser, course_id: int) -> Course:
    """The course if the user may open it; `PermissionRefused` otherwise (also for a missing id,
    so that drafts of other schools cannot be discovered by probing ids)."""
    course = Course.objects.select_related("institution", "owner").filter(pk=course_id).first()
    if course is None or not course_visible_to(user=user, course=course):
        raise PermissionRefused(_("This course does not exist or is not open to you."), code="course_not_visible")
    return course


def courses_edited_by(*, user: AnyUser) -> QuerySet[Course]:
    """Courses on the user's "my courses" list: their own and those of schools they coordinate."""
    if not user.is_authenticated:
        return Course.objects.none()
    coordinated = set(
        user.memberships.filter(is_active=True, role=Role.COORDINATOR).values_list("institution_id", flat=True)
    )
    return (
        Course.objects.filter(Q(owner=user) | Q(institution_id__in=coordinated))
        .select_related("institution")
        .annotate(item_count=Count("modules__items", distinct=True))
    )


# -- the outline a viewer gets --------------------------------------------------------------


@dataclass
class ItemView:
    """One course item as one viewer sees it. When `available` is false every material
    field is left empty: the viewer must not learn what a school stopped sharing."""

    item: ModuleItem
    available: bool
    status: str = ProgressStatus.NOT_STARTED
    title: str = ""
    material_url: str = ""
    facts: Any = None  # material_facts.ItemFacts of an available item
    material: Material | None = None
    version: MaterialVersion | None = None
    kind: str = ""
    kind_label: str = ""
    size_bytes: int = 0
    file_count: int = 0
    licence_label: str = ""
    school_name: str = ""

    @property
    def is_done(self) -> bool:
        return self.status == ProgressStatus.DONE


@dataclass
class ModuleView:
    module: Module
    items: list[ItemView] = field(default_factory=list)
    # Question sets of the module, after its items (courses/assessment/ reads and writes them).
    question_sets: list[QuestionSet] = field(default_factory=list)


@dataclass
class CourseOutline:
    """Everything the course page shows, computed once per request."""

    course: Course
    modules: list[ModuleView]
    can_edit: bool

    @property
    def items(self) -> list[ItemView]:
        return [item for module in self.modules for item in module.items]

    @property
    def available_items(self) -> list[ItemView]:
        return [item for item in self.items if item.available]

    @property
    def unavailable_count(self) -> int:
        return sum(1 for item in self.items if not item.available)

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.available_items if item.is_done)

    @property
    def total_size_bytes(self) -> int:
        return sum(item.size_bytes for item in self.available_items)


def course_outline(*, user: AnyUser, course: Course) -> CourseOutline:
    """The modules and items of `course` for `user`, with availability, sizes and progress.

    Precondition: the caller checked `course_visible_to` (the views use
    `course_get_for_viewer`).
    """
    from . import material_facts

    items_query = ModuleItem.objects.select_related("material", "material__institution", "version").order_by("position", "pk")
    modules = list(
        Module.objects.filter(course=course).order_by("position", "pk").prefetch_related(Prefetch("items", items_query))
    )
    all_items = [item for module in modules for item in module.items.all()]
    visible_ids = set(
        material_visible_to(user=user).filter(pk__in={item.material_id for item in all_items}).values_list("pk", flat=True)
    )
    statuses: dict[int, str] = {}
    if user.is_authenticated and all_items:
        statuses = dict(
            LearnerProgress.objects.filter(user=user, item__in=all_items).values_list("item_id", "status")
        )
    facts_by_item = material_facts.items_facts(items=[item for item in all_items if item.material_id in visible_ids])
    question_sets: dict[int, list[QuestionSet]] = {}
    for question_set in QuestionSet.objects.filter(module__course=course).order_by("position", "pk"):
        question_sets.setdefault(question_set.module_id, []).append(question_set)
    views: list[ModuleView] = []
    for module in modules:
        module_view = ModuleView(module=module, question_sets=question_sets.get(module.pk, []))
        for item in module.items.all():
            if item.material_id not in visible_ids:
                module_view.items.append(ItemView(item=item, available=False))
                continue
            facts = facts_by_item[item.pk]
            module_view.items.append(
                ItemView(
                    item=item,
                    available=True,
                    status=statuses.get(item.pk, ProgressStatus.NOT_STARTED),
                    title=facts.title,
                    facts=facts,
                    material_url=material_facts.material_page_url(material_id=item.material_id),
                    material=item.material,
                    version=facts.version,
                    kind=facts.kind,
                    kind_label=facts.kind_label,
                    size_bytes=facts.size_bytes,
                    file_count=len(facts.files),
                    licence_label=facts.licence_label,
                    school_name=facts.school_name,
                )
            )
        views.append(module_view)
    return CourseOutline(course=course, modules=views, can_edit=course_can_edit(user=user, course=course))


def item_available_to(*, user: AnyUser, item: ModuleItem) -> bool:
    """Whether the learner may open this item's material now."""
    return material_visible_to(user=user).filter(pk=item.material_id).exists()


def learner_progress_for(*, user: AnyUser, items: Iterable[ModuleItem]) -> dict[int, str]:
    if not user.is_authenticated:
        return {}
    return dict(LearnerProgress.objects.filter(user=user, item__in=list(items)).values_list("item_id", "status"))


def builder_material_search(*, user: AnyUser, query: str, limit: int = 20) -> list:
    """Materials a course builder may add: only what the library shows them, newest first.

    A plain title/description/discipline match is enough for picking; the library's
    full-text search page is linked for anything more.
    """
    materials = material_visible_to(user=user).filter(withdrawn_at__isnull=True)
    query = (query or "").strip()
    if query:
        materials = materials.filter(
            Q(title__icontains=query) | Q(description__icontains=query) | Q(discipline__icontains=query)
        )
    return list(materials.order_by("-updated_at", "-pk")[:limit])


def dashboard_courses(*, user: User, limit: int) -> dict[str, Any]:
    """The home page's "Courses"."""
    return {"courses": list(courses_visible_to(user=user).order_by("-pk")[:limit])}


# -- completion, for the learning record (sessions/record) --------------------------------


@dataclass(frozen=True)
class CourseCompletion:
    user_id: int
    course_id: int
    completed_at: Any


def courses_completed(*, user_ids: Iterable[int] | QuerySet, course_ids: Iterable[int] | None = None) -> list[CourseCompletion]:
    """Courses each learner has completed: every item of the course marked done.

    Counted in SQL (done items per learner and course against items per course), so a
    school's report reads thousands of learners in one query. `completed_at` is when the
    last item was done. An empty course is never "completed".
    """
    progress = LearnerProgress.objects.filter(status=ProgressStatus.DONE, user_id__in=user_ids)
    if course_ids is not None:
        progress = progress.filter(item__module__course_id__in=list(course_ids))
    done = (
        progress.values("user_id", "item__module__course_id")
        .annotate(done=Count("item_id", distinct=True), last=Max("completed_at"))
    )
    wanted = {row["item__module__course_id"] for row in done}
    sizes = dict(
        ModuleItem.objects.filter(module__course_id__in=wanted).values("module__course_id")
        .annotate(n=Count("id")).values_list("module__course_id", "n")
    )
    return [
        CourseCompletion(user_id=row["user_id"], course_id=row["item__module__course_id"], completed_at=row["last"])
        for row in done if sizes.get(row["item__module__course_id"]) == row["done"]
    ]


def course_learner_ids(*, course_id: int) -> list[int]:
    """Everyone who has marked progress in a course (for a backfill of its certificates)."""
    return list(LearnerProgress.objects.filter(item__module__course_id=course_id).values_list("user_id", flat=True).distinct())
