"""Scoring, attempts, pass mark, idempotent sync, marking, permissions and statistics,
called directly as the views and the API call them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from courses.assessment import selectors, services
from courses.assessment.services import OptionDraft
from courses.assessment.statistics import question_set_statistics
from courses.library.selectors import material_visible_to
from courses.models import Attempt, AttemptStatus, Material, Module, Question, QuestionKind, Scope
from server.people.errors import InvalidRequest, PermissionRefused

from .conftest import options

pytestmark = pytest.mark.django_db


def _all_right(quiz) -> dict:
    return {
        quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")},
        quiz.tests.pk: {"options": options(quiz.tests, "Troponin", "Repeat ECG")},
        quiz.short.pk: {"text": "Activate the cath lab."},
    }


def test_choice_answers_are_scored_and_short_answers_wait_for_marking(people, quiz):
    answers = _all_right(quiz)
    answers[quiz.tests.pk] = {"options": options(quiz.tests, "Troponin")}  # half right = wrong
    submission = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=answers)
    attempt = submission.attempt
    assert not submission.replayed
    assert (attempt.score, attempt.max_score, attempt.status, attempt.passed) == (1.0, 4.0, AttemptStatus.PENDING, None)
    result = selectors.attempt_result(user=people.amina, attempt=attempt)
    ecg = result["questions"][0]
    chosen = [o for o in ecg["options"] if o["chosen"]]
    assert chosen == [{"id": chosen[0]["id"], "text": "Inferior STEMI", "chosen": True,
                       "feedback": "Yes: ST elevation in II, III, aVF.", "correct": True}]
    # An attempt is left and nothing is passed: the answer key stays hidden.
    assert not result["answers_revealed"]
    assert all("correct" not in o for o in ecg["options"] if not o["chosen"])


def test_marking_the_short_answer_grades_the_attempt_against_the_pass_mark(people, quiz):
    attempt = services.attempt_submit(
        user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=_all_right(quiz)
    ).attempt
    queue = selectors.marking_queue(user=people.adebayo, course=quiz.course.course)
    assert [a.attempt_id for a in queue] == [attempt.pk]
    with pytest.raises(InvalidRequest):
        services.answer_mark(by=people.adebayo, answer=queue[0], points=2)
    with pytest.raises(PermissionRefused):
        services.answer_mark(by=people.tunde, answer=queue[0], points=1)
    services.answer_mark(by=people.adebayo, answer=queue[0], points=0, feedback="Too vague.")
    attempt.refresh_from_db()
    # 3 of 4 points = 75% ≥ 60%.
    assert (attempt.score, attempt.status, attempt.passed) == (3.0, AttemptStatus.GRADED, True)
    assert selectors.marking_queue(user=people.adebayo, course=quiz.course.course) == []
    assert selectors.course_passed(user=people.amina, course=quiz.course.course)
    assert not selectors.course_passed(user=people.tunde, course=quiz.course.course)
    result = selectors.attempt_result(user=people.amina, attempt=attempt)
    assert result["answers_revealed"] and result["questions"][2]["marker_feedback"] == "Too vague."


def test_below_the_pass_mark_fails_and_the_attempts_run_out(people, quiz):
    wrong = {quiz.ecg.pk: {"options": options(quiz.ecg, "Normal ECG")}}
    first = services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=wrong)
    assert (first.attempt.passed, first.attempt.score, first.attempt.status) == (False, 0.0, AttemptStatus.GRADED)
    second = services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=wrong)
    assert second.attempt.number == 2
    with pytest.raises(InvalidRequest) as refused:
        services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=wrong)
    assert refused.value.code == "no_attempts_left"
    # Out of attempts: now the key is shown.
    assert selectors.attempt_result(user=people.tunde, attempt=second.attempt)["answers_revealed"]


def test_the_same_client_id_twice_is_one_attempt(people, quiz):
    client_id = str(uuid.uuid4())
    first = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=client_id, answers=_all_right(quiz))
    again = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=client_id, answers={})
    assert again.replayed and again.attempt.pk == first.attempt.pk
    assert Attempt.objects.filter(user=people.amina).count() == 1
    # Even with no attempts left, a resend of an attempt already counted is answered.
    quiz.set.max_attempts = 1
    quiz.set.save()
    assert services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=client_id, answers={}).replayed


def test_a_client_id_cannot_be_reused_for_another_set(people, quiz):
    other = services.question_set_create(by=people.adebayo, module=Module.objects.get(pk=quiz.course.modules[0].pk), title="Other")
    services.question_add(by=people.adebayo, question_set=other, kind=QuestionKind.SHORT, prompt="Why?")
    client_id = uuid.uuid4()
    services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=client_id, answers={})
    with pytest.raises(InvalidRequest) as refused:
        services.attempt_submit(user=people.amina, question_set=other, client_id=client_id, answers={})
    assert refused.value.code == "client_id_reused"


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        (lambda q: {999999: {"options": []}}, "bad_question"),
        (lambda q: {q.ecg.pk: {"options": options(q.tests, "Troponin")}}, "bad_option"),
        (lambda q: {q.ecg.pk: {"options": options(q.ecg, "Normal ECG", "Inferior STEMI")}}, "bad_option"),
        (lambda q: {q.short.pk: {"options": options(q.ecg, "Normal ECG")}}, "bad_option"),
        (lambda q: {q.ecg.pk: {"options": ["x"]}}, "bad_option"),
    ],
)
def test_bad_answers_are_refused_with_a_reason(people, quiz, answers, code):
    with pytest.raises(InvalidRequest) as refused:
        services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=answers(quiz))
    assert refused.value.code == code
    assert not Attempt.objects.exists()


def test_bad_client_id_is_refused(people, quiz):
    with pytest.raises(InvalidRequest) as refused:
        services.attempt_submit(user=people.amina, question_set=quiz.set, client_id="not-a-uuid", answers={})
    assert refused.value.code == "bad_client_id"


def test_only_learners_of_the_course_submit(people, quiz):
    for user, code in [(people.awa, "course_not_visible"), (people.adebayo, "course_faculty")]:
        with pytest.raises(PermissionRefused) as refused:
            services.attempt_submit(user=user, question_set=quiz.set, client_id=uuid.uuid4(), answers={})
        assert refused.value.code == code
    with pytest.raises(PermissionRefused):
        selectors.question_set_get(user=people.awa, question_set_id=quiz.set.pk)
    # Lukas (Heidelberg, a partner school) is a learner of this partners-wide course.
    services.attempt_submit(user=people.lukas, question_set=quiz.set, client_id=uuid.uuid4(), answers={})


def test_only_faculty_of_the_course_author_and_read_statistics(people, quiz):
    with pytest.raises(PermissionRefused):
        services.question_set_create(by=people.amina, module=Module.objects.get(pk=quiz.course.modules[0].pk), title="Mine")
    with pytest.raises(PermissionRefused):
        services.question_set_create(by=people.hoffmann, module=Module.objects.get(pk=quiz.course.modules[0].pk), title="Mine")
    with pytest.raises(PermissionRefused):
        question_set_statistics(user=people.amina, question_set_id=quiz.set.pk)
    with pytest.raises(PermissionRefused):
        selectors.marking_queue(user=people.hoffmann, course=quiz.course.course)
    # The school's coordinator is faculty of every course of the school.
    question_set_statistics(user=people.okafor, question_set_id=quiz.set.pk)


@pytest.mark.parametrize(
    ("kind", "drafts", "code"),
    [
        (QuestionKind.SINGLE, [OptionDraft("a", True)], "bad_options"),
        (QuestionKind.SINGLE, [OptionDraft("a", True), OptionDraft("b", True)], "bad_correct"),
        (QuestionKind.MULTIPLE, [OptionDraft("a"), OptionDraft("b")], "bad_correct"),
        (QuestionKind.SHORT, [OptionDraft("a")], "bad_options"),
        ("essay", [], "bad_kind"),
    ],
)
def test_malformed_questions_are_refused(people, quiz, kind, drafts, code):
    with pytest.raises(InvalidRequest) as refused:
        services.question_add(by=people.adebayo, question_set=quiz.set, kind=kind, prompt="Q?", options=drafts)
    assert refused.value.code == code


def test_the_learner_view_carries_no_answer_key(people, quiz):
    data = selectors.learner_question_set(user=people.amina, question_set=quiz.set)
    text = repr(data)
    assert "Yes: ST elevation" not in text and "is_correct" not in text and "correct" not in text
    assert "cath lab" not in text  # the model answer
    assert data["questions"][0]["image_url"].startswith(f"/library/{quiz.ecg.image_id}/files/")


def test_item_statistics_on_a_known_data_set(people, course):
    """Five learners, three 1-point questions (1 = right):

    amina 1 1 1 → 100 · tunde 1 1 0 → 66.67 · chiamaka 1 0 0 → 33.33 · lukas 0 1 0 → 33.33
    · greta 0 0 0 → 0. Mean 46.67; population SD √(5777.78 / 5) = 33.993.
    Q1: p 0.6; M1 = 66.67, M0 = 16.67; r = 50 / 33.993 · √0.24 = 0.7206.
    Q2: p 0.6; M1 = (100 + 66.67 + 33.33) / 3 = 66.67, M0 = 16.67; r = 0.7206.
    Q3: p 0.2; M1 = 100, M0 = 33.33; r = 66.67 / 33.993 · √0.16 = 0.7845.
    27% of 5 rounds to 1: upper = amina, lower = greta, so D = 1 − 0 = 1 for all three.
    Greta's second attempt (all right) does not count: first attempts only.
    """
    by = people.adebayo
    question_set = services.question_set_create(by=by, module=Module.objects.get(pk=course.modules[0].pk), title="Stats", pass_mark=60, max_attempts=3)
    questions = [
        services.question_add(
            by=by, question_set=question_set, kind=QuestionKind.SINGLE, prompt=f"Q{n}",
            options=[OptionDraft("right", True), OptionDraft("wrong", False)],
        )
        for n in (1, 2, 3)
    ]
    pattern = {
        "amina": (1, 1, 1), "tunde": (1, 1, 0), "chiamaka": (1, 0, 0), "lukas": (0, 1, 0), "greta": (0, 0, 0),
    }

    def submit(username: str, marks: tuple[int, ...]) -> None:
        answers = {q.pk: {"options": options(q, "right" if m else "wrong")} for q, m in zip(questions, marks, strict=True)}
        services.attempt_submit(user=getattr(people, username), question_set=question_set, client_id=uuid.uuid4(), answers=answers)

    for username, marks in pattern.items():
        submit(username, marks)
    submit("greta", (1, 1, 1))
    stats = question_set_statistics(user=by, question_set_id=question_set.pk)
    assert stats.learners == 5
    assert stats.mean_percent == pytest.approx(46.667, abs=1e-3)
    assert stats.pass_rate == pytest.approx(0.4)
    assert [i.difficulty for i in stats.items] == pytest.approx([0.6, 0.6, 0.2])
    assert [i.point_biserial for i in stats.items] == pytest.approx([0.7206, 0.7206, 0.7845], abs=1e-3)
    assert [i.upper_lower for i in stats.items] == [1.0, 1.0, 1.0]
    assert [(o.text, o.chosen) for o in stats.items[0].options] == [("right", 3), ("wrong", 2)]


def test_the_offline_bundle_carries_the_questions_and_images_without_the_key(client, people, quiz):
    import io
    import zipfile

    client.force_login(people.amina)
    response = client.get(f"/courses/{quiz.course.course.pk}/offline.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    pages = [name for name in archive.namelist() if name.startswith("quizzes/") and name.endswith("quiz.html")]
    assert len(pages) == 1
    page = archive.read(pages[0]).decode()
    assert "What does this ECG show?" in page and "Inferior STEMI" in page
    assert "ST elevation" not in page and "cath lab" not in page  # feedback and model answer stay home
    folder = pages[0].rsplit("/", 1)[0]
    assert f"{folder}/ecg.png" in archive.namelist()
    assert 'href="quizzes/' in archive.read("index.html").decode()


def test_submitting_and_marking_tell_the_platform_after_commit(people, quiz, django_capture_on_commit_callbacks):
    from courses.curriculum.events import course_event

    seen: list[tuple[str, dict]] = []

    def listener(sender, kind, course_id, data, **kwargs):
        seen.append((kind, data))

    course_event.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            attempt = services.attempt_submit(
                user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=_all_right(quiz)
            ).attempt
        with django_capture_on_commit_callbacks(execute=True):
            services.answer_mark(by=people.adebayo, answer=attempt.answers.get(question=quiz.short), points=1)
    finally:
        course_event.disconnect(listener)
    expected = {"question_set_id": quiz.set.pk, "attempt_id": attempt.pk, "user_id": people.amina.pk}
    assert seen == [("course.attempt_submitted", expected), ("course.answer_marked", expected)]


# -- editing and reordering ------------------------------------------------------------------


def _new_key(question) -> list[OptionDraft]:
    """The ECG question's options with "Normal ECG" made the correct one, and new feedback."""
    return [
        OptionDraft("Inferior STEMI", False, "Not on this tracing."),
        OptionDraft("Normal ECG", True, "Yes: nothing abnormal."),
        OptionDraft("Atrial fibrillation", False, "The rhythm is regular."),
    ]


