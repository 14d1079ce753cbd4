"""Two students write the shared notes of their peer session in the room, as people would;
and the peer pages pass axe-core."""

from __future__ import annotations

import time

import pytest

from sessions.models import PeerNotes
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401  (axe_source is a fixture)

from .conftest import make_peer_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _enter(browser_page, username: str, session_id: int):
    from playwright.sync_api import expect

    page = browser_page(username)
    page.goto(f"/rooms/{session_id}/")
    expect(page.locator("#room-connection")).to_have_text("Connected")
    box = page.get_by_role("textbox", name="Shared notes")
    expect(box).to_be_enabled()
    return page, box


def _first_with_conflict(pages: dict, timeout: float = 15.0) -> str:
    """Whose page shows the two versions (whoever saved second); waits for one of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, page in pages.items():
            if page.locator("#peer-notes-conflict").is_visible():
                return name
        time.sleep(0.1)
    raise AssertionError("nobody was shown the two versions")


def test_two_students_write_the_shared_notes_together(people, browser_page):
    from playwright.sync_api import expect

    session = make_peer_session(people, members=("lukas",))
    amina, amina_box = _enter(browser_page, "amina", session.pk)
    lukas, lukas_box = _enter(browser_page, "lukas", session.pk)

    # Amina writes; a moment after she pauses, Lukas has it.
    amina_box.click()
    amina_box.press_sequentially("Malaria: Lagos uses artemether-lumefantrine.")
    expect(lukas_box).to_have_value("Malaria: Lagos uses artemether-lumefantrine.")
    expect(amina.locator("#peer-notes-status")).to_have_text("All changes saved.")
    expect(lukas.locator("#peer-notes-last")).to_contain_text(people.amina.name)

    # Lukas adds a line at the end and saves at once with Ctrl+S.
    lukas_box.click()
    lukas_box.press("Control+End")
    lukas_box.press_sequentially("\nGermany: travellers only.")
    lukas_box.press("Control+s")
    expect(amina_box).to_have_value("Malaria: Lagos uses artemether-lumefantrine.\nGermany: travellers only.")

    # Both write at the same time in different places: both texts are kept, with no question asked.
    amina_box.press("Control+Home")
    amina_box.press_sequentially("Topic: ")  # saved after her pause
    lukas_box.press("Control+End")
    lukas_box.press_sequentially("\nBrazil: ask Beatriz.")
    lukas_box.press("Control+s")
    both = "Topic: Malaria: Lagos uses artemether-lumefantrine.\nGermany: travellers only.\nBrazil: ask Beatriz."
    expect(amina_box).to_have_value(both)
    expect(lukas_box).to_have_value(both)
    expect(amina.locator("#peer-notes-alert")).to_contain_text("merged")
    expect(amina.locator("#peer-notes-conflict")).to_be_hidden()
    expect(lukas.locator("#peer-notes-conflict")).to_be_hidden()
    expect(amina.locator("#peer-notes-status")).to_have_text("All changes saved.")

    # Both rewrite the first line at once: whoever saved second keeps their text and sees the other's.
    lukas_box.press("Control+Home")
    lukas_box.press("Shift+End")
    lukas_box.press_sequentially("Topic: malaria prophylaxis for travellers")
    amina_box.press("Control+Home")
    amina_box.press("Shift+End")
    amina_box.press_sequentially("Topic: malaria in pregnancy")
    amina_box.press("Control+s")
    pages = {"amina": (amina, amina_box, "Topic: malaria in pregnancy"), "lukas": (lukas, lukas_box, "Topic: malaria prophylaxis for travellers")}
    behind = _first_with_conflict({name: page for name, (page, _, _) in pages.items()})
    ahead = "lukas" if behind == "amina" else "amina"
    page, box, mine = pages[behind]
    _, other_box, theirs = pages[ahead]
    expect(box).to_have_value(mine + both[len("Topic: Malaria: Lagos uses artemether-lumefantrine."):])  # the draft is kept
    expect(page.get_by_role("textbox", name="Newer version")).to_have_value(theirs + both[len("Topic: Malaria: Lagos uses artemether-lumefantrine."):])
    expect(page.locator("#peer-notes-alert")).to_contain_text("changed the part you are writing")
    # They merge by hand (both topics on the first line) and save theirs.
    box.press("Control+Home")
    box.press("End")
    box.press_sequentially(" / " + theirs.removeprefix("Topic: "))
    page.get_by_role("button", name="Save my text (I merged)").click()
    merged = mine + " / " + theirs.removeprefix("Topic: ") + both[len("Topic: Malaria: Lagos uses artemether-lumefantrine."):]
    expect(other_box).to_have_value(merged)
    expect(page.locator("#peer-notes-conflict")).to_be_hidden()

    # The notes are in the database: a reload (a reconnect) shows them, and they download as text.
    lukas.reload()
    expect(lukas.locator("#room-connection")).to_have_text("Connected")
    expect(lukas.get_by_role("textbox", name="Shared notes")).to_have_value(merged)
    assert PeerNotes.objects.get(session=session).text == merged
    download = amina.request.get(f"/peer/sessions/{session.pk}/notes.txt")
    assert download.status == 200 and download.text() == merged + "\n"


def test_the_notes_merge_functions_of_the_page(people, browser_page):
    """The page's own merge rules, run in the browser (UTF-16 positions, as the server sends them)."""
    session = make_peer_session(people, members=("lukas",))
    amina, _ = _enter(browser_page, "amina", session.pk)
    result = amina.evaluate("""async () => {
      const m = await import('/static/js/peer/notes.js');
      const base = 'line one\\nline two 🦟\\nline three';
      const mine = m.spliceBetween(base, 'LINE one\\nline two 🦟\\nline three');
      const theirs = m.spliceBetween(base, 'line one\\nline two 🦟\\nline three!');
      const same = m.spliceBetween(base, 'line one\\nline 2 🦟\\nline three');
      const overlapping = m.spliceBetween(base, 'line one\\nline II 🦟\\nline three');
      return {
        merged: m.mergeSplices(base, mine, theirs).text,
        conflict: m.mergeSplices(base, same, overlapping),
        applied: m.applySplice(base, theirs),
        caret: m.movePosition(12, {start: 0, end: 4, insert: 'LINE!'}),
      };
    }""")
    assert result["merged"] == "LINE one\nline two 🦟\nline three!"
    assert result["conflict"] is None
    assert result["applied"] == "line one\nline two 🦟\nline three!"
    assert result["caret"] == 13


