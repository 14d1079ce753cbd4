"""The school's report: its numbers on a hand-made data set, who may see it, the page and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from server.people.errors import PermissionRefused
from sessions.models import SessionKind
from sessions.record.report import school_report, school_report_build, school_report_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokyo_year(people, ended_session):
    """Tokyo's two students (yui, ren) in the last month, and one older session."""
    ended_session(host=people.adebayo, kind=SessionKind.LECTURE, minutes=60,
                  present={people.yui: 60, people.amina: 60}, ago=dt.timedelta(days=3))
    ended_session(host=people.tanaka, kind=SessionKind.PEER, minutes=60,
                  present={people.yui: 30, people.ren: 30, people.lukas: 60}, ago=dt.timedelta(days=2))
    ended_session(host=people.oliveira, kind=SessionKind.CASE_CONFERENCE,
                  present={people.ren: 60, people.beatriz: 60}, ago=dt.timedelta(days=90))
    today = timezone.localdate()
    return today - dt.timedelta(days=30), today


def test_the_numbers_of_a_hand_made_school(people, tokyo_year):
    since, until = tokyo_year
    report = school_report(user=people.kobayashi, institution=people.schools.tokyo, since=since, until=until)
    assert report.enrolled == 2 and report.participants == 2 and report.percent == 100
    kinds = {row.kind: row for row in report.by_kind}
    assert set(kinds) == {"lecture", "peer"}
    assert (kinds["lecture"].participants, kinds["lecture"].activities, kinds["lecture"].hours) == (1, 1, 1.0)
    assert (kinds["peer"].participants, kinds["peer"].activities, kinds["peer"].hours) == (2, 1, 1.0)
    assert report.hours == 2.0
    assert {code for _name, code in report.schools_reached} == {"NG", "DE"}
    assert dict(report.countries_reached) == {"NG": 1, "DE": 1}
    assert sum(count for _month, count in report.by_month) >= 2


def test_an_older_period_counts_only_its_own_activity(people, tokyo_year):
    today = timezone.localdate()
    report = school_report_build(institution=people.schools.tokyo, since=today - dt.timedelta(days=120), until=today - dt.timedelta(days=60))
    assert report.participants == 1 and report.percent == 50
    assert [row.kind for row in report.by_kind] == ["case_conference"]
    assert {code for _name, code in report.schools_reached} == {"BR"}


def test_the_stock_way_agrees_on_the_headline(people, tokyo_year):
    since, until = tokyo_year
    fast = school_report_build(institution=people.schools.tokyo, since=since, until=until)
    slow = school_report_stock(institution=people.schools.tokyo, since=since, until=until)
    assert (slow.enrolled, slow.participants, slow.hours) == (fast.enrolled, fast.participants, fast.hours)


def test_a_coordinator_sees_only_their_school(people, tokyo_year):
    since, until = tokyo_year
    for outsider in (people.okafor, people.tanaka, people.yui):
        with pytest.raises(PermissionRefused):
            school_report(user=outsider, institution=people.schools.tokyo, since=since, until=until)


def test_the_page_and_the_csv(client, people, tokyo_year):
    since, until = tokyo_year
    client.force_login(people.kobayashi)
    assert client.get(reverse("record:report-home")).url == reverse("record:report", args=[people.schools.tokyo.pk])
    url = reverse("record:report", args=[people.schools.tokyo.pk]) + f"?since={since}&until={until}"
    page = client.get(url, HTTP_ACCEPT_ENCODING="identity")
    html = page.content.decode()
    assert page.status_code == 200 and '<svg class="report-chart"' in html and "100%" in html
    assert len(page.content) < 60_000
    rows = list(csv.reader(io.StringIO(client.get(reverse("record:report-csv", args=[people.schools.tokyo.pk]) + f"?since={since}&until={until}").content.decode())))
    assert ["participants", "", "2"] in rows and ["participants", "peer", "2"] in rows

    client.force_login(people.okafor)
    assert client.get(url).status_code == 404
    assert client.get(reverse("record:report-csv", args=[people.schools.tokyo.pk])).status_code == 404
    client.force_login(people.yui)
    assert client.get(reverse("record:report-home")).status_code == 403