def test_an_edit_is_a_new_version_in_the_same_place_and_changes_what_learners_see(people, quiz):
    edit = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image, points=1,
    )
    assert edit.changed and edit.answered == 0
    current = edit.question
    assert (current.version, current.lineage, current.position) == (2, quiz.ecg.pk, quiz.ecg.position)
    quiz.ecg.refresh_from_db()
    assert quiz.ecg.retired_at is not None
    seen = selectors.learner_question_set(user=people.amina, question_set=quiz.set)["questions"]
    assert [q["id"] for q in seen] == [current.pk, quiz.tests.pk, quiz.short.pk]
    assert seen[0]["prompt"] == "Read this tracing."
    again = services.question_update(
        by=people.adebayo, question=current, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(current), image=current.image, points=1,
    )
    assert not again.changed and again.question.pk == current.pk
    with pytest.raises(InvalidRequest) as retired:
        services.question_update(by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SHORT, prompt="Old one")
    assert retired.value.code == "retired_question"


def test_past_attempts_keep_the_version_they_answered_and_new_ones_use_the_new_key(people, quiz):
    graded = _all_right(quiz) | {quiz.short.pk: {"text": ""}}  # a blank short answer: graded at once
    before = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=graded).attempt
    edit = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image, points=3,
    )
    assert edit.answered == 1
    before.refresh_from_db()
    assert (before.score, before.max_score, before.passed) == (3.0, 4.0, True)  # unchanged: 1 + 2 of 4
    result = selectors.attempt_result(user=people.amina, attempt=before)
    ecg = result["questions"][0]
    assert ecg["id"] == quiz.ecg.pk and ecg["prompt"] == "What does this ECG show?" and ecg["awarded"] == 1.0
    chosen = next(o for o in ecg["options"] if o["chosen"])
    assert chosen["text"] == "Inferior STEMI" and chosen["correct"] is True
    assert chosen["feedback"] == "Yes: ST elevation in II, III, aVF."

    new_ecg = edit.question
    after = services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers={
        new_ecg.pk: {"options": options(new_ecg, "Normal ECG")},
        quiz.tests.pk: {"options": options(quiz.tests, "Troponin")},
        quiz.short.pk: {"text": ""},
    }).attempt
    assert (after.score, after.max_score) == (3.0, 6.0)
    stats = question_set_statistics(user=people.adebayo, question_set_id=quiz.set.pk)
    assert [item.question_id for item in stats.items] == [new_ecg.pk, quiz.tests.pk, quiz.short.pk]
    assert stats.items[0].answered == 1 and stats.items[0].difficulty == 1.0  # only the attempt that saw version 2
    assert stats.items[1].answered == 2


