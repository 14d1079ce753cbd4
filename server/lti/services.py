"""The LTI 1.3 flow: OIDC login initiation, id_token validation, the launched person, deep linking.

The platform (Moodle, Canvas…) first calls `lti_login_start` through /lti/login/; we
answer with a redirect to its authorization endpoint carrying a fresh `state` and
`nonce`. It then posts a signed id_token to /lti/launch/, which `lti_launch_accept`
checks: signature against the platform's JWKS, issuer, audience, expiry, nonce (once),
deployment, message type and version. Only then is a person logged in.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Membership, Role, User

from . import claims
from .models import Deployment, Identity, LaunchState, Platform, ToolKey

logger = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
CLOCK_LEEWAY_SECONDS = 60
JWKS_FETCH_TIMEOUT_SECONDS = 5
_jwks_clients: dict[str, jwt.PyJWKClient] = {}


@dataclass(frozen=True)
class LoginRedirect:
    """Where to send the browser after login initiation, and the state its cookie must carry."""

    url: str
    state: str


@dataclass
class Launch:
    """A validated launch: who, from where, and what it asks for."""

    platform: Platform
    user: User
    message_type: str
    deployment_id: str
    claims: dict[str, Any] = field(repr=False)

    @property
    def is_teacher(self) -> bool:
        return any(role in claims.TEACHING_ROLES for role in self.claims.get(claims.ROLES, []))

    @property
    def target_candidates(self) -> list[str]:
        custom = self.claims.get(claims.CUSTOM) or {}
        return [str(custom.get(claims.CUSTOM_PATH, "")), str(self.claims.get(claims.TARGET_LINK_URI, ""))]

    @property
    def language(self) -> str:
        """The course's interface language if OpenRounds has it (a default the person can change)."""
        return _language_of(self.claims)

    @property
    def document_target(self) -> str:
        return str((self.claims.get(claims.LAUNCH_PRESENTATION) or {}).get("document_target", ""))


def lti_login_start(
    *, platform: Platform, login_hint: str, target_link_uri: str, redirect_uri: str,
    lti_message_hint: str = "",
) -> LoginRedirect:
    """Record a state and nonce for this login and build the authorization request URL.

    Precondition: `platform` came from `selectors.platform_for_login`. Old states are
    swept here so the table stays small without a scheduler.
    """
    if not login_hint:
        raise InvalidRequest(_("The platform did not send a login hint."), code="missing_login_hint")
    LaunchState.objects.filter(created_at__lt=timezone.now() - timedelta(days=1)).delete()
    launch_state = LaunchState.objects.create(platform=platform, target_link_uri=target_link_uri[:1000])
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": launch_state.state,
        "nonce": launch_state.nonce,
    }
    if lti_message_hint:
        params["lti_message_hint"] = lti_message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    logger.info("lti login started for platform %s", platform.pk)
    return LoginRedirect(url=platform.auth_login_url + separator + urlencode(params), state=launch_state.state)


