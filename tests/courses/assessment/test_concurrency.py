"""Copies of one attempt arriving at the same moment, on PostgreSQL with real row locks:
counted once; and many different attempts at once never exceed the attempts allowed."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections

from courses.assessment import services
from courses.models import Attempt
from server.people.errors import InvalidRequest
from tests.conftest import need_component

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
