"""The profile's language is the default; the footer's switch wins in that browser."""

from __future__ import annotations

from django.conf import settings
from django.test import Client


def test_profile_language_applies_until_the_footer_switch_is_used(people, client: Client):
    people.amina.preferred_language = "fr"
    people.amina.save()
    client.force_login(people.amina)
    assert '<html lang="fr"' in client.get("/accounts/profile/").content.decode()
    client.post("/i18n/setlang/", {"language": "pt", "next": "/accounts/profile/"})
    assert settings.LANGUAGE_COOKIE_NAME in client.cookies
    assert '<html lang="pt"' in client.get("/accounts/profile/").content.decode()
