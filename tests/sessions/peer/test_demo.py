"""The demo requests and the `match_peers` command."""

from __future__ import annotations

import io

from django.core import mail
from django.core.management import call_command

from sessions.management.commands.match_peers import Command
from sessions.models import LiveSession, PeerMatchRequest, PeerRequestStatus, SessionKind
from sessions.peer import demo, services

from .conftest import window


def test_the_demo_seeds_open_requests_that_wait_and_can_run_again(people):
    demo.seed(io.StringIO())
    demo.seed(io.StringIO())
    open_requests = PeerMatchRequest.objects.filter(status=PeerRequestStatus.OPEN)
    assert set(open_requests.values_list("user__username", flat=True)) == {d.username for d in demo.DEMO_REQUESTS}
    assert services.peer_match_all() == []  # they do not match each other yet


def test_in_the_demo_amina_asking_about_malaria_meets_greta_and_beatriz(people):
    demo.seed(io.StringIO())
    made = services.peer_request_create(by=people.amina, wish=services.PeerWish(
        topic="Malaria in pregnancy", discipline="Infectious diseases", group_size=3, windows=[window(3, 14, 4)]))
    assert made.status == PeerRequestStatus.MATCHED
    assert set(made.session.peer_requests.values_list("user__username", flat=True)) == {"amina", "greta", "beatriz"}


def test_match_peers_forms_the_groups_that_can_form_and_says_how_many(people, django_capture_on_commit_callbacks):
    for user in (people.lukas, people.yui):
        school = user.primary_membership().institution
        request = PeerMatchRequest.objects.create(
            user=user, topic="Stroke care", topic_words=["stroke", "care"], languages=["en"], group_size=2,
            country=school.country.code, institution=school, expires_at=window(2, 10)[1],
        )
        request.windows.create(starts_at=window(2, 10)[0], ends_at=window(2, 10)[1])
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(Command(), "--base-url", "https://rounds.example/", stdout=out)
    assert "1 group(s) formed" in out.getvalue()
    assert LiveSession.objects.filter(kind=SessionKind.PEER).count() == 1
    assert all("https://rounds.example/sessions/" in message.body for message in mail.outbox) and len(mail.outbox) == 2
