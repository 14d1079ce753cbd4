"""A library image (an ECG, a radiograph) goes on screen as a deck of one page, rendered once,
never enlarged; what cannot be shown is not offered and is refused with a reason."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage

from courses.library.services import material_create
from server.people.errors import InvalidRequest, PermissionRefused
from sessions.models import DeckKind, DeckStatus, SlidePage
from sessions.slides import selectors, services
from sessions.slides.render import RenderFailed, RenderLimits, render_in_child
from tests.courses.library.conftest import png_bytes, upload

from .conftest import image_colour, image_size

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="red"/></svg>'


def ecg_jpeg(size: tuple[int, int] = (2000, 1200)) -> bytes:
    """A pink ECG-paper-like JPEG with a dark trace across it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (250, 215, 215))
    draw = ImageDraw.Draw(image)
    draw.line([(0, size[1] // 2), (size[0] // 3, size[1] // 2), (size[0] // 3 + 20, size[1] // 5), (size[0], size[1] // 2)],
              fill=(20, 20, 20), width=6)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def test_a_library_image_is_offered_and_shown_as_a_deck_of_one_page(people, live, library_storage):
    ecg = material_create(user=people.hoffmann, kind="image", title="12-lead ECG: anterior STEMI", scope="public",
                          upload=upload("ecg.jpg", ecg_jpeg()))
    offered = selectors.deck_material_choices(session=live, user=people.tanaka, query="STEMI")
    assert [m.pk for m in offered] == [ecg.pk]

    deck = services.deck_create_from_material(user=people.tanaka, session=live, material_id=ecg.pk)
    assert (deck.kind, deck.title, deck.source) == (DeckKind.IMAGE, "12-lead ECG: anterior STEMI", "material")
    assert services.deck_render(deck_id=deck.pk) is True
    deck.refresh_from_db()
    assert (deck.status, deck.page_count, deck.page_width, deck.page_height) == (DeckStatus.READY, 1, 1280, 768)
    page = SlidePage.objects.get(deck=deck)
    large, small = _stored(page.large_name), _stored(page.small_name)
    assert image_size(large) == (1280, 768) and image_size(small) == (480, 288)
    assert all(abs(a - b) <= 12 for a, b in zip(image_colour(small), (250, 215, 215), strict=True))
    assert len(large) < 60_000  # a light image, whatever the original weighed
    assert selectors.deck_public(deck)["kind"] == "image" and selectors.deck_public(deck)["pages"] == 1
    # The same image asked for again is the same deck; it opens like any deck.
    assert services.deck_create_from_material(user=people.tanaka, session=live, material_id=ecg.pk).pk == deck.pk
    assert services.slides_open(session=live, user=people.tanaka, deck_id=deck.pk)
    assert selectors.slides_current(session_id=live.pk)["deck"]["kind"] == "image"


def test_a_still_uploaded_in_the_room_is_shown_as_one_page_without_its_metadata(people, live, local_storage):
    """A still of a screen share, or a phone photo the presenter uploads: one page, kept with
    the session (not the library), stored without EXIF or GPS, upright, opened for everyone."""
    from PIL import Image

    from tests.courses.library.conftest import photo_with_gps

    deck = services.deck_create_from_upload(user=people.tanaka, session=live, upload=io.BytesIO(photo_with_gps()),
                                            file_name="ward-photo.jpg")
    assert (deck.kind, deck.source, deck.title, deck.material_id) == (DeckKind.IMAGE, "upload", "ward-photo", None)
    stored = _stored(deck.source_name)
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif() and image.size == (32, 64)  # GPS and camera gone; turned upright
    assert b"PhoneMaker" not in stored
    assert services.deck_render(deck_id=deck.pk) is True
    deck.refresh_from_db()
    assert (deck.status, deck.page_count) == (DeckStatus.READY, 1)
    assert services.slides_open(session=live, user=people.tanaka, deck_id=deck.pk)
    assert selectors.slides_current(session_id=live.pk)["deck"]["kind"] == "image"
    # An attendee cannot put one on screen.
    from sessions.models import Participant

    Participant.objects.create(session=live, user=people.amina, role="attendee")
    with pytest.raises(PermissionRefused):
        services.deck_create_from_upload(user=people.amina, session=live, upload=io.BytesIO(png_bytes()))


def test_a_damaged_image_is_refused_with_a_reason_not_an_error(people, live, local_storage):
    """A JPEG cut in half passes the cheap checks (its header is whole) and fails to decode."""
    from sessions.models import SlideDeck

    half = ecg_jpeg((800, 600))
    with pytest.raises(InvalidRequest) as refusal:
        services.deck_create_from_upload(user=people.tanaka, session=live, upload=io.BytesIO(half[: len(half) // 2]))
    assert refusal.value.code == "image_broken"
    assert not SlideDeck.objects.filter(session=live).exists()


def test_an_image_is_never_put_on_screen_in_a_consult(people, live, local_storage):
    """A photo in a consult is clinical: it goes through the consult's audited photos, not slides storage."""
    from sessions.models import SessionKind, SlideDeck

    live.kind = SessionKind.CONSULT
    live.save(update_fields=["kind"])
    with pytest.raises(PermissionRefused) as refusal:
        services.deck_create_from_upload(user=people.tanaka, session=live, upload=io.BytesIO(png_bytes()), file_name="wound.png")
    assert refusal.value.code == "consult_photo"
    assert not SlideDeck.objects.filter(session=live).exists()


def test_a_small_image_is_not_enlarged(people, live, local_storage):
    photo = material_create(user=people.hoffmann, kind="image", title="Erythema migrans", scope="public",
                            upload=upload("rash.png", png_bytes(size=(600, 400), color="orange")))
    deck = services.deck_create_from_material(user=people.tanaka, session=live, material_id=photo.pk)
    services.deck_render(deck_id=deck.pk)
    page = SlidePage.objects.get(deck=deck)
    assert (page.large_width, page.large_height) == (600, 400)
    assert (page.small_width, page.small_height) == (480, 320)


def test_an_svg_is_neither_offered_nor_shown(people, live, local_storage):
    drawing = material_create(user=people.hoffmann, kind="image", title="Heart diagram", scope="public",
                              upload=upload("heart.svg", SVG, "image/svg+xml"))
    assert drawing.pk not in [m.pk for m in selectors.deck_material_choices(session=live, user=people.tanaka)]
    with pytest.raises(InvalidRequest) as refusal:
        services.deck_create_from_material(user=people.tanaka, session=live, material_id=drawing.pk)
    assert refusal.value.code == "not_a_pdf"


def test_the_child_refuses_what_is_not_a_showable_image(tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"%PDF-1.7 not an image")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RenderFailed) as failure:
        list(render_in_child(source, out, widths=(1280, 480), image_format="webp", limits=RenderLimits(timeout_seconds=30),
                             kind="image"))
    assert failure.value.code == "image_unreadable"
    assert not list(out.iterdir())
    assert str(selectors.DECK_ERRORS["image_unreadable"])


def test_a_real_image_past_the_pixel_limit_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    """A decompression bomb: a whole, valid PNG of one colour, 6,500 × 6,500 (42 MP: 127 MB
    once decoded as RGB) in a few hundred kilobytes. Pillow's own limit (89 MP) would
    decode it; the renderer's (40 MP, as the library's uploads) refuses it at open."""
    import warnings

    from PIL import Image

    from sessions.slides.render import MAX_IMAGE_PIXELS, render_image_file

    source = tmp_path / "bomb.png"
    Image.new("L", (6500, 6500), 200).save(source, format="PNG")
    assert source.stat().st_size < 1_000_000 and 6500 * 6500 > MAX_IMAGE_PIXELS
    # The renderer sets Pillow's limit and turns its warning into an error for the process
    # it runs in (the child); here it runs in the test's process, so both are put back.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1024 * 1024 * 1024 // 4 // 3)  # Pillow's default
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(source) as unguarded:  # a real image: Pillow alone lets it through
            assert unguarded.size == (6500, 6500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # only the renderer's own filter refuses
        with pytest.raises(Image.DecompressionBombWarning):
            render_image_file(str(source), (1280, 480), "webp")


def test_the_api_offers_images_and_makes_an_image_deck(people, live, render_inline, local_storage, django_capture_on_commit_callbacks):
    # render_inline before local_storage: settings changed after the storage override would
    # bring the local storage back when pytest-django undoes them, for the tests that follow.
    import json

    from django.test import Client

    ecg = material_create(user=people.hoffmann, kind="image", title="ECG: hyperkalaemia", scope="public",
                          upload=upload("k.png", png_bytes(size=(900, 500), color="pink")))
    tanaka = Client()
    tanaka.force_login(people.tanaka)
    choices = tanaka.get(f"/api/slides/sessions/{live.pk}/materials", {"q": "hyperkal"}).json()
    assert [(c["id"], c["kind"]) for c in choices] == [(ecg.pk, "image")]
    with django_capture_on_commit_callbacks(execute=True):
        response = tanaka.post(f"/api/slides/sessions/{live.pk}/decks", json.dumps({"material_id": ecg.pk}),
                               content_type="application/json")
    assert response.status_code == 201 and response.json()["kind"] == "image"
    status = tanaka.get(f"/api/slides/sessions/{live.pk}/decks/{response.json()['id']}").json()
    assert (status["status"], status["pages"], status["width"], status["height"]) == ("ready", 1, 900, 500)
