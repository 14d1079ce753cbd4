"""A published Lagos course with one question set of each kind of question.

Reuses the curriculum tests' library and course (Amina, Tunde and Chiamaka are Lagos
students; Dr. Adebayo wrote the course; Awa at Dakar is outside its audience).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from courses.assessment import services
from courses.assessment.services import OptionDraft
from courses.models import Module, QuestionKind
from tests.courses.curriculum.conftest import course, library  # noqa: F401 - fixtures reused


@pytest.fixture
def quiz(people, course, library) -> SimpleNamespace:  # noqa: F811
    """Three questions worth 1, 2 and 1 points; pass mark 60%, two attempts."""
    by = people.adebayo
    question_set = services.question_set_create(
        by=by, module=Module.objects.get(pk=course.modules[1].pk), title="Chest pain check", pass_mark=60, max_attempts=2
    )
    ecg = services.question_add(
        by=by, question_set=question_set, kind=QuestionKind.SINGLE, prompt="What does this ECG show?",
        image=library.tokyo_case,
        options=[
            OptionDraft("Inferior STEMI", True, "Yes: ST elevation in II, III, aVF."),
            OptionDraft("Normal ECG", False, "Look again at II, III and aVF."),
            OptionDraft("Atrial fibrillation", False, "The rhythm is regular."),
        ],
    )
    tests = services.question_add(
        by=by, question_set=question_set, kind=QuestionKind.MULTIPLE, prompt="Which tests first?", points=2,
        options=[
            OptionDraft("Troponin", True, "Yes."),
            OptionDraft("Repeat ECG", True, "Yes."),
            OptionDraft("Colonoscopy", False, "Not for chest pain."),
        ],
    )
    short = services.question_add(
        by=by, question_set=question_set, kind=QuestionKind.SHORT, prompt="Explain your next step.",
        model_answer="Call the cath lab.",
    )
    return SimpleNamespace(set=question_set, ecg=ecg, tests=tests, short=short, course=course)


def options(question, *texts: str) -> list[int]:
    return [o.pk for o in question.options.all() if o.text in texts]