def test_the_peer_pages_have_no_serious_accessibility_violation(people, browser_page, axe_source):  # noqa: F811
    session = make_peer_session(people, members=("lukas",))
    problems = {}
    for name, username, path in (
        ("find exchange partners", "amina", "/peer/"),
        ("peer room", "lukas", f"/rooms/{session.pk}/"),
    ):
        page = browser_page(username)
        response = page.goto(path)
        assert response is not None and response.status == 200
        page.wait_for_load_state("load")
        if name == "peer room":
            page.get_by_role("textbox", name="Shared notes").wait_for()
            page.locator("#peer-notes-text:not([disabled])").wait_for()
        found = axe_violations(page, axe_source)
        if found:
            problems[name] = found
        page.context.close()
    assert not problems, problems


def test_find_partners_works_with_the_keyboard_alone(people, browser_page):
    from playwright.sync_api import expect

    page = browser_page("amina")
    page.goto("/peer/")
    page.get_by_label("Topic").fill("Malaria in pregnancy")
    page.get_by_label("Discipline (optional)").fill("Infectious diseases")
    expect(page.get_by_label("Hausa")).to_be_checked()  # her profile's languages
    page.get_by_label("Group size, you included").select_option("2")
    first = page.get_by_role("group", name="Free time 1")
    first.get_by_label("Date").fill((__import__("datetime").date.today() + __import__("datetime").timedelta(days=3)).isoformat())
    first.get_by_label("From").fill("14:00")
    first.get_by_label("To").fill("16:00")
    page.get_by_role("button", name="Find partners").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Waiting for partners")).to_be_visible()
    expect(page.locator("#peer-open-request")).to_contain_text("14:00")
    page.get_by_role("button", name="Withdraw this request").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your request is withdrawn.")).to_be_visible()
