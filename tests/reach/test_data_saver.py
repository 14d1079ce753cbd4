"""Data saver: remembered per person, and library previews stay unloaded until asked for."""

from __future__ import annotations

import pytest
from django.apps import apps
from playwright.sync_api import expect

from tests.reach.pages import seed_demo_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def material_with_thumbnail(people) -> int:
    """A Lagos material (Amina can see it) whose current version has a thumbnail."""
    files = apps.get_model("courses", "MaterialFile").objects.filter(
        role="thumbnail", version__material__institution=people.schools.lagos
    )
    material_id = files.order_by("pk").values_list("version__material_id", flat=True).first()
    assert material_id is not None, "the library demo has a Lagos material with a thumbnail"
    return material_id


def test_data_saver_is_remembered_and_keeps_previews_unloaded_until_asked(browser_page):
    people = seed_demo_data()
    material = material_with_thumbnail(people)

    page = browser_page("amina")
    page.goto("/library/")
    page.get_by_role("contentinfo").get_by_role("button", name="Turn on data saver").click()
    expect(page.locator("body")).to_have_class("data-saver")
    people.amina.refresh_from_db()
    assert people.amina.data_saver, "the choice is stored on Amina's account"
    page.context.close()

    # Another device of Amina's: the choice follows her, and previews cost nothing.
    page = browser_page("amina")
    file_requests: list[str] = []
    page.on("request", lambda request: "/files/" in request.url and file_requests.append(request.url))
    page.goto(f"/library/{material}/", wait_until="networkidle")
    expect(page.locator("body")).to_have_class("data-saver")
    previews = page.locator("img.preview")
    assert previews.count() >= 1
    expect(previews.first).to_be_hidden()
    assert file_requests == [], "no preview image is downloaded before it is asked for"

    with page.expect_request(lambda request: "/files/" in request.url):  # asking for the preview loads it
        page.get_by_role("button", name="Show preview").first.click()
    expect(previews.first).to_be_visible()
