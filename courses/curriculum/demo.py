"""Demo courses for `seed_demo`, built from the library's demo materials; safe to run again.

Runs after the library seed. Each course is composed through the services, by a named
faculty member, from what that person may see (their school's material, public
material, and what active partners share), so the demo shows the same rules as the
product: three schools, three audiences, items from several countries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TextIO

from django.db import transaction
from django.db.models import Q

from courses.library.selectors import material_visible_to
from courses.models import Course, CourseAudience, Level, Material, MaterialKind, ModuleItem, ProgressStatus
from server.people.models import Institution, User

from . import services

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CourseSeed:
    owner: str
    title: str
    description: str
    level: str
    audience: str
    keywords: tuple[str, ...]


SEEDS = (
    CourseSeed(
        owner="adebayo",
        title="Fever in the tropics: a partner course",
        description=(
            "Malaria, tuberculosis, dengue and sepsis through notes and cases contributed by "
            "Lagos and its partner schools. Each item says which school shared it and under "
            "which licence."
        ),
        level=Level.CLINICAL,
        audience=CourseAudience.PARTNERS,
        keywords=("malaria", "tubercul", "fever", "sepsis", "infect", "dengue", "hiv", "typhoid"),
    ),
    CourseSeed(
        owner="hoffmann",
        title="Cardiology grand rounds: cases and skills",
        description=(
            "Chest pain, heart failure and the ECG, built around teaching cases from "
            "Heidelberg and partner schools in India and Brazil."
        ),
        level=Level.POSTGRADUATE,
        audience=CourseAudience.PARTNERS,
        keywords=("cardio", "heart", "ecg", "chest", "hypertens", "murmur", "coronary"),
    ),
    CourseSeed(
        owner="asante",
        title="Clinical skills for district hospitals",
        description=(
            "Open to everyone: examination skills, emergencies and child health for work "
            "far from a teaching hospital. Learners see the items their school may see."
        ),
        level=Level.PRE_CLINICAL,
        audience=CourseAudience.PUBLIC,
        keywords=("exam", "skill", "paediatric", "pediatric", "child", "emergenc", "obstetric", "trauma"),
    ),
)

MODULES = (
    ("Read first", (MaterialKind.PDF, MaterialKind.SLIDES, MaterialKind.IMAGE)),
    ("Cases to work through", (MaterialKind.CASE,)),
    ("Watch, listen and explore", (MaterialKind.VIDEO, MaterialKind.AUDIO, MaterialKind.RECORDING, MaterialKind.LINK)),
)
PER_MODULE = 4


def _pick(owner: User, seed: CourseSeed) -> dict[str, list[Material]]:
    """Up to PER_MODULE materials per module: keyword matches first, several schools mixed."""
    visible = material_visible_to(owner).filter(withdrawn_at__isnull=True)
    match = Q()
    for word in seed.keywords:
        match |= Q(title__icontains=word) | Q(discipline__icontains=word) | Q(search_text__icontains=word)
    picked: dict[str, list[Material]] = {}
    for title, kinds in MODULES:
        chosen: list[Material] = []
        schools: set[int] = set()
        candidates = list(visible.filter(kind__in=kinds).filter(match).order_by("pk")[:40]) + list(
            visible.filter(kind__in=kinds).exclude(match).order_by("pk")[:40]
        )
        # First pass: one per school, so a course shows several countries; then fill up.
        for material in candidates:
            if len(chosen) < PER_MODULE and material.institution_id not in schools:
                chosen.append(material)
                schools.add(material.institution_id)
        for material in candidates:
            if len(chosen) < PER_MODULE and material not in chosen:
                chosen.append(material)
        picked[title] = chosen
    return picked


def _build(seed: CourseSeed, stdout: TextIO) -> Course | None:
    owner = User.objects.filter(username=seed.owner).first()
    membership = owner.primary_membership() if owner else None
    if owner is None or membership is None:
        stdout.write(f"  course skipped (no demo user {seed.owner})\n")
        return None
    school: Institution = membership.institution
    course = Course.objects.filter(title=seed.title, institution=school).first()
    if course is not None and ModuleItem.objects.filter(module__course=course).exists():
        return course
    with transaction.atomic():
        if course is None:
            course = services.course_create(
                by=owner, institution=school, title=seed.title, description=seed.description,
                language="en", level=seed.level, audience=seed.audience,
            )
        picked = _pick(owner, seed)
        for title, _kinds in MODULES:
            if not picked[title]:
                continue
            module = course.modules.filter(title=title).first() or services.module_add(by=owner, course=course, title=title)
            for material in picked[title]:
                services.item_add(by=owner, module=module, material=material)
        if ModuleItem.objects.filter(module__course=course).exists():
            services.course_set_published(by=owner, course=course, published=True)
    return course


def _learner_progress(course: Course, username: str, done: int) -> None:
    """Some progress for a demo learner, so the course page shows it."""
    learner = User.objects.filter(username=username).first()
    if learner is None:
        return
    from .selectors import course_outline, course_visible_to

    if not course_visible_to(user=learner, course=course):
        return
    for entry in course_outline(user=learner, course=course).available_items[:done]:
        services.progress_set(user=learner, item=entry.item, status=ProgressStatus.DONE)


def seed(stdout: TextIO) -> None:
    """Create the three demo courses (published) and a little progress for amina and lukas."""
    if not Material.objects.exists():
        stdout.write("  no library material yet: demo courses skipped\n")
        return
    built = [course for course in (_build(s, stdout) for s in SEEDS) if course is not None]
    if built:
        _learner_progress(built[0], "amina", 2)
        _learner_progress(built[1], "lukas", 1)
    count = ModuleItem.objects.filter(module__course__in=built).count()
    stdout.write(f"Courses: {len(built)} demo courses with {count} items.\n")