def test_an_answer_to_the_replaced_version_arriving_late_is_marked_against_it(people, quiz):
    """Amina opened the quiz (and answered offline) before the edit; her answers come after."""
    seen_before = selectors.learner_question_set(user=people.amina, question_set=quiz.set)
    new_ecg = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image,
    ).question
    services.question_remove(by=people.adebayo, question=quiz.short)
    assert [q["id"] for q in seen_before["questions"]] == [quiz.ecg.pk, quiz.tests.pk, quiz.short.pk]
    late = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=_all_right(quiz))
    attempt = late.attempt
    assert sorted(a.question_id for a in attempt.answers.all()) == sorted([quiz.ecg.pk, quiz.tests.pk, quiz.short.pk])
    assert (attempt.score, attempt.max_score, attempt.status) == (3.0, 4.0, AttemptStatus.PENDING)
    both = {quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")}, new_ecg.pk: {"options": []}}
    with pytest.raises(InvalidRequest) as twice:
        services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=both)
    assert twice.value.code == "bad_question"
    fresh = selectors.learner_question_set(user=people.tunde, question_set=quiz.set)
    assert [q["id"] for q in fresh["questions"]] == [new_ecg.pk, quiz.tests.pk]


def test_an_offline_answer_to_the_replaced_version_is_marked_against_it_after_an_earlier_attempt(people, quiz):
    """Amina made a first attempt, loaded the set again and answered offline (version 1 of
    the ECG question); faculty then fixed its key, and only then did her phone sync. Her
    second attempt follows the edit but her paper predates it: marked against version 1."""
    first = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers={
        quiz.ecg.pk: {"options": options(quiz.ecg, "Normal ECG")},
    }).attempt
    answered_offline = timezone.now()
    new_ecg = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image,
    ).question
    quiz.ecg.refresh_from_db()
    assert first.received_at < quiz.ecg.retired_at
    late = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answered_at=answered_offline,
                                   answers=_all_right(quiz) | {quiz.short.pk: {"text": ""}}).attempt
    assert late.number == 2
    ecg = late.answers.get(question__in=[quiz.ecg, new_ecg])
    assert (ecg.question_id, ecg.points) == (quiz.ecg.pk, 1.0)  # version 1's key, as she saw it
    assert (late.score, late.max_score, late.passed) == (3.0, 4.0, True)


