"""Review finding: the home page's "new in the library" listed the viewer's own withdrawn
material (e.g. a teaching case withdrawn because the patient withdrew teaching consent)."""

from __future__ import annotations

from courses.library import services as library
from server.people.dashboard import dashboard_for


def new_materials(user) -> list:
    sections = dict(dashboard_for(user=user, limit=50))
    return sections["library/dashboard_new.html"]["materials"]


def test_home_does_not_list_my_withdrawn_material_as_new(people):
    material = library.material_create(user=people.tanaka, kind="link", title="Withdrawn review link",
                                       url="https://example.org/x", scope="public")
    assert material in new_materials(people.tanaka)
    library.material_withdraw(user=people.tanaka, material=material)
    assert material not in new_materials(people.tanaka)
