"""Question sets in courses: questions, answer options, and learners' attempts.

A `QuestionSet` is an item of a module, listed after the module's materials (a course
item that points at library material stays a `ModuleItem`; a question set has no
material of its own, so it is its own row rather than a `ModuleItem` with a null
material that every material reader would have to skip).

Attempts are identified by the client: the browser makes `client_id` (a UUID) when the
learner starts submitting, and keeps it until the server has answered. The unique
constraint on (user, client_id) is what makes a resent attempt count once, whether it
comes twice from an offline queue or once from a form and once from a retry.

Questions are versioned (as Moodle does): an edit retires the edited row (`retired_at`)
with its options and adds the new text as a new row of the same `origin` (its first
version), at the same position. Answers keep pointing at the version the learner saw,
so a past attempt is shown and scored against it, never against a later answer key; an
answer to an older version that arrives late (offline) is marked against that version.
Removing a question retires it the same way.

Scores are stored in points (`score` of `max_score`); the pass mark is a percentage of
`max_score`. An attempt with a short answer waits for marking (`status` PENDING) and
has no pass/fail until faculty marked every short answer in it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "QuestionSet",
    "Question",
    "QuestionKind",
    "AnswerOption",
    "Attempt",
    "AttemptStatus",
    "Answer",
    "question_lineages_keep",
]


class QuestionSet(models.Model):
    """A quiz in a module: its questions, pass mark (percent) and allowed attempts."""

    module = models.ForeignKey("courses.Module", on_delete=models.CASCADE, related_name="question_sets")
    title = models.CharField(_("title"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True, max_length=2000)
    pass_mark = models.PositiveSmallIntegerField(
        _("pass mark (%)"), default=60, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts allowed"), default=3, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["module", "position", "pk"]

    def __str__(self) -> str:
        return self.title


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    SHORT = "short", _("Short answer (marked by faculty)")


class Question(models.Model):
    """One question. `image` is a library material whose first image is shown with the
    prompt (an ECG, a radiograph, a clinical photo), through the library's private URLs."""

    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(_("kind"), max_length=10, choices=QuestionKind.choices, default=QuestionKind.SINGLE)
    prompt = models.TextField(_("question"), max_length=2000)
    image = models.ForeignKey(
        "courses.Material",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("image from the library"),
    )
    points = models.PositiveSmallIntegerField(_("points"), default=1, validators=[MinValueValidator(1)])
    model_answer = models.TextField(_("model answer (for markers)"), blank=True, max_length=2000)
    position = models.PositiveIntegerField(default=0)
    #: The first version of this question (null on the first version itself).
    origin = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    version = models.PositiveSmallIntegerField(default=1)
    #: Set when a newer version replaced this one or it was removed after being answered:
    #: kept for the attempts that answered it, no longer asked.
    retired_at = models.DateTimeField(null=True, blank=True)
    #: Who wrote this version and when (null on versions saved before they were recorded).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    #: Who replaced or removed this version (with `retired_at`), for its history page.
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["question_set", "position", "pk"]
        indexes = [models.Index(fields=["question_set", "retired_at", "position"], name="question_current")]

    def __str__(self) -> str:
        return self.prompt[:60]

    @property
    def lineage(self) -> int:
        """The id shared by every version of this question (its first version's)."""
        return self.origin_id or self.pk


def question_lineages_keep(*, leaving: models.QuerySet[QuestionSet]) -> None:
    """Before the sets `leaving` are deleted: a question moved out of one of them to a set
    that stays keeps its versions there. Their `origin` (the first version, in a deleted
    set) would cascade them away, so the earliest of them becomes the origin of the rest.
    Called by every path that deletes a question set (the set, its module); the caller
    holds a transaction."""
    outside = (
        Question.objects.filter(origin__question_set__in=leaving)
        .exclude(question_set__in=leaving)
        .order_by("version", "pk")
        .values_list("pk", "origin_id")
    )
    heads: dict[int, int] = {}
    for pk, origin_id in outside:
        head = heads.setdefault(origin_id, pk)
        Question.objects.filter(pk=pk).update(origin_id=None if head == pk else head)


class AnswerOption(models.Model):
    """An option of a choice question, with the feedback a learner reads after choosing it."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    text = models.CharField(_("option"), max_length=500)
    is_correct = models.BooleanField(_("correct"), default=False)
    feedback = models.CharField(_("feedback"), max_length=1000, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["question", "position", "pk"]

    def __str__(self) -> str:
        return self.text[:60]


class AttemptStatus(models.TextChoices):
    GRADED = "graded", _("Graded")
    PENDING = "pending", _("Waiting for marking")


class Attempt(models.Model):
    """One submission of a question set by one learner."""

    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="attempts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    client_id = models.UUIDField()
    number = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.GRADED)
    score = models.FloatField(default=0)
    max_score = models.FloatField(default=0)
    passed = models.BooleanField(null=True)
    answered_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client_id"], name="one_attempt_per_client_id")]
        indexes = [models.Index(fields=["question_set", "user"], name="attempt_set_user")]
        ordering = ["question_set", "user", "number"]

    def __str__(self) -> str:
        return f"{self.user} · {self.question_set} #{self.number}"

    @property
    def percent(self) -> float:
        return round(100 * self.score / self.max_score, 1) if self.max_score else 0.0


class Answer(models.Model):
    """A learner's answer to one question in one attempt.

    `points` is None for a short answer not marked yet."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    options = models.ManyToManyField(AnswerOption, blank=True, related_name="+")
    text = models.TextField(blank=True, max_length=5000)
    points = models.FloatField(null=True, blank=True)
    marker_feedback = models.TextField(blank=True, max_length=2000)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attempt", "question"], name="one_answer_per_question")]
        ordering = ["attempt", "question__position", "question_id"]

    def __str__(self) -> str:
        return f"{self.attempt} · {self.question_id}"