def test_the_replaced_version_is_refused_once_the_learner_attempted_since_or_long_after(people, quiz, settings):
    """Tunde's attempt arrived after the edit, so his paper was loaded again since: the old
    version in a later attempt (its corrected key replayed), or a removed question added
    back, is a copy kept from before, refused. Amina never attempted, but the edit is older
    than the window (ASSESSMENT_LATE_ANSWER_DAYS): refused too, until the window is longer."""
    old_key = {quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")}}
    new_ecg = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image,
    ).question
    services.question_remove(by=people.adebayo, question=quiz.short)
    services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers={
        new_ecg.pk: {"options": options(new_ecg, "Inferior STEMI")},
    })
    for stale in (old_key, {quiz.short.pk: {"text": "Call the cath lab."}}):
        with pytest.raises(InvalidRequest) as refused:
            services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=stale)
        assert refused.value.code == "bad_question"
        assert "changed or removed before your last attempt" in refused.value.message
    assert Attempt.objects.filter(user=people.tunde).count() == 1  # a refusal uses no attempt

    Question.objects.filter(pk=quiz.ecg.pk).update(retired_at=timezone.now() - timedelta(days=15))
    with pytest.raises(InvalidRequest) as too_late:
        services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=old_key)
    assert too_late.value.code == "bad_question" and "more than 14 days ago" in too_late.value.message
    settings.ASSESSMENT_LATE_ANSWER_DAYS = 30
    attempt = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=old_key).attempt
    assert attempt.answers.get(question=quiz.ecg).points == 1.0


