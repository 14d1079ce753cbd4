"""The whole consult journey in headless Chromium, as the people would do it.

Chikondi asks for supervision; Dr. Mensah accepts from his roster and invites an observer;
Chikondi records the patient's consent; both are in the room; guidance reaches Chikondi
and not the observer; Chikondi writes the note; Dr. Mensah signs it.
"""

from __future__ import annotations

import re

import pytest

from sessions.consults import services
from sessions.models import ConsultNote, ConsultRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GUIDANCE = "Check for neck stiffness and a non-blanching rash"


def test_request_accept_consent_room_guidance_and_signed_note(people, browser_page):
    from playwright.sync_api import expect

    services.roster_update(supervisor=people.mensah, specialties=["Paediatrics"], languages=["en"], is_active=True)

    # Chikondi asks for supervision.
    chikondi = browser_page("chikondi")
    chikondi.goto("/consults/request/")
    chikondi.get_by_label("Specialty").select_option("Paediatrics")
    chikondi.get_by_label("Urgency").select_option("urgent")
    chikondi.get_by_label("Language of the consult").select_option("en")
    chikondi.get_by_label("Reason, in one or two sentences").fill("Toddler with fever and a new rash since this morning.")
    chikondi.get_by_role("button", name="Send the request").click()
    expect(chikondi.locator("main")).to_contain_text("Your request was sent")
    consult = ConsultRequest.objects.get(trainee=people.chikondi)

    # Dr. Mensah sees it on his roster and accepts it now.
    mensah = browser_page("mensah")
    mensah.goto("/consults/roster/")
    card = mensah.locator(f".request-card[data-consult='{consult.pk}']")
    expect(card).to_contain_text("Toddler with fever")
    card.get_by_role("button", name="Accept").click()
    expect(mensah.locator("main")).to_contain_text("You accepted the consult")
    # He invites an observer from the trainee's school.
    mensah.get_by_label("Username of the person to invite").fill("kalua")
    mensah.get_by_role("button", name="Invite").click()
    expect(mensah.locator("main")).to_contain_text("is invited to observe")

    # Chikondi is told, and records the patient's consent before any media.
    chikondi.goto("/consults/")
    expect(chikondi.locator(".notice-list")).to_contain_text("was accepted")
    chikondi.goto(f"/consults/{consult.pk}/")
    expect(chikondi.locator("main")).to_contain_text("No audio, video or photos until")
    chikondi.get_by_role("link", name="Record or withdraw consent").click()
    consent = chikondi.locator("#consent-form")
    consent.locator("input[name=consult_given][value=yes]").check()
    consent.locator("input[name=recording_given][value=no]").check()
    consent.locator("input[name=teaching_given][value=yes]").check()
    consent.get_by_label("Language the patient was asked in").select_option("ny")
    consent.locator("input[name=explained]").check()
    consent.get_by_role("button", name="Record consent").click()
    expect(chikondi.locator("main")).to_contain_text("The patient's consent was recorded")

    # Both in the room; the observer too.
    chikondi.goto(f"/consults/{consult.pk}/room/")
    mensah.goto(f"/consults/{consult.pk}/room/")
    kalua = browser_page("kalua")
    kalua.goto(f"/consults/{consult.pk}/room/")
    for page in (chikondi, mensah, kalua):
        expect(page.locator("#room-connection")).to_have_text("Connected")
    expect(mensah.locator("#people-list")).to_contain_text(people.chikondi.name)
    expect(chikondi.locator("#consult-consent-warning")).to_be_hidden()

    # Guidance reaches Chikondi only.
    mensah.get_by_role("textbox", name="Guidance").fill(GUIDANCE)
    mensah.get_by_role("button", name="Send guidance").click()
    expect(chikondi.locator("#guidance-log")).to_contain_text(GUIDANCE)
    # A public chat message sent after the guidance reaches the observer: the guidance never does.
    mensah.get_by_label("Message", exact=True).fill("Thank you for joining")
    mensah.get_by_role("button", name="Send", exact=True).click()
    expect(kalua.locator("#chat-log")).to_contain_text("Thank you for joining")
    assert GUIDANCE not in kalua.content()

    # The connection falls back to text: the page says so.
    chikondi.get_by_label("My connection").select_option("text")
    expect(mensah.locator("#consult-mode")).to_have_text("Mode: text and photos")

    # Chikondi writes the note; Dr. Mensah sees it live and signs it.
    chikondi.get_by_label("Subjective").fill("Fever since this morning, new rash on the legs.")
    chikondi.get_by_label("Objective").fill("Temp 39.1, petechiae on both shins, neck supple.")
    chikondi.get_by_label("Assessment").fill("Suspected meningococcal disease.")
    chikondi.get_by_label("Plan").fill("Ceftriaxone now; urgent referral.")
    chikondi.get_by_role("button", name="Save the note").click()
    expect(chikondi.locator("#note-status")).to_have_text("Saved")
    expect(mensah.locator("#note-plan")).to_have_value("Ceftriaxone now; urgent referral.")
    mensah.get_by_label("Supervisor's comments").fill("Well done: antibiotics before transfer.")
    mensah.get_by_role("button", name="Sign the note").click()
    expect(chikondi.locator("#note-status")).to_contain_text("Signed by")
    expect(chikondi.locator("#note-plan")).to_have_attribute("readonly", "")

    note = ConsultNote.objects.get(consult=consult)
    assert note.signed_by == people.mensah and note.plan == "Ceftriaxone now; urgent referral."
    chikondi.goto(f"/consults/{consult.pk}/note/")
    expect(chikondi.locator("#note-signature")).to_contain_text(re.compile("Signed by .*Mensah"))
    expect(chikondi.locator("main")).to_contain_text("Well done: antibiotics before transfer.")
