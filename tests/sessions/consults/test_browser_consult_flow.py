"""The consult as the trainee and the supervisor walk it, in two Chromium contexts.

Found on a walk: consent could only be recorded after a supervisor accepted (the trainee is
with the patient from the request on), the consult room offered lecture controls (raise
hand, show slides), and "Turn into a teaching case" was offered before the note was signed,
then refused.
"""

from __future__ import annotations

import pytest

from sessions.consults import services
from sessions.models import ConsultStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_consent_before_acceptance_no_lecture_controls_and_teaching_only_once_signed(people, browser_page):
    from playwright.sync_api import expect

    services.roster_update(supervisor=people.mensah, specialties=["Paediatrics"], languages=["en"], is_active=True)
    consult = services.consult_request_create(trainee=people.chikondi, specialty="Paediatrics", urgency="urgent",
                                              language="en", reason="Toddler with fever and a new rash.")
    assert consult.status == ConsultStatus.REQUESTED

    # Chikondi records the patient's consent while the request waits for a supervisor.
    chikondi = browser_page("chikondi")
    chikondi.goto(f"/consults/{consult.pk}/")
    chikondi.get_by_role("link", name="Record or withdraw consent").click()
    form = chikondi.locator("#consent-form")
    form.locator("input[name=consult_given][value=yes]").check()
    form.locator("input[name=recording_given][value=no]").check()
    form.locator("input[name=teaching_given][value=yes]").check()
    form.get_by_label("Language the patient was asked in").select_option("ny")
    form.locator("input[name=explained]").check()
    form.get_by_role("button", name="Record consent").click()
    expect(chikondi.locator("main")).to_contain_text("The patient's consent was recorded")

    consult = services.consult_accept(supervisor=people.mensah, consult=consult)
    mensah = browser_page("mensah")
    for page in (chikondi, mensah):
        page.goto(f"/consults/{consult.pk}/room/")
        expect(page.locator("#room-connection")).to_have_text("Connected")
        expect(page.locator("#consult-consent-warning")).to_be_hidden()  # consent came first
        assert page.get_by_role("button", name="Raise hand").count() == 0
        assert page.get_by_text("Show slides").count() == 0
        assert page.get_by_role("heading", name="Raised hands").count() == 0
    expect(mensah.locator("#people-list")).to_contain_text(people.chikondi.name)
    assert mensah.get_by_role("button", name="Give the floor").count() == 0
    assert mensah.get_by_role("button", name="Make presenter").count() == 0

    # Not offered before the note is signed; offered once it is.
    mensah.goto(f"/consults/{consult.pk}/")
    assert mensah.get_by_role("link", name="Turn into a teaching case").count() == 0
    expect(mensah.locator("main")).to_contain_text("Once you sign the note")
    services.note_update(by=people.chikondi, consult=consult, changes={"subjective": "Fever for two days.",
                                                                       "assessment": "Viral exanthem likely.",
                                                                       "plan": "Fluids, review in 24 hours."})
    services.note_sign(by=people.mensah, consult=consult)
    mensah.reload()
    mensah.get_by_role("link", name="Turn into a teaching case").click()
    expect(mensah.get_by_role("heading", level=1)).to_contain_text("Turn this consult into a teaching case")