def test_an_edit_keeps_the_questions_own_image_when_no_longer_shared_with_the_editor(people, quiz, library):
    """Tokyo now keeps the ECG case to itself: Dr. Adebayo (Lagos) can still edit the question
    that shows it, keeping the image, but cannot put it on another question."""
    Material.objects.filter(pk=library.tokyo_case.pk).update(scope=Scope.OWN_SCHOOL)
    assert not material_visible_to(people.adebayo).filter(pk=library.tokyo_case.pk).exists()
    edit = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image,
    )
    assert edit.changed and edit.question.image_id == library.tokyo_case.pk
    with pytest.raises(PermissionRefused) as refused:
        services.question_update(by=people.adebayo, question=quiz.short, kind=QuestionKind.SHORT, prompt="Explain.",
                                 image=library.tokyo_case)
    assert refused.value.code == "material_not_shared"


def test_an_edit_follows_the_rules_of_a_new_question_and_only_faculty_edit(people, quiz):
    with pytest.raises(InvalidRequest) as two_correct:
        services.question_update(
            by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="?",
            options=[OptionDraft("A", True), OptionDraft("B", True)],
        )
    assert two_correct.value.code == "bad_correct"
    for outsider in (people.amina, people.tanaka, people.awa):
        with pytest.raises(PermissionRefused):
            services.question_update(by=outsider, question=quiz.short, kind=QuestionKind.SHORT, prompt="Changed")
        with pytest.raises(PermissionRefused):
            services.question_move(by=outsider, question=quiz.short, offset=-1)
    quiz.ecg.refresh_from_db()
    assert quiz.ecg.retired_at is None


