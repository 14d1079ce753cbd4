"""A demo question set for `seed_demo`: one per Lagos course's first module; safe to run again.

Runs after the course seed. Dr. Adebayo writes it through the services (an image
question from a case in the course when there is one, a multiple-choice and a short
answer), and three Lagos students answer it so the statistics page has numbers.
"""

from __future__ import annotations

import uuid
from typing import TextIO

from django.db import transaction

from courses.models import Course, FileRole, MaterialFile, Module, QuestionKind, QuestionSet
from server.people.models import User

from . import services
from .services import OptionDraft

TITLE = "Check your understanding"


def _image_material(course: Course):
    """A material of the course with an image file (an ECG or a clinical photo)."""
    for module in course.modules.all():
        for item in module.items.select_related("material"):
            if MaterialFile.objects.filter(version__material=item.material, role=FileRole.CASE_IMAGE).exists():
                return item.material
    return None


@transaction.atomic
def seed(stdout: TextIO) -> None:
    adebayo = User.objects.filter(username="adebayo").first()
    course = Course.objects.filter(owner=adebayo, is_published=True).order_by("pk").first()
    if adebayo is None or course is None:
        stdout.write("  no Lagos course yet: demo question set skipped\n")
        return
    module = Module.objects.filter(course=course).order_by("position", "pk").first()
    if module is None or QuestionSet.objects.filter(module__course=course, title=TITLE).exists():
        return
    question_set = services.question_set_create(
        by=adebayo, module=module, title=TITLE, instructions="Three questions on this module.", pass_mark=60,
        max_attempts=3,
    )
    image = _image_material(course)
    first = services.question_add(
        by=adebayo, question_set=question_set, kind=QuestionKind.SINGLE, image=image,
        prompt="A febrile traveller from a malaria area: which test first?" if image is None
        else "Look at the image from the case. What is the most useful next test?",
        options=[
            OptionDraft("A rapid diagnostic test or a thick and thin blood film", True, "Yes: test every febrile traveller."),
            OptionDraft("A chest radiograph", False, "Not the first test for fever after travel."),
            OptionDraft("Wait and see for 48 hours", False, "Falciparum malaria can kill within 48 hours."),
        ],
    )
    second = services.question_add(
        by=adebayo, question_set=question_set, kind=QuestionKind.MULTIPLE, prompt="Which are signs of severe malaria?",
        options=[
            OptionDraft("Impaired consciousness", True, "Yes: cerebral malaria."),
            OptionDraft("Hypoglycaemia", True, "Yes: check glucose."),
            OptionDraft("A temperature of 37.8 °C alone", False, "Fever alone does not make malaria severe."),
        ],
    )
    services.question_add(
        by=adebayo, question_set=question_set, kind=QuestionKind.SHORT,
        prompt="In one sentence: why treat severe malaria with IV artesunate?",
        model_answer="It lowers mortality compared with quinine (AQUAMAT, SEAQUAMAT).",
    )
    right = {first.pk: {"options": [o.pk for o in first.options.all() if o.is_correct]},
             second.pk: {"options": [o.pk for o in second.options.all() if o.is_correct]}}
    wrong = {first.pk: {"options": [o.pk for o in first.options.all() if not o.is_correct][:1]},
             second.pk: {"options": [o.pk for o in second.options.all()][:1]}}
    for username, answers in (("tunde", right), ("chiamaka", wrong)):
        learner = User.objects.filter(username=username).first()
        if learner is not None:
            services.attempt_submit(user=learner, question_set=question_set, client_id=uuid.uuid4(), answers=answers)
    stdout.write(f"Assessment: demo question set {question_set.pk} in course {course.pk}.\n")
