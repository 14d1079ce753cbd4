"""Copies of one attempt arriving at the same moment, on PostgreSQL with real row locks:
counted once; many different attempts at once never exceed the attempts allowed; and an
attempt arriving during an edit is recorded wholly after it."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction

from courses.assessment import services
from courses.models import Attempt, QuestionKind, QuestionSet
from server.people.errors import InvalidRequest
from tests.conftest import need_component

from .conftest import options

pytestmark = [pytest.mark.realservices, pytest.mark.django_db(transaction=True)]


def _race(count: int, submit) -> list[object]:
    """Run `submit(i)` in `count` threads released together; each result or error."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = submit(index)
        except Exception as error:  # noqa: BLE001 - the test reads what each thread got
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_simultaneous_copies_of_one_attempt_count_once(people, quiz):
    need_component("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    client_id = uuid.uuid4()
    results = _race(6, lambda i: services.attempt_submit(
        user=people.amina, question_set=quiz.set, client_id=client_id, answers={}
    ))
    assert all(isinstance(r, services.Submission) for r in results), results
    assert sorted(r.replayed for r in results) == [False] + [True] * 5  # type: ignore[union-attr]
    assert Attempt.objects.filter(user=people.amina).count() == 1


def test_simultaneous_new_attempts_stop_at_the_limit(people, quiz):
    need_component("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    results = _race(5, lambda i: services.attempt_submit(
        user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers={}
    ))
    refused = [r for r in results if isinstance(r, InvalidRequest)]
    assert len(refused) == 3 and {r.code for r in refused} == {"no_attempts_left"}
    assert sorted(Attempt.objects.filter(user=people.tunde).values_list("number", flat=True)) == [1, 2]


def _wait_for_a_lock_wait(timeout: float = 10.0) -> None:
    """Until another connection of this database waits for a lock (the set's row lock).
    Inside a transaction pg_stat_activity is a snapshot taken at its first read, so each
    look clears it first."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the attempt never waited for the set's lock")


def test_an_attempt_arriving_during_an_edit_is_recorded_wholly_after_it(people, quiz):
    """Faculty add a question while Amina's attempt arrives: the attempt waits for the set's
    lock and only then reads the questions, so the added one is in it (blank, 0 of 3 points)
    rather than missing from an attempt recorded after it was added."""
    need_component("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    results: list[object] = []

    def submit() -> None:
        try:
            results.append(services.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers={
                quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")},
            }))
        except Exception as error:  # noqa: BLE001 - the test reads what the thread got
            results.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=submit)
    try:
        with transaction.atomic():  # the edit, holding the set's lock as question_add does
            QuestionSet.objects.select_for_update().get(pk=quiz.set.pk)
            thread.start()
            _wait_for_a_lock_wait()
            added = services.question_add(by=people.adebayo, question_set=quiz.set, kind=QuestionKind.SHORT,
                                          prompt="Added during the attempt.", points=3)
    finally:
        thread.join(30)
    [submission] = results
    assert isinstance(submission, services.Submission), submission
    attempt = submission.attempt
    assert attempt.max_score == 7.0  # 1 + 2 + 1 + the 3 added
    assert attempt.answers.get(question=added).points == 0.0