def test_questions_move_up_and_down_and_stay_at_the_ends(people, quiz):
    def order() -> list[int]:
        return [q.pk for q in selectors.current_questions(quiz.set)]

    services.question_move(by=people.adebayo, question=quiz.short, offset=-1)
    assert order() == [quiz.ecg.pk, quiz.short.pk, quiz.tests.pk]
    services.question_move(by=people.adebayo, question=quiz.short, offset=-1)
    services.question_move(by=people.adebayo, question=quiz.short, offset=-1)  # already first: stays
    assert order() == [quiz.short.pk, quiz.ecg.pk, quiz.tests.pk]
    services.question_move(by=people.adebayo, question=quiz.tests, offset=1)  # already last: stays
    services.question_move(by=people.adebayo, question=quiz.ecg, offset=1)
    assert order() == [quiz.short.pk, quiz.tests.pk, quiz.ecg.pk]
    assert [q.position for q in selectors.current_questions(quiz.set)] == [0, 1, 2]
    with pytest.raises(InvalidRequest):
        services.question_move(by=people.adebayo, question=quiz.ecg, offset=2)


def test_a_questions_history_has_every_version_newest_first_with_its_author_and_attempts(people, quiz):
    blank = {quiz.short.pk: {"text": ""}}
    services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(),
                            answers=blank | {quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")}})
    second = services.question_update(
        by=people.adebayo, question=quiz.ecg, kind=QuestionKind.SINGLE, prompt="Read this tracing.",
        options=_new_key(quiz.ecg), image=quiz.ecg.image,
    ).question
    services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=blank)
    third = services.question_update(
        by=people.okafor, question=second, kind=QuestionKind.SINGLE, prompt="Read this tracing: what next?",
        options=_new_key(second), image=second.image, points=2,
    ).question

    history = selectors.question_history(user=people.adebayo, course_id=quiz.course.course.pk,
                                         question_set_id=quiz.set.pk, question_id=quiz.ecg.pk)  # any version opens it
    assert [v.question.pk for v in history.versions] == [third.pk, second.pk, quiz.ecg.pk]
    assert [v.attempts for v in history.versions] == [0, 1, 1]  # Tunde's blank answer counts: he was asked it
    assert [v.is_current for v in history.versions] == [True, False, False] and history.current == third
    assert [v.question.created_by for v in history.versions] == [people.okafor, people.adebayo, people.adebayo]
    assert [v.question.retired_by for v in history.versions] == [None, people.okafor, people.adebayo]
    assert history.versions[1].question.created_at == history.versions[2].question.retired_at
    old_key = history.versions[2].options
    assert [(o.text, o.is_correct) for o in old_key][:2] == [("Inferior STEMI", True), ("Normal ECG", False)]

    services.question_remove(by=people.adebayo, question=third)
    removed = selectors.question_history(user=people.adebayo, course_id=quiz.course.course.pk,
                                         question_set_id=quiz.set.pk, question_id=second.pk)
    assert removed.removed and removed.versions[0].question.retired_by == people.adebayo
    assert [(r.question, r.moved_to) for r in selectors.questions_removed(question_set=quiz.set)] == [(third, None)]


