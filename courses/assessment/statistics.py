"""Item statistics of a question set, for the course's faculty.

Which attempts count: each learner's *first graded* attempt. Later attempts are
practice on a known paper and would make every item look easy. Each question counts
only the attempts that answered that version of it: a question edited after it was
answered is a new item (its earlier version's answers were to another question), and
a question added later was not on those learners' paper.

Per question:
- difficulty p = the proportion of learners who scored the question's full points;
- point-biserial r = (M1 − M0) / s · √(p(1 − p)), with M1 and M0 the mean total
  percentages of learners who got the question right and wrong and s the population
  standard deviation of all totals (the question itself is in the total: the classic,
  uncorrected index); None when everyone or no one got it right, or totals do not vary;
- upper-lower index D = p(upper 27%) − p(lower 27%), the groups being the
  round(0.27·n) (at least 1) best and worst totals, ties broken by attempt order;
- how many learners chose each option (distractors nobody picks do no work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from courses.models import Answer, Attempt, AttemptStatus, QuestionSet
from server.people.http import AnyUser

from .selectors import current_questions, question_set_for_faculty

UPPER_LOWER_FRACTION = 0.27


@dataclass
class OptionCount:
    option_id: int
    text: str
    is_correct: bool
    chosen: int


@dataclass
class ItemStatistics:
    question_id: int
    prompt: str
    kind: str
    answered: int
    difficulty: float | None
    point_biserial: float | None
    upper_lower: float | None
    options: list[OptionCount] = field(default_factory=list)


@dataclass
class SetStatistics:
    question_set: QuestionSet
    learners: int
    mean_percent: float | None
    pass_rate: float | None
    items: list[ItemStatistics]


def _point_biserial(correct: list[bool], totals: list[float]) -> float | None:
    n = len(totals)
    if n < 2:
        return None
    p = sum(correct) / n
    if p in (0.0, 1.0):
        return None
    mean = sum(totals) / n
    sd = math.sqrt(sum((t - mean) ** 2 for t in totals) / n)
    if sd == 0:
        return None
    m1 = sum(t for t, c in zip(totals, correct, strict=True) if c) / sum(correct)
    m0 = sum(t for t, c in zip(totals, correct, strict=True) if not c) / (n - sum(correct))
    return (m1 - m0) / sd * math.sqrt(p * (1 - p))


def _upper_lower(correct: list[bool], totals: list[float]) -> float | None:
    n = len(totals)
    if n < 2:
        return None
    k = max(1, round(UPPER_LOWER_FRACTION * n))
    order = sorted(range(n), key=lambda i: (-totals[i], i))
    upper, lower = order[:k], order[-k:]
    return sum(correct[i] for i in upper) / k - sum(correct[i] for i in lower) / k


def question_set_statistics(*, user: AnyUser, question_set_id: int) -> SetStatistics:
    """Statistics of one set; only the course's faculty may read them."""
    question_set = question_set_for_faculty(user=user, question_set_id=question_set_id)
    first: dict[int, Attempt] = {}
    for attempt in Attempt.objects.filter(question_set=question_set, status=AttemptStatus.GRADED).order_by(
        "user_id", "number"
    ):
        first.setdefault(attempt.user_id, attempt)
    attempts = sorted(first.values(), key=lambda a: a.pk)
    totals = [100 * a.score / a.max_score if a.max_score else 0.0 for a in attempts]
    answers: dict[tuple[int, int], Answer] = {
        (a.attempt_id, a.question_id): a
        for a in Answer.objects.filter(attempt__in=attempts).prefetch_related("options")
    }
    items: list[ItemStatistics] = []
    for question in current_questions(question_set).prefetch_related("options"):
        # Only the attempts that answered this version: an earlier version (edited since)
        # was another item, and a question added later was not in the learner's paper.
        correct: list[bool] = []
        item_totals: list[float] = []
        chosen: dict[int, int] = {}
        for attempt, total in zip(attempts, totals, strict=True):
            answer = answers.get((attempt.pk, question.pk))
            if answer is None:
                continue
            correct.append((answer.points or 0) >= question.points)
            item_totals.append(total)
            for option in answer.options.all():
                chosen[option.pk] = chosen.get(option.pk, 0) + 1
        n = len(correct)
        items.append(
            ItemStatistics(
                question_id=question.pk,
                prompt=question.prompt,
                kind=question.kind,
                answered=n,
                difficulty=sum(correct) / n if n else None,
                point_biserial=_point_biserial(correct, item_totals),
                upper_lower=_upper_lower(correct, item_totals),
                options=[
                    OptionCount(option_id=o.pk, text=o.text, is_correct=o.is_correct, chosen=chosen.get(o.pk, 0))
                    for o in question.options.all()
                ],
            )
        )
    return SetStatistics(
        question_set=question_set,
        learners=len(attempts),
        mean_percent=sum(totals) / len(totals) if totals else None,
        pass_rate=sum(1 for a in attempts if a.passed) / len(attempts) if attempts else None,
        items=items,
    )
