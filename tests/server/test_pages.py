"""Sign-up, log-in, profile and the coordinator's school page, as a browser posts them."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django.urls import reverse

from server.people.demo import DEMO_PASSWORD
from server.people.models import Membership


def test_amina_logs_in_and_sees_her_school_and_time_zone(people, client: Client):
    response = client.post(reverse("login"), {"username": "amina", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get(reverse("profile")).content.decode()
    assert "University of Lagos College of Medicine" in page
    assert "Africa/Lagos" in page


def test_wrong_password_is_refused_with_a_message(people, client: Client):
    response = client.post(reverse("login"), {"username": "amina", "password": "nope"})
    assert response.status_code == 200
    assert "didn&#x27;t match" in response.content.decode() or "didn't match" in response.content.decode()


def test_sign_up_refusals_say_what_is_wrong(people, client: Client):
    response = client.post(reverse("signup"), {"username": "amina", "email": "amina@demo.openrounds.invalid", "password1": "123", "password2": "124", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "A user with that username already exists." in page
    assert "An account with this e-mail already exists" in page
    assert "two password fields didn" in page
    assert "Mars/Olympus is not one of the available choices" in page


def test_sign_up_creates_account_and_logs_in(db, client: Client):
    response = client.post(reverse("signup"), {"username": "ines", "email": "ines@example.org", "display_name": "Inês", "password1": "caju-tree-42-pa", "password2": "caju-tree-42-pa", "time_zone": "America/Sao_Paulo"})
    assert response.status_code == 302
    assert "America/Sao_Paulo" in client.get(reverse("profile")).content.decode()


def test_passwords_are_hashed_with_argon2_in_production_settings(people):
    from server.settings import base

    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_profile_requires_login(client: Client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL if settings.LOGIN_URL.startswith("/") else "/accounts/login/")


def test_coordinator_page_invites_and_other_coordinator_is_forbidden(people, client: Client):
    client.force_login(people.okafor)
    lagos = people.schools.lagos
    response = client.post(reverse("invitation-create", args=[lagos.pk]), {"email": "new@example.org", "role": "student"})
    assert response.status_code == 302
    assert "new@example.org" in client.get(reverse("institution", args=[lagos.pk])).content.decode()
    client.force_login(people.schmidt)  # Heidelberg's coordinator
    response = client.post(reverse("invitation-create", args=[lagos.pk]), {"email": "x@example.org", "role": "student"})
    assert response.status_code == 403


def test_student_sees_school_page_without_management_forms(people, client: Client):
    client.force_login(people.amina)
    page = client.get(reverse("institution", args=[people.schools.lagos.pk])).content.decode()
    assert "Members" in page and "Send invitation" not in page


def test_coordinator_changes_a_role(people, client: Client):
    client.force_login(people.okafor)
    membership = Membership.objects.get(user=people.tunde)
    client.post(reverse("membership-update", args=[membership.pk]), {"role": "trainee", "action": "role"})
    membership.refresh_from_db()
    assert membership.role == "trainee"


def test_password_reset_sends_a_mail(people, client: Client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "amina@demo.openrounds.invalid"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body


def test_post_without_csrf_token_is_refused(people):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "amina", "password": DEMO_PASSWORD})
    assert response.status_code == 403


def test_api_me_by_token_and_refused_without(people, client: Client):
    from server.people.services import access_token_create

    assert client.get("/api/me/").status_code == 401
    _, secret = access_token_create(user=people.lukas, name="t")
    response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["memberships"][0]["country"] == "DE"


def test_openapi_schema_is_published(client: Client):
    response = client.get("/api/schema")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "OpenRounds API"