@pytest.mark.parametrize("who, code", [("amina", "not_course_faculty"), ("tanaka", "not_course_faculty"), ("awa", "not_found")])
def test_only_the_course_faculty_read_a_questions_history(people, quiz, who, code):
    with pytest.raises(PermissionRefused) as refused:
        selectors.question_history(user=getattr(people, who), course_id=quiz.course.course.pk,
                                   question_set_id=quiz.set.pk, question_id=quiz.ecg.pk)
    assert refused.value.code == code


def test_a_question_is_read_only_through_its_own_set_and_course(people, quiz):
    other = services.question_set_create(by=people.adebayo, module=quiz.set.module, title="Another set")
    for course_id, set_id in ((quiz.course.course.pk, other.pk), (quiz.course.course.pk + 1000, quiz.set.pk)):
        with pytest.raises(PermissionRefused) as refused:
            selectors.question_history(user=people.adebayo, course_id=course_id, question_set_id=set_id,
                                       question_id=quiz.ecg.pk)
        assert refused.value.code == "not_found"


def test_a_course_is_completed_when_every_set_is_passed_dated_by_the_last_pass_or_mark(people, quiz):
    from courses.curriculum.services import progress_set
    from courses.models import ModuleItem

    course = quiz.course.course
    for item in ModuleItem.objects.filter(module__course=course):  # Tunde ticks every item: not a pass
        progress_set(user=people.tunde, item=item, status="done")
    failed = {quiz.ecg.pk: {"options": options(quiz.ecg, "Normal ECG")}, quiz.short.pk: {"text": ""}}
    services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=failed)
    passed = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(),
                                     answers=_all_right(quiz) | {quiz.short.pk: {"text": ""}}).attempt
    pending = services.attempt_submit(user=people.chiamaka, question_set=quiz.set, client_id=uuid.uuid4(),
                                      answers=_all_right(quiz)).attempt
    ids = [people.amina.pk, people.tunde.pk, people.chiamaka.pk]
    assert {(c.user_id, c.course_id, c.completed_at) for c in selectors.course_completions(user_ids=ids)} == {
        (people.amina.pk, course.pk, passed.received_at)
    }
    answer = pending.answers.get(question=quiz.short)
    services.answer_mark(by=people.adebayo, answer=answer, points=1)
    answer.refresh_from_db()
    marked = selectors.course_completed_at(user=people.chiamaka, course_ids=[course.pk])
    assert marked == {course.pk: answer.marked_at}  # passed when marked, not when sent
    # A course without question sets is completed by doing every item, as before.
    services.question_set_delete(by=people.adebayo, question_set=quiz.set)
    assert {c.user_id for c in selectors.course_completions(user_ids=ids, course_ids=[course.pk])} == {people.tunde.pk}


def test_the_school_report_counts_a_course_with_question_sets_as_completed_only_when_passed(people, quiz):
    """The report agrees with the course page, the portfolio and the certificate: ticking
    every item of an assessed course is not completing it."""
    import datetime as dt

    from django.utils import timezone

    from courses.curriculum.services import progress_set
    from courses.models import ModuleItem
    from sessions.record.report import school_report_build

    today = timezone.localdate()

    def completed() -> tuple[int, int]:
        report = school_report_build(institution=people.schools.lagos, since=today - dt.timedelta(days=7), until=today)
        return report.courses_completed, report.course_completers

    for item in ModuleItem.objects.filter(module__course=quiz.course.course):
        progress_set(user=people.tunde, item=item, status="done")
    assert completed() == (0, 0)
    services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(),
                            answers=_all_right(quiz) | {quiz.short.pk: {"text": ""}})
    assert completed() == (1, 1)


