"""English, French and Portuguese complete; Arabic partial but right to left; browser language by default."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from tests.reach.pages import ROOM_PAGE, seed_demo_data

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "locale"
#: Directories `make messages` never reads (its --ignore list); the top-level locale/ is left
#: out of the copy so that extraction cannot write to the committed catalogues.
NOT_SOURCE = {".venv", "var", "node_modules", "__pycache__"}
#: What makemessages reads: .py, .html and .txt for django, .js for djangojs.
SOURCE_SUFFIXES = {".py", ".html", ".txt", ".js"}
#: Arabic is partial, but the navigation, the room (media, slides, shared notes) and the
#: peer exchange page are covered: every string used in these sources is translated.
ARABIC_COVERS = (
    "frontend/templates/base.html", "frontend/templates/includes/", "frontend/templates/room/",
    "frontend/templates/media/", "frontend/templates/peer/", "frontend/static/js/room/", "frontend/static/js/media/",
    "frontend/static/js/slides/", "frontend/static/js/peer/",
    "sessions/room/", "sessions/media/", "sessions/slides/", "sessions/peer/",
)


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


def catalogue_entries(po_file: Path) -> dict[tuple[str, str], list[str]]:
    """(msgctxt, msgid) of every live entry of a .po file (not the header, not obsolete), with its source references."""
    entries: dict[tuple[str, str], list[str]] = {}
    for block in po_file.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        references: list[str] = []
        current = None
        for line in block.splitlines():
            if line.startswith("#:"):
                references.extend(line[2:].split())
            elif line.startswith("#"):
                continue  # comments, flags and obsolete (#~) entries
            elif keyword := re.match(r'(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line):
                current = keyword.group(1)
                fields[current] = keyword.group(2)
            elif (more := re.match(r'"(.*)"$', line)) and current:
                fields[current] += more.group(1)
        if fields.get("msgid"):
            entries[(fields.get("msgctxt", ""), fields["msgid"])] = references
    return entries


def copy_sources(target: Path) -> None:
    """The files makemessages reads, copied without locale/ so extraction cannot touch the committed catalogues."""

    def not_read(directory: str, names: list[str]) -> list[str]:
        skipped = []
        for name in names:
            path = Path(directory, name)
            if name in NOT_SOURCE or name.startswith(".") or (Path(directory) == ROOT and name == "locale"):
                skipped.append(name)
            elif not path.is_dir() and path.suffix not in SOURCE_SUFFIXES:
                skipped.append(name)
        return skipped

    shutil.copytree(ROOT, target, ignore=not_read)


def test_every_translatable_string_of_the_code_is_in_the_french_catalogue(tmp_path, settings, monkeypatch):
    """A string marked for translation but never extracted stays English for every reader.

    Runs the project's own makemessages (with its `t('…')` keyword for the room modules)
    on a copy of the sources into an empty locale folder, and looks each extracted msgid up
    in the committed French catalogues. The fix is `make messages`, then translate.
    """
    committed = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in LOCALE.glob("*/LC_MESSAGES/*.po")}
    copy_sources(tmp_path / "src")
    settings.LOCALE_PATHS = [str(tmp_path / "src" / "locale")]
    monkeypatch.chdir(tmp_path / "src")
    report = []
    for domain in ("django", "djangojs"):
        call_command("makemessages", locale=["fr"], domain=domain, verbosity=0)
        extracted = catalogue_entries(tmp_path / "src" / "locale" / "fr" / "LC_MESSAGES" / f"{domain}.po")
        assert extracted, f"makemessages found no {domain} strings: the extraction itself is broken"
        in_catalogue = catalogue_entries(LOCALE / "fr" / "LC_MESSAGES" / f"{domain}.po")
        missing = {key: refs for key, refs in extracted.items() if key not in in_catalogue}
        report += [f"{domain}.po: {msgid!r} ({', '.join(refs[:2])})" for (_ctx, msgid), refs in sorted(missing.items())]
    assert committed == {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in committed}
    assert not report, (
        f"{len(report)} translatable strings are not in locale/fr (run `make messages` and translate them):\n"
        + "\n".join(report[:20])
    )


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_arabic_covers_the_navigation_the_room_and_peer_exchange(domain):
    po_file = LOCALE / "ar" / "LC_MESSAGES" / f"{domain}.po"
    not_translated = set(untranslated(po_file))
    missing = [
        f"{msgid!r} ({refs[0]})"
        for (_ctx, msgid), refs in catalogue_entries(po_file).items()
        if msgid in not_translated and any(ref.startswith(ARABIC_COVERS) for ref in refs)
    ]
    assert not missing, f"{len(missing)} untranslated in ar/{domain}.po, e.g. {missing[:5]}"


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


@pytest.mark.django_db
def test_filter_values_are_in_the_page_language_and_names_are_direction_isolated(people):
    """Library facets said "en", "fr" in every language; English inside Arabic lacked isolation."""
    from courses.library.services import material_create

    material_create(user=people.hoffmann, kind="link", title="Heart sounds", url="https://example.org/heart",
                    scope="public", language="pt", institution=people.schools.heidelberg)
    client = Client(headers={"accept-language": "fr"})
    client.force_login(people.amina)
    page = client.get("/library/").content.decode()
    assert "<bdi>Portugais</bdi>" in page and ">pt<" not in page
    arabic = Client(headers={"accept-language": "ar"})
    arabic.force_login(people.amina)
    page = arabic.get("/library/").content.decode()
    assert "<bdi>Heart sounds</bdi>" in page  # a Latin title inside a right-to-left page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_role_names_in_the_room_are_in_the_page_language(browser_page):
    people = seed_demo_data()
    page = browser_page(ROOM_PAGE.viewer(people), locale="ar")
    page.goto(ROOM_PAGE.path(people))
    expect(page.locator("#my-role")).to_contain_text("مشارك")  # "attendee"
    assert page.locator("#people-list bdi.person-name").count() >= 1
