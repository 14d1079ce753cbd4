"""The "Find exchange partners" page, withdrawing, the navigation link and the notes download."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.test import Client

from sessions.models import PeerMatchRequest, PeerNotes, PeerRequestStatus

from .conftest import make_peer_session, window


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(*rows: tuple[dt.datetime, dt.datetime], zone: str = "Africa/Lagos", **fields) -> dict:
    """The page's POST: rows of free times written as the person's local date and times."""
    local = zoneinfo.ZoneInfo(zone)
    data = {
        "topic": "Malaria in pregnancy", "discipline": "Infectious diseases", "languages": ["en", "ha"],
        "group_size": "2", "time_zone": zone, "windows-TOTAL_FORMS": str(max(len(rows), 4)),
        "windows-INITIAL_FORMS": "0", "windows-MIN_NUM_FORMS": "0", "windows-MAX_NUM_FORMS": "6",
    }
    for index, (start, end) in enumerate(rows):
        start, end = start.astimezone(local), end.astimezone(local)
        data.update({f"windows-{index}-date": start.date().isoformat(), f"windows-{index}-start": start.strftime("%H:%M"),
                     f"windows-{index}-end": end.strftime("%H:%M")})
    data.update(fields)
    return data


def test_a_student_sees_the_form_with_her_profile_languages_and_zone(people):
    response = client_for(people.amina).get("/peer/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Find exchange partners" in page and "Ask to be matched" in page
    form = response.context["form"]
    assert form["languages"].value() == ["en", "ha", "yo"] and form["time_zone"].value() == "Africa/Lagos"
    assert len(response.context["windows"].forms) == 4


def test_the_navigation_links_the_page_for_students_and_trainees_only(people):
    link = 'href="/peer/"'
    assert link in client_for(people.amina).get("/").content.decode()
    assert link in client_for(people.chikondi).get("/").content.decode()  # a trainee
    assert link not in client_for(people.tanaka).get("/").content.decode()
    assert link not in Client().get("/").content.decode()


def test_faculty_are_refused_and_anonymous_visitors_must_log_in(people):
    refused = client_for(people.tanaka).get("/peer/")
    assert refused.status_code == 403 and "for students and trainees" in refused.content.decode()
    assert client_for(people.tanaka).post("/peer/", _form(window(3, 14))).status_code == 403
    assert not PeerMatchRequest.objects.exists()
    anonymous = Client().get("/peer/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_posting_the_form_stores_the_times_in_utc_and_shows_the_waiting_request(people):
    client = client_for(people.amina)
    response = client.post("/peer/", _form(window(3, 14, 2), window(5, 9, 1)), follow=True)
    assert response.status_code == 200
    request = PeerMatchRequest.objects.get(user=people.amina)
    assert request.status == PeerRequestStatus.OPEN and request.languages == ["en", "ha"]
    assert [(w.starts_at, w.ends_at) for w in request.windows.all()] == [window(3, 14, 2), window(5, 9, 1)]
    page = response.content.decode()
    assert "We are looking for partners" in page and "Waiting for partners" in page
    # Times shown in her zone (Lagos, UTC+1): 14:00 UTC is 15:00.
    assert "15:00</time>–<time" in page and ">17:00</time>" in page


def test_a_match_shows_on_both_pages_with_partners_and_a_new_badge_until_seen(people):
    client_for(people.amina).post("/peer/", _form(window(3, 14, 2)))
    lukas = client_for(people.lukas)
    response = lukas.post("/peer/", _form(window(3, 14, 2), zone="Europe/Berlin", languages=["de", "en"]), follow=True)
    assert "You have exchange partners!" in response.content.decode()
    amina = client_for(people.amina)
    assert "1 new" in amina.get("/").content.decode()  # the navigation tells her
    page = amina.get("/peer/").content.decode()
    assert "New match" in page and "Lukas Weber" in page and "Heidelberg" in page
    assert "New match" not in amina.get("/peer/").content.decode()  # seen now
    assert "1 new" not in amina.get("/").content.decode()


@pytest.mark.parametrize(("rows", "message"), [
    ((window(3, 14, 0.5),), "at least 45 minutes"),
    ((window(-2, 14),), "over or too soon"),
    ((window(20, 14),), "within the next two weeks"),
    ((), "at least one time"),
])
def test_bad_free_times_are_refused_on_the_page(people, rows, message):
    response = client_for(people.amina).post("/peer/", _form(*rows))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PeerMatchRequest.objects.exists()


def test_more_than_six_free_times_are_refused(people):
    rows = [window(2 + i, 10) for i in range(7)]
    response = client_for(people.amina).post("/peer/", _form(*rows))
    assert response.status_code == 400
    assert "Give at most 6 free times." in response.content.decode()


def test_a_half_filled_row_or_a_time_the_clocks_skip_is_named(people):
    data = _form(window(3, 14))
    data["windows-1-date"] = data["windows-0-date"]  # no times
    response = client_for(people.amina).post("/peer/", data)
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    skipped = _form(zone="Europe/Berlin", **{"windows-0-date": "2030-03-31", "windows-0-start": "02:30", "windows-0-end": "04:00"})
    response = client_for(people.lukas).post("/peer/", skipped)
    assert response.status_code == 400 and "does not exist in Europe/Berlin" in response.content.decode()


def test_a_student_withdraws_her_request_and_nobody_else_can(people):
    client_for(people.amina).post("/peer/", _form(window(3, 14)))
    request = PeerMatchRequest.objects.get(user=people.amina)
    assert client_for(people.lukas).post(f"/peer/requests/{request.pk}/withdraw/").status_code == 404
    assert client_for(people.amina).get(f"/peer/requests/{request.pk}/withdraw/").status_code == 405
    response = client_for(people.amina).post(f"/peer/requests/{request.pk}/withdraw/", follow=True)
    assert "Your request is withdrawn." in response.content.decode()
    request.refresh_from_db()
    assert request.status == PeerRequestStatus.WITHDRAWN
    assert "Ask to be matched" in response.content.decode()  # she may ask again


def test_the_notes_download_is_for_participants_only(people):
    session = make_peer_session(people, members=("lukas",))
    PeerNotes.objects.create(session=session, text="Malaria: Lagos uses AL", version=1)
    response = client_for(people.lukas).get(f"/peer/sessions/{session.pk}/notes.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == "Malaria: Lagos uses AL\n"
    assert client_for(people.amina).get(f"/peer/sessions/{session.pk}/notes.txt").status_code == 200  # the host
    assert client_for(people.yui).get(f"/peer/sessions/{session.pk}/notes.txt").status_code == 404  # not invited: not even its existence
    open_session = make_peer_session(people, members=("lukas",), audience="everyone", title="Open one")
    assert client_for(people.yui).get(f"/peer/sessions/{open_session.pk}/notes.txt").status_code == 403
    assert Client().get(f"/peer/sessions/{session.pk}/notes.txt").status_code == 302
