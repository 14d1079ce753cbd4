"""Courses built from library material: a course has ordered modules of ordered items.

A course never copies material: each item points at a library `Material` (and, when the
author wants learners to read one exact text, a pinned `MaterialVersion`). Whether a
learner may open an item is decided at read time by the library's scope rules, so that
ending a partnership takes the access away from every course at once
(see `courses/curriculum/selectors.py`).

Who sees a course (`CourseAudience`, checked in `course_visible_to`):
- a draft (not published) only its editors: the owner, coordinators of the course's
  school, and staff;
- `school`: active members of the course's school;
- `partners` (default): those members and the members of every school with an ACTIVE
  partnership with the course's school;
- `public`: everyone, signed in or not.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The same three levels as library material, so courses and materials filter alike.
from .library import Level

__all__ = [
    "Course",
    "CourseAudience",
    "Module",
    "ModuleItem",
    "LearnerProgress",
    "ProgressStatus",
]


class CourseAudience(models.TextChoices):
    SCHOOL = "school", _("Members of the course's school")
    PARTNERS = "partners", _("The course's school and its partner schools")
    PUBLIC = "public", _("Everyone")


class Course(models.Model):
    """A course a faculty member composes for learners of their school and its partners."""

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    language = models.CharField(
        _("language"), max_length=8, default="en", help_text=_("Language code such as en, fr, pt.")
    )
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.CLINICAL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_courses", verbose_name=_("owner")
    )
    institution = models.ForeignKey(
        "people.Institution", on_delete=models.CASCADE, related_name="courses", verbose_name=_("school")
    )
    audience = models.CharField(
        _("audience"), max_length=10, choices=CourseAudience.choices, default=CourseAudience.PARTNERS
    )
    is_published = models.BooleanField(_("published"), default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "pk"]
        indexes = [models.Index(fields=["institution", "is_published"], name="course_school_published")]

    def __str__(self) -> str:
        return self.title


class Module(models.Model):
    """A chapter of a course. `position` is 0-based and kept dense by the services."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True, max_length=2000)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "position", "pk"]

    def __str__(self) -> str:
        return self.title


class ModuleItem(models.Model):
    """One library material in a module, optionally pinned to one of its versions.

    Without a pinned version the learner gets the material's current version.
    """

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="items")
    material = models.ForeignKey(
        "courses.Material", on_delete=models.CASCADE, related_name="course_items", verbose_name=_("material")
    )
    version = models.ForeignKey(
        "courses.MaterialVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="course_items",
        verbose_name=_("pinned version"),
    )
    note = models.CharField(_("note for learners"), max_length=500, blank=True)
    position = models.PositiveIntegerField(default=0)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["module", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.module} #{self.position}"


class ProgressStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")


class LearnerProgress(models.Model):
    """Where one learner is with one course item. No row means not started."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_progress")
    item = models.ForeignKey(ModuleItem, on_delete=models.CASCADE, related_name="progress")
    status = models.CharField(max_length=12, choices=ProgressStatus.choices, default=ProgressStatus.NOT_STARTED)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="one_progress_per_learner_item")]
        ordering = ["item", "user"]

    def __str__(self) -> str:
        return f"{self.user} · {self.item} · {self.status}"