def test_a_question_moves_to_another_set_of_the_course_keeping_its_versions_and_answers(people, quiz):
    blank = {quiz.short.pk: {"text": ""}}
    before = services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(),
                                     answers=blank | {quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")}}).attempt
    target = services.question_set_create(by=people.adebayo, module=quiz.set.module, title="ECG practice")
    moved = services.question_transfer(by=people.adebayo, question=quiz.ecg, to_set=target)

    assert (moved.question_set, moved.lineage, moved.version, moved.prompt) == (target, quiz.ecg.pk, 2, quiz.ecg.prompt)
    assert [(o.text, o.is_correct) for o in moved.options.all()] == [(o.text, o.is_correct) for o in quiz.ecg.options.all()]
    assert [(q.pk, q.position) for q in selectors.current_questions(quiz.set)] == [(quiz.tests.pk, 0), (quiz.short.pk, 1)]
    assert list(selectors.current_questions(target)) == [moved]
    result = selectors.attempt_result(user=people.amina, attempt=before)  # the past attempt is as it was
    assert result["questions"][0]["prompt"] == "What does this ECG show?" and result["questions"][0]["awarded"] == 1.0
    # A learner who opened the old set before the move still has the question marked there.
    late = services.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(),
                                   answers={quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")}})
    assert late.attempt.score == 1.0
    history = selectors.question_history(user=people.adebayo, course_id=quiz.course.course.pk,
                                         question_set_id=target.pk, question_id=moved.pk)
    assert [(v.question.pk, v.question.question_set_id, v.attempts) for v in history.versions] == [
        (moved.pk, target.pk, 0), (quiz.ecg.pk, quiz.set.pk, 2)
    ]
    [removed] = selectors.questions_removed(question_set=quiz.set)
    assert (removed.question.pk, removed.moved_to) == (quiz.ecg.pk, target)


def test_a_question_moves_only_to_another_set_of_its_course_by_its_faculty(people, quiz):
    from courses.curriculum.services import course_create, module_add

    other_course = course_create(by=people.adebayo, institution=people.schools.lagos, title="Another course")
    elsewhere = services.question_set_create(
        by=people.adebayo, module=module_add(by=people.adebayo, course=other_course, title="One"), title="Elsewhere"
    )
    sibling = services.question_set_create(by=people.adebayo, module=quiz.set.module, title="Sibling")
    for to_set in (elsewhere, quiz.set):
        with pytest.raises(InvalidRequest) as refused:
            services.question_transfer(by=people.adebayo, question=quiz.ecg, to_set=to_set)
        assert refused.value.code == "bad_move"
    with pytest.raises(PermissionRefused) as learner:
        services.question_transfer(by=people.amina, question=quiz.ecg, to_set=sibling)
    assert learner.value.code == "not_course_faculty"
    services.question_remove(by=people.adebayo, question=quiz.short)
    with pytest.raises(InvalidRequest) as retired:
        services.question_transfer(by=people.adebayo, question=quiz.short, to_set=sibling)
    assert retired.value.code == "retired_question"
    assert not sibling.questions.exists() and not elsewhere.questions.exists()


def test_a_moved_question_outlives_the_module_or_set_it_came_from(people, quiz):
    from courses.curriculum.services import module_remove

    course = quiz.course
    week_1 = services.question_set_create(by=people.adebayo, module=course.modules[0], title="Week 1 check")
    moved = services.question_transfer(by=people.adebayo, question=quiz.ecg, to_set=week_1)
    edited = services.question_update(by=people.adebayo, question=moved, kind=QuestionKind.SINGLE,
                                      prompt="Read this tracing.", options=_new_key(moved)).question
    module_remove(by=people.adebayo, module=Module.objects.get(pk=quiz.set.module_id))  # the lineage's origin goes
    assert list(selectors.current_questions(week_1)) == [edited]
    history = selectors.question_history(user=people.adebayo, course_id=course.course.pk,
                                         question_set_id=week_1.pk, question_id=edited.pk)
    assert [v.question.pk for v in history.versions] == [edited.pk, moved.pk]  # still one question

    again = services.question_set_create(by=people.adebayo, module=course.modules[0], title="Week 1 again")
    last = services.question_transfer(by=people.adebayo, question=edited, to_set=again)
    services.question_set_delete(by=people.adebayo, question_set=week_1)
    assert [(q.pk, q.version) for q in selectors.current_questions(again)] == [(last.pk, 4)]
