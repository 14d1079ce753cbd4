"""Who may make decks, from what, and what is refused (checked by content, not by name)."""

from __future__ import annotations

import pytest

from courses.library.services import material_create
from server.people.errors import InvalidRequest, PermissionRefused
from sessions.models import DeckSource, DeckStatus, Participant, SlideDeck
from sessions.slides import selectors, services
from tests.courses.library.conftest import png_bytes, upload

from .conftest import pdf_upload, slides_pdf

pytestmark = pytest.mark.django_db


def _deck_from(people, live, data: bytes, name: str = "lecture.pdf"):
    return services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(data, name), file_name=name)


def test_what_is_neither_a_pdf_nor_a_showable_image_is_refused_whatever_its_name(people, live, local_storage):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"><rect width="4" height="3"/></svg>'
    for data, name in ((b"<html><script>alert(1)</script></html>", "slides.pdf"), (svg, "diagram.png"),
                       (b"just some text", "notes.pdf")):
        with pytest.raises(InvalidRequest) as refusal:
            _deck_from(people, live, data, name)
        assert refusal.value.code == "not_a_pdf", name
    assert not SlideDeck.objects.exists()
    # Decided by the content: a PNG named like a PDF is an image deck.
    assert _deck_from(people, live, png_bytes(), "slides.pdf").kind == "image"


def test_a_pdf_over_the_size_limit_is_refused(people, live, local_storage, settings):
    data = slides_pdf(2)
    settings.SLIDES_MAX_UPLOAD_BYTES = len(data) - 1
    with pytest.raises(InvalidRequest) as refusal:
        _deck_from(people, live, data)
    assert refusal.value.code == "file_too_large"
    settings.SLIDES_MAX_UPLOAD_BYTES = len(data)
    assert _deck_from(people, live, data).status == DeckStatus.PENDING


def test_a_pdf_with_javascript_is_refused(people, live, local_storage):
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(slides_pdf(1))) as pdf:  # a real action, in an object stream
        pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    with pytest.raises(InvalidRequest) as refusal:
        _deck_from(people, live, out.getvalue())
    assert refusal.value.code == "pdf_active_content"


def test_an_attendee_cannot_make_a_deck_but_someone_given_the_floor_can(people, live, local_storage):
    Participant.objects.create(session=live, user=people.amina, role="attendee")
    with pytest.raises(PermissionRefused) as refusal:
        services.deck_create_from_upload(user=people.amina, session=live, upload=pdf_upload())
    assert refusal.value.code == "not_presenter"
    Participant.objects.filter(session=live, user=people.amina).update(has_floor=True)
    deck = services.deck_create_from_upload(user=people.amina, session=live, upload=pdf_upload())
    assert deck.created_by == people.amina


def test_a_removed_presenter_and_an_outsider_may_not_present(people, live):
    Participant.objects.create(session=live, user=people.lukas, role="presenter")
    assert selectors.slides_may_present(session=live, user=people.lukas)
    Participant.objects.filter(session=live, user=people.lukas).update(removed_at=live.starts_at)
    assert not selectors.slides_may_present(session=live, user=people.lukas)
    assert not selectors.slides_may_present(session=live, user=people.amina), "in the audience, not a presenter"


def test_a_deck_from_a_library_pdf_once_per_material(people, live, local_storage):
    material = material_create(user=people.hoffmann, kind="pdf", title="ECG interpretation in ten steps",
                               scope="public", upload=upload("ecg.pdf", slides_pdf(4)))
    first = services.deck_create_from_material(user=people.tanaka, session=live, material_id=material.pk)
    again = services.deck_create_from_material(user=people.tanaka, session=live, material_id=material.pk)
    assert first.pk == again.pk
    assert (first.source, first.title, first.material_id) == (DeckSource.MATERIAL, "ECG interpretation in ten steps", material.pk)
    services.deck_render(deck_id=first.pk)
    first.refresh_from_db()
    assert (first.status, first.page_count) == (DeckStatus.READY, 4)


def test_a_library_pdf_the_presenter_may_not_see_is_refused_and_not_offered(people, live, local_storage):
    own_school = material_create(user=people.adebayo, kind="pdf", title="Lagos internal handout",
                                 scope="school", upload=upload("h.pdf", slides_pdf(1)))
    public = material_create(user=people.hoffmann, kind="pdf", title="Public ECG deck", scope="public",
                             upload=upload("p.pdf", slides_pdf(2)))
    image = material_create(user=people.hoffmann, kind="image", title="A rash", scope="public",
                            upload=upload("r.png", png_bytes()))
    own_image = material_create(user=people.adebayo, kind="image", title="Lagos ward photo",
                                scope="school", upload=upload("w.png", png_bytes()))
    with pytest.raises(PermissionRefused) as refusal:
        services.deck_create_from_material(user=people.tanaka, session=live, material_id=own_school.pk)
    assert refusal.value.code == "material_not_visible"
    with pytest.raises(PermissionRefused) as refusal:
        services.deck_create_from_material(user=people.tanaka, session=live, material_id=own_image.pk)
    assert refusal.value.code == "material_not_visible"
    offered = [m.pk for m in selectors.deck_material_choices(session=live, user=people.tanaka)]
    # A visible image is offered too (shown as one page: tests/sessions/slides/test_image_decks.py).
    assert public.pk in offered and image.pk in offered and own_school.pk not in offered and own_image.pk not in offered
    assert [m.pk for m in selectors.deck_material_choices(session=live, user=people.tanaka, query="ecg")] == [public.pk]


def test_the_sessions_case_is_offered_first(people, live, local_storage):
    case = material_create(user=people.hoffmann, kind="pdf", title="Case: chest pain", scope="public",
                           upload=upload("c.pdf", slides_pdf(1)))
    material_create(user=people.hoffmann, kind="pdf", title="Newer deck", scope="public", upload=upload("n.pdf", slides_pdf(2)))
    live.case_material = case
    live.save(update_fields=["case_material"])
    assert selectors.deck_material_choices(session=live, user=people.tanaka)[0].pk == case.pk


def test_a_session_holds_a_bounded_number_of_decks(people, live, local_storage, settings):
    settings.SLIDES_MAX_DECKS_PER_SESSION = 1
    _deck_from(people, live, slides_pdf(1))
    with pytest.raises(InvalidRequest) as refusal:
        _deck_from(people, live, slides_pdf(2))
    assert refusal.value.code == "too_many_decks"
