"""The demo seeds certificate rules and issues what the past demo sessions earned; the
record's pages in the shared page list open for their viewers."""

from __future__ import annotations

import pytest
from django.test import Client

from sessions.models import Certificate
from tests.reach.pages import PAGES, seed_demo_data

pytestmark = pytest.mark.django_db

RECORD_PAGES = {"my certificates", "certificate verification", "school report", "portfolio",
                "certificate rules (school)", "certificate rule (course)"}


def test_the_demo_has_certificates_and_the_record_pages_open():
    people = seed_demo_data()
    assert Certificate.objects.filter(user=people.amina).exists()
    seed_demo_data()  # idempotent
    pages = [page for page in PAGES if page.name in RECORD_PAGES]
    assert {page.name for page in pages} == RECORD_PAGES
    for page in pages:
        client = Client()
        viewer = page.viewer(people)
        if viewer:
            client.force_login(getattr(people, viewer))
        response = client.get(page.path(people), HTTP_ACCEPT_ENCODING="identity")
        assert response.status_code == 200, page.name
        assert len(response.content) < (page.budget_kb or 60) * 1024, page.name
