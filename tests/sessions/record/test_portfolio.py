"""The portfolio: what it gathers, private by default, the revocable link, the PDF."""

from __future__ import annotations

import io

import pypdfium2
import pytest
from django.urls import reverse

from courses.models import Course, LearnerProgress, Material, Module, ModuleItem
from sessions.models import LiveSession, Reflection, SessionKind
from sessions.record.portfolio import portfolio_owner_by_token, portfolio_read
from sessions.record.services import portfolio_share, portfolio_unshare

pytestmark = pytest.mark.django_db


@pytest.fixture
def amina_year(people, ended_session):
    lecture = ended_session(host=people.tanaka, present={people.amina: 60, people.lukas: 60, people.yui: 60}, title="Malaria in pregnancy")
    material = Material.objects.create(kind="article", title="Case", contributed_by=people.tanaka, institution=people.schools.tokyo,
                                       competencies=["Global health", "Clinical reasoning"])
    LiveSession.objects.filter(pk=lecture.pk).update(case_material=material)
    peer = ended_session(host=people.lukas, kind=SessionKind.PEER, present={people.amina: 60, people.beatriz: 60}, title="Exchange")
    ended_session(host=people.mensah, kind=SessionKind.CONSULT, specialty="Paediatrics", title="Child, 4, fever (Mr X)",
                  present={people.amina: 30})
    ended_session(host=people.amina, kind=SessionKind.CONSULT, specialty="Cardiology", title="Patient Y", present={people.lukas: 30})
    ended_session(host=people.tanaka, kind=SessionKind.CASE_CONFERENCE, title="A case of Chagas", present={people.amina: 30})
    LiveSession.objects.filter(title="A case of Chagas").update(presenter=people.amina)
    Reflection.objects.create(session=peer, author=people.amina, body="Private thought", shared=False)
    Reflection.objects.create(session=lecture, author=people.amina, body="Shared thought", shared=True)
    course = Course.objects.create(title="Tropical medicine", owner=people.tanaka, institution=people.schools.tokyo, is_published=True)
    module = Module.objects.create(course=course, title="One")
    item_material = Material.objects.create(kind="article", title="M", contributed_by=people.tanaka, institution=people.schools.tokyo,
                                            competencies=["Global health", "Ethics"])
    item = ModuleItem.objects.create(module=module, material=item_material)
    LearnerProgress.objects.create(user=people.amina, item=item, status="done")
    return people.amina


def test_the_portfolio_gathers_the_record(people, amina_year):
    portfolio = portfolio_read(viewer=people.amina, owner=people.amina)
    titles = [s.title for s in portfolio.sessions]
    assert set(titles) == {"Malaria in pregnancy", "Exchange", "A case of Chagas"}
    lecture = next(s for s in portfolio.sessions if s.title == "Malaria in pregnancy")
    assert lecture.countries == ["Germany", "Japan"]  # Lukas and Yui (the host Tanaka did not attend)
    assert portfolio.peer_exchanges == 1
    assert dict(portfolio.consults_observed) == {"Paediatrics": 1} and dict(portfolio.consults_led) == {"Cardiology": 1}
    assert [c.title for c in portfolio.cases_presented] == ["A case of Chagas"]
    assert [title for title, _when in portfolio.courses] == ["Tropical medicine"]
    assert portfolio.competencies == [("Global health", 2), ("Clinical reasoning", 1), ("Ethics", 1)]
    assert {r.body for r in portfolio.reflections} == {"Private thought", "Shared thought"}


def test_private_by_default_and_the_link_can_be_revoked(client, people, amina_year):
    assert portfolio_read(viewer=people.lukas, owner=people.amina) is None
    client.force_login(people.lukas)
    assert client.get(reverse("record:portfolio")).context["portfolio"].owner == people.lukas  # only ever one's own

    share = portfolio_share(user=people.amina)
    assert len(share.token) >= 32 and portfolio_owner_by_token(token=share.token) == people.amina
    client.logout()
    page = client.get(reverse("record:portfolio-shared", args=[share.token]))
    html = page.content.decode()
    assert page.status_code == 200 and "Shared thought" in html and "Private thought" not in html
    assert "Mr X" not in html and "Patient Y" not in html and "Paediatrics" in html  # consults: specialties only
    assert page["Referrer-Policy"] == "no-referrer"
    pdf = client.get(reverse("record:portfolio-shared-pdf", args=[share.token]))
    text = "".join(p.get_textpage().get_text_range() for p in pypdfium2.PdfDocument(io.BytesIO(pdf.content)))
    assert "Malaria in pregnancy" in text and "Private thought" not in text and "Mr X" not in text

    replaced = portfolio_share(user=people.amina)
    assert client.get(reverse("record:portfolio-shared", args=[share.token])).status_code == 404
    portfolio_unshare(user=people.amina)
    assert client.get(reverse("record:portfolio-shared", args=[replaced.token])).status_code == 404
    assert client.get(reverse("record:portfolio-shared", args=["guess"])).status_code == 404


def test_the_student_shares_and_stops_over_http(client, people, amina_year):
    client.force_login(people.amina)
    page = client.get(reverse("record:portfolio")).content.decode()
    assert "Your portfolio is private" in page and "Private thought" in page
    client.post(reverse("record:portfolio-sharing"))
    link = client.get(reverse("record:portfolio")).context["share_url"]
    assert "/record/portfolio/shared/" in link
    client.post(reverse("record:portfolio-sharing"), {"action": "stop"})
    client.logout()
    assert client.get(link).status_code == 404
    pdf = client.get(reverse("record:portfolio-pdf"))
    assert pdf.status_code == 302  # the owner's PDF needs a sign-in
