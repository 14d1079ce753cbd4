"""Review finding: the consult's audit page showed the OLDEST 1000 entries and silently
dropped the rest, so the most recent accesses (the ones a supervisor checks) were hidden."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from sessions.consults import views
from sessions.consults.audit import audit_append


def test_audit_page_shows_the_newest_entries_when_there_are_too_many(people, consult, monkeypatch):
    monkeypatch.setattr(views, "AUDIT_PAGE_ROWS", 5)
    for n in range(8):
        audit_append(actor=people.kalua, action=f"review.read{n}", consult=consult)
    client = Client()
    client.force_login(people.mensah)
    page = client.get(reverse("consults:audit", args=[consult.pk])).content.decode()
    assert "review.read7" in page  # the newest reads are there
    assert "audit.view" in page  # including this very view
    assert "review.read0" not in page
    assert "older entries are not shown" in page
    assert "Chain verified" in page
