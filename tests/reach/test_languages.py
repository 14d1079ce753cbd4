"""English, French and Portuguese complete; Arabic partial but right to left; browser language by default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.reach.pages import ROOM_PAGE, seed_demo_data

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def untranslated(po_file: Path) -> list[str]:
    """The msgids of a .po file that have no translation or are marked fuzzy."""
    missing = []
    for block in po_file.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        text = "\n".join(lines)
        msgid = "".join(re.findall(r'"(.*)"', text.split("msgid ", 1)[1].split("\nmsgstr", 1)[0].split("\nmsgid_plural")[0]))
        if not msgid:
            continue  # the header
        translations = re.findall(r'msgstr(?:\[\d\])? ((?:".*"\n?)+)', text + "\n")
        empty = any("".join(re.findall(r'"(.*)"', t)) == "" for t in translations) or not translations
        if empty or re.search(r"^#,.*\bfuzzy\b", text, re.M):
            missing.append(msgid)
    return missing


@pytest.mark.parametrize("language", ["fr", "pt"])
@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_french_and_portuguese_catalogues_are_complete(language, domain):
    po_file = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    assert po_file.exists()
    missing = untranslated(po_file)
    assert not missing, f"{len(missing)} untranslated in {po_file.name} ({language}), e.g. {missing[:5]}"


def test_arabic_catalogue_covers_navigation_and_the_room():
    missing = set(untranslated(LOCALE / "ar" / "LC_MESSAGES" / "django.po"))
    for msgid in ["Skip to content", "Log in", "Sessions", "Library", "Chat", "Raise hand", "Upcoming sessions"]:
        assert msgid not in missing


def test_the_browser_language_is_the_default(people):
    client = Client(headers={"accept-language": "pt-BR,pt;q=0.9,en;q=0.5"})
    client.force_login(people.amina)
    page = client.get("/sessions/")
    assert page.status_code == 200
    assert 'lang="pt"' in page.content.decode() and "Próximas sessões" in page.content.decode()


def test_a_chosen_language_beats_the_browser_language(people):
    client = Client(headers={"accept-language": "pt"})
    client.force_login(people.amina)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/sessions/"})
    page = client.get("/sessions/").content.decode()
    assert 'lang="fr"' in page and "Séances à venir" in page


def test_arabic_pages_are_right_to_left(people):
    client = Client(headers={"accept-language": "ar"})
    client.force_login(people.amina)
    page = client.get("/sessions/").content.decode()
    assert 'lang="ar" dir="rtl"' in page and "الجلسات القادمة" in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_room_scripts_speak_the_interface_language(browser_page):
    people = seed_demo_data()
    page = browser_page(ROOM_PAGE.viewer(people), locale="fr-FR")
    page.goto(ROOM_PAGE.path(people))
    expect(page.get_by_role("status").filter(has_text="Connecté")).to_be_visible()
    expect(page.get_by_role("button", name="Lever la main")).to_be_visible()