def _signing_key(platform: Platform, token: str) -> Any:
    """The platform key that signed `token`: from the pasted keyset, else fetched from its URL."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidRequest(_("The launch token is malformed."), code="bad_token") from None
    if header.get("alg") != "RS256":
        raise InvalidRequest(_("The launch token must be signed with RS256."), code="bad_algorithm")
    kid = header.get("kid")
    try:
        if platform.jwks.get("keys"):
            keyset = jwt.PyJWKSet.from_dict(platform.jwks)
            keys = [key for key in keyset.keys if kid is None or key.key_id == kid]
            if not keys:
                raise InvalidRequest(_("The platform's key that signed this launch is unknown."), code="unknown_key")
            return keys[0].key
        if not platform.jwks_url:
            raise InvalidRequest(_("This platform has no public keys registered."), code="no_platform_keys")
        client = _jwks_clients.get(platform.jwks_url)
        if client is None:
            client = jwt.PyJWKClient(platform.jwks_url, cache_keys=True, lifespan=3600, timeout=JWKS_FETCH_TIMEOUT_SECONDS)
            _jwks_clients[platform.jwks_url] = client
        return client.get_signing_key_from_jwt(token).key
    except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.InvalidKeyError) as error:
        logger.warning("lti platform %s keys unusable: %s", platform.pk, type(error).__name__)
        raise InvalidRequest(_("The platform's keys could not be read."), code="unknown_key") from None


def _verified_claims(platform: Platform, token: str) -> dict[str, Any]:
    key = _signing_key(platform, token)
    try:
        data = jwt.decode(
            token, key=key, algorithms=["RS256"], audience=platform.client_id, issuer=platform.issuer,
            leeway=CLOCK_LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidRequest(_("The launch has expired; open it again from your course."), code="expired_token") from None
    except jwt.PyJWTError as error:
        logger.info("lti launch refused for platform %s: %s", platform.pk, type(error).__name__)
        raise InvalidRequest(_("The launch token is not valid."), code="bad_token") from None
    audience = data["aud"]
    if isinstance(audience, list) and len(audience) > 1 and data.get("azp") != platform.client_id:
        raise InvalidRequest(_("The launch token names another tool."), code="bad_audience")
    return data


def _role_for(roles: list[str]) -> str:
    return Role.FACULTY if any(role in claims.TEACHING_ROLES for role in roles) else Role.STUDENT


def _language_of(data: dict[str, Any]) -> str:
    locale = str((data.get(claims.LAUNCH_PRESENTATION) or {}).get("locale", "")).lower().replace("_", "-")
    code = locale.split("-")[0]
    return code if code in dict(settings.LANGUAGES) else ""


def _launched_user(platform: Platform, data: dict[str, Any]) -> User:
    """The OpenRounds user of this platform user, made on the first launch.

    A new account is never linked to an existing one by e-mail: the platform vouches for
    its own users only. The registration's school (if set) gets them as a member, with
    the role their course gives them.
    """
    subject = str(data.get("sub") or "")
    if not subject:
        raise InvalidRequest(_("Anonymous launches are not supported."), code="anonymous_launch")
    identity = Identity.objects.select_related("user").filter(platform=platform, subject=subject).first()
    if identity is not None:
        Identity.objects.filter(pk=identity.pk).update(last_launch_at=timezone.now())
        if not identity.user.is_active:
            raise PermissionRefused(_("This OpenRounds account is disabled."), code="inactive_user")
        return identity.user
    digest = hashlib.sha256(f"{platform.pk}:{subject}".encode()).hexdigest()[:16]
    user = get_user_model()(
        username=f"lti-{platform.pk}-{digest}",
        email=str(data.get("email") or "")[:254],
        first_name=str(data.get("given_name") or "")[:150],
        last_name=str(data.get("family_name") or "")[:150],
        display_name=str(data.get("name") or "")[:120],
    )
    user.set_unusable_password()
    user.save()
    Identity.objects.create(platform=platform, subject=subject, user=user)
    if platform.institution_id:
        Membership.objects.get_or_create(
            user=user, institution_id=platform.institution_id,
            defaults={"role": _role_for(list(data.get(claims.ROLES) or []))},
        )
    logger.info("lti platform %s: new user %s", platform.pk, user.pk)
    return user


def lti_launch_accept(*, id_token: str, state: str, state_cookie: str) -> Launch:
    """Validate a launch and return who it is for. The state is used up, valid or not.

    `state_cookie` is the state the browser kept since login initiation: it proves the
    launch comes back to the browser that started it (no login CSRF).
    """
    if not state or not id_token:
        raise InvalidRequest(_("The launch is missing its token or state."), code="missing_parameters")
    if not secrets.compare_digest(state, state_cookie or ""):
        raise InvalidRequest(
            _("This launch did not start in this browser. Allow cookies for OpenRounds and try again."),
            code="state_mismatch",
        )
    with transaction.atomic():
        launch_state = LaunchState.objects.select_for_update().select_related("platform").filter(state=state).first()
        if launch_state is None or launch_state.used_at is not None:
            raise InvalidRequest(_("This launch was already used; open it again from your course."), code="state_used")
        launch_state.used_at = timezone.now()
        launch_state.save(update_fields=["used_at"])
    if launch_state.created_at < timezone.now() - STATE_LIFETIME:
        raise InvalidRequest(_("The launch has expired; open it again from your course."), code="state_expired")
    platform = launch_state.platform
    if not platform.is_active:
        raise PermissionRefused(_("This learning platform is no longer allowed to launch OpenRounds."), code="platform_inactive")
    data = _verified_claims(platform, id_token)
    if not secrets.compare_digest(str(data.get("nonce", "")), launch_state.nonce):
        raise InvalidRequest(_("The launch token does not match this login."), code="bad_nonce")
    if data.get(claims.VERSION) != claims.LTI_VERSION:
        raise InvalidRequest(_("Only LTI 1.3 launches are supported."), code="bad_version")
    message_type = data.get(claims.MESSAGE_TYPE)
    if message_type not in {claims.RESOURCE_LINK_REQUEST, claims.DEEP_LINKING_REQUEST}:
        raise InvalidRequest(_("This kind of LTI message is not supported."), code="bad_message_type")
    if message_type == claims.RESOURCE_LINK_REQUEST and not (data.get(claims.RESOURCE_LINK) or {}).get("id"):
        raise InvalidRequest(_("The launch does not name a resource link."), code="missing_resource_link")
    deployment_id = str(data.get(claims.DEPLOYMENT_ID) or "")
    if not Deployment.objects.filter(platform=platform, deployment_id=deployment_id).exists():
        raise PermissionRefused(_("This deployment of the tool is not registered."), code="unknown_deployment")
    user = _launched_user(platform, data)
    logger.info("lti launch %s accepted for platform %s user %s", message_type, platform.pk, user.pk)
    return Launch(platform=platform, user=user, message_type=message_type, deployment_id=deployment_id, claims=data)


def tool_key_current() -> ToolKey:
    """The newest active tool key, made (2048-bit RSA) the first time one is needed."""
    key = ToolKey.objects.filter(is_active=True).first()
    if key is not None:
        return key
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ToolKey.objects.create(kid=uuid.uuid4().hex, private_key_pem=pem)


@dataclass(frozen=True)
class DeepLinkContext:
    """What a deep-linking request asked for, kept in the session until the teacher picks."""

    platform_id: int
    deployment_id: str
    return_url: str
    data: str


def deep_link_context_of(launch: Launch) -> DeepLinkContext:
    """Refuse deep linking by anyone but a course's teachers; keep what the response needs."""
    if not launch.is_teacher:
        raise PermissionRefused(_("Only a course's teachers can choose what it embeds."), code="not_teacher")
    settings_claim = launch.claims.get(claims.DEEP_LINKING_SETTINGS) or {}
    return_url = str(settings_claim.get("deep_link_return_url") or "")
    if not return_url.startswith(("https://", "http://")):
        raise InvalidRequest(_("The platform did not say where to return the choice."), code="missing_return_url")
    if "ltiResourceLink" not in (settings_claim.get("accept_types") or ["ltiResourceLink"]):
        raise InvalidRequest(_("The platform does not accept links to OpenRounds here."), code="bad_accept_types")
    return DeepLinkContext(
        platform_id=launch.platform.pk, deployment_id=launch.deployment_id,
        return_url=return_url, data=str(settings_claim.get("data") or ""),
    )


def lti_deep_link_response(*, context: DeepLinkContext, title: str, path: str, launch_url: str) -> str:
    """A signed LtiDeepLinkingResponse that puts one OpenRounds link into the course.

    Precondition: `path` passed `selectors.launch_target_path`.
    """
    platform = Platform.objects.get(pk=context.platform_id)
    key = tool_key_current()
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": secrets.token_urlsafe(16),
        claims.DEPLOYMENT_ID: context.deployment_id,
        claims.MESSAGE_TYPE: claims.DEEP_LINKING_RESPONSE,
        claims.VERSION: claims.LTI_VERSION,
        claims.CONTENT_ITEMS: [
            {"type": "ltiResourceLink", "title": title[:200], "url": launch_url, "custom": {claims.CUSTOM_PATH: path}}
        ],
    }
    if context.data:
        payload[claims.DL_DATA] = context.data
    logger.info("lti deep link response for platform %s", platform.pk)
    return jwt.encode(payload, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})
