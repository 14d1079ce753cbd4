"""A signed LTI 1.3 launch, end to end, with a locally generated RSA key acting as the platform."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from server.lti import claims
from server.lti.models import Deployment, Identity, Platform
from server.people.models import Membership, Role

ISSUER = "https://moodle.lagos.example"
CLIENT_ID = "openrounds-client-1"
DEPLOYMENT = "deployment-1"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


PLATFORM_KEY = rsa_key()
OTHER_KEY = rsa_key()


def public_jwks(key: rsa.RSAPrivateKey, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return {"keys": [jwk]}


@pytest.fixture
def platform(people) -> Platform:
    registration = Platform.objects.create(
        name="Lagos Moodle", issuer=ISSUER, client_id=CLIENT_ID,
        auth_login_url=ISSUER + "/mod/lti/auth.php", jwks=public_jwks(PLATFORM_KEY, "platform-key-1"),
        institution=people.schools.lagos,
    )
    Deployment.objects.create(platform=registration, deployment_id=DEPLOYMENT)
    return registration


def start_login(client: Client, **extra: str) -> dict[str, str]:
    """The platform's first leg: login initiation; returns the authorization request's parameters."""
    response = client.post("/lti/login/", {
        "iss": ISSUER, "login_hint": "user-17", "client_id": CLIENT_ID,
        "target_link_uri": "http://testserver/lti/launch/", "lti_message_hint": "link-3", **extra,
    })
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == ISSUER + "/mod/lti/auth.php"
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def id_token(nonce: str, *, key: rsa.RSAPrivateKey = PLATFORM_KEY, kid: str = "platform-key-1", **overrides) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER, "aud": CLIENT_ID, "sub": "user-17", "iat": now, "exp": now + 300, "nonce": nonce,
        "name": "Adaeze Obi", "given_name": "Adaeze", "family_name": "Obi", "email": "adaeze@lagos.example",
        claims.MESSAGE_TYPE: claims.RESOURCE_LINK_REQUEST, claims.VERSION: "1.3.0",
        claims.DEPLOYMENT_ID: DEPLOYMENT, claims.ROLES: [LEARNER],
        claims.RESOURCE_LINK: {"id": "link-3", "title": "Cardiology grand round"},
        claims.TARGET_LINK_URI: "http://testserver/lti/launch/",
        claims.CUSTOM: {claims.CUSTOM_PATH: "/sessions/7/"},
        claims.LAUNCH_PRESENTATION: {"locale": "fr-FR", "document_target": "window"},
    }
    payload.update(overrides)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def launch(client: Client, **overrides):
    params = start_login(client)
    return client.post("/lti/launch/", {"state": params["state"], "id_token": id_token(params["nonce"], **overrides)})


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_signed_launch_logs_the_student_in_and_opens_the_session(platform, people):
    client = Client()
    params = start_login(client)
    assert params["response_type"] == "id_token" and params["scope"] == "openid"
    assert params["client_id"] == CLIENT_ID and params["login_hint"] == "user-17"
    assert params["redirect_uri"] == "http://testserver/lti/launch/"

    response = client.post("/lti/launch/", {"state": params["state"], "id_token": id_token(params["nonce"])})

    assert response.status_code == 302
    assert response["Location"] == "/sessions/7/"
    identity = Identity.objects.get(platform=platform, subject="user-17")
    assert logged_in_user_id(client) == str(identity.user.pk)
    assert identity.user.name == "Adaeze Obi"
    assert response.cookies["django_language"].value == "fr", "the course's language is the default"
    assert not identity.user.has_usable_password()
    membership = Membership.objects.get(user=identity.user)
    assert membership.institution == people.schools.lagos and membership.role == Role.STUDENT


def test_second_launch_of_the_same_person_reuses_their_account(platform):
    assert launch(Client()).status_code == 302
    assert launch(Client()).status_code == 302
    assert Identity.objects.filter(platform=platform).count() == 1


def test_instructor_becomes_faculty_of_the_platform_school(platform):
    launch(Client(), **{claims.ROLES: [INSTRUCTOR]})
    assert Identity.objects.get().user.memberships.get().role == Role.FACULTY


def test_library_material_is_opened_from_target_link_uri(platform):
    response = launch(Client(), **{claims.CUSTOM: None, claims.TARGET_LINK_URI: "http://testserver/library/34/"})
    assert response["Location"] == "/library/34/"


@pytest.mark.parametrize("target", ["/admin/", "https://evil.example/sessions/7/", "//evil.example/library/1/", "/accounts/tokens/"])
def test_launch_never_redirects_outside_sessions_library_or_courses(platform, target):
    response = launch(Client(), **{claims.CUSTOM: {claims.CUSTOM_PATH: target}, claims.TARGET_LINK_URI: target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_launch_inside_an_iframe_offers_a_new_tab(platform):
    response = launch(Client(), **{claims.LAUNCH_PRESENTATION: {"document_target": "iframe"}})
    assert response.status_code == 200
    assert b'href="/sessions/7/" target="_blank"' in response.content
    assert "X-Frame-Options" not in response


def test_replayed_launch_is_refused(platform):
    client = Client()
    params = start_login(client)
    token = id_token(params["nonce"])
    assert client.post("/lti/launch/", {"state": params["state"], "id_token": token}).status_code == 302
    client.logout()
    client.cookies[f"lti-state-{params['state']}"] = params["state"]
    replay = client.post("/lti/launch/", {"state": params["state"], "id_token": token})
    assert replay.status_code == 400 and b"state_used" in replay.content
    assert logged_in_user_id(client) is None


def test_launch_from_another_browser_is_refused(platform):
    params = start_login(Client())
    stranger = Client()
    response = stranger.post("/lti/launch/", {"state": params["state"], "id_token": id_token(params["nonce"])})
    assert response.status_code == 400 and b"state_mismatch" in response.content
    assert logged_in_user_id(stranger) is None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"key": OTHER_KEY}, b"bad_token"),
        ({"kid": "unknown-kid"}, b"unknown_key"),
        ({"aud": "another-tool"}, b"bad_token"),
        ({"iss": "https://canvas.example"}, b"bad_token"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, b"expired_token"),
        ({"nonce": "not-the-nonce"}, b"bad_nonce"),
        ({claims.VERSION: "1.1"}, b"bad_version"),
        ({claims.MESSAGE_TYPE: "LtiSubmissionReviewRequest"}, b"bad_message_type"),
        ({"sub": None}, b"anonymous_launch"),
    ],
)
def test_invalid_launch_tokens_are_refused(platform, overrides, code):
    client = Client()
    params = start_login(client)
    nonce = overrides.pop("nonce", params["nonce"])
    response = client.post("/lti/launch/", {"state": params["state"], "id_token": id_token(nonce, **overrides)})
    assert response.status_code == 400 and code in response.content
    assert logged_in_user_id(client) is None


def test_launch_from_unregistered_deployment_is_refused(platform):
    response = launch(Client(), **{claims.DEPLOYMENT_ID: "someone-elses"})
    assert response.status_code == 403 and b"unknown_deployment" in response.content


def test_token_signed_with_hs256_by_the_public_key_is_refused(platform):
    client = Client()
    params = start_login(client)
    forged = jwt.encode({"iss": ISSUER, "aud": CLIENT_ID, "nonce": params["nonce"]}, "a-shared-secret-long-enough-for-hs256", algorithm="HS256")
    response = client.post("/lti/launch/", {"state": params["state"], "id_token": forged})
    assert response.status_code == 400 and b"bad_algorithm" in response.content


def test_login_from_an_unknown_platform_is_refused(platform):
    response = Client().get("/lti/login/", {"iss": "https://unknown.example", "login_hint": "x"})
    assert response.status_code == 400 and b"unknown_platform" in response.content


def test_deactivated_platform_cannot_launch(platform):
    client = Client()
    params = start_login(client)
    Platform.objects.filter(pk=platform.pk).update(is_active=False)
    response = client.post("/lti/launch/", {"state": params["state"], "id_token": id_token(params["nonce"])})
    assert response.status_code == 403 and b"platform_inactive" in response.content


def test_teacher_deep_links_a_session_with_a_response_signed_by_the_tool_key(platform):
    client = Client()
    data = {"deep_link_return_url": ISSUER + "/mod/lti/contentitem_return.php", "accept_types": ["ltiResourceLink"], "data": "opaque-42"}
    response = launch(client, **{claims.MESSAGE_TYPE: claims.DEEP_LINKING_REQUEST, claims.ROLES: [INSTRUCTOR],
                                 claims.RESOURCE_LINK: None, claims.DEEP_LINKING_SETTINGS: data})
    assert response.status_code == 302 and response["Location"] == "/lti/deep-link/"
    refused = client.post("/lti/deep-link/", {"title": "Admin", "path": "/admin/"})
    assert refused.status_code == 400
    chosen = client.post("/lti/deep-link/", {"title": "Cardiology grand round", "path": "/sessions/7/"})
    assert chosen.status_code == 200
    token = chosen.context["jwt"]
    assert chosen.context["return_url"] == data["deep_link_return_url"]

    keyset = jwt.PyJWKSet.from_dict(Client().get("/lti/jwks/").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keyset.keys if k.key_id == kid)
    message = jwt.decode(token, key=key.key, algorithms=["RS256"], audience=ISSUER)
    assert message["iss"] == CLIENT_ID
    assert message[claims.MESSAGE_TYPE] == claims.DEEP_LINKING_RESPONSE
    assert message[claims.DL_DATA] == "opaque-42"
    item = message[claims.CONTENT_ITEMS][0]
    assert item["url"] == "http://testserver/lti/launch/"
    assert item["custom"] == {claims.CUSTOM_PATH: "/sessions/7/"}


def test_student_cannot_choose_what_a_course_embeds(platform):
    client = Client()
    response = launch(client, **{claims.MESSAGE_TYPE: claims.DEEP_LINKING_REQUEST, claims.RESOURCE_LINK: None,
                                 claims.DEEP_LINKING_SETTINGS: {"deep_link_return_url": ISSUER + "/return"}})
    assert response.status_code == 403 and b"not_teacher" in response.content
    assert logged_in_user_id(client) is None
    assert client.get("/lti/deep-link/").status_code == 403


class _KeysetHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


def test_platform_keys_are_fetched_from_its_jwks_url(platform):
    _KeysetHandler.body = json.dumps(public_jwks(PLATFORM_KEY, "platform-key-1")).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeysetHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        Platform.objects.filter(pk=platform.pk).update(jwks={}, jwks_url=f"http://127.0.0.1:{server.server_port}/keys")
        assert launch(Client()).status_code == 302
    finally:
        server.shutdown()
        server.server_close()


def test_configuration_lists_the_urls_a_platform_administrator_pastes(db):
    config = Client().get("/lti/config/").json()
    assert config["oidc_initiation_url"] == "http://testserver/lti/login/"
    assert config["target_link_uri"] == "http://testserver/lti/launch/"
    assert config["public_jwk_url"] == "http://testserver/lti/jwks/"
    keys = Client().get("/lti/jwks/").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and "d" not in keys[0], "only the public half is published"
