"""Platforms (learning management systems) registered with the OpenRounds LTI tool.

A platform is identified by its issuer and the client id it gave us; it launches people
into OpenRounds with an id_token signed by a key from its JWKS. `LaunchState` keeps the
state and nonce of each OIDC login between the two legs of the flow so that a token
cannot be replayed, and `Identity` ties a platform's user (`sub`) to an OpenRounds user.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Platform(models.Model):
    """One registration of a learning platform (a Moodle site, a Canvas instance…)."""

    name = models.CharField(_("name"), max_length=120)
    issuer = models.CharField(_("issuer"), max_length=255, help_text=_("The platform's `iss`, e.g. https://moodle.example.edu"))
    client_id = models.CharField(_("client id"), max_length=255)
    auth_login_url = models.URLField(_("authentication request URL"), max_length=500)
    auth_token_url = models.URLField(_("access token URL"), max_length=500, blank=True)
    jwks_url = models.URLField(
        _("public keyset URL"), max_length=500, blank=True,
        help_text=_("Where the platform publishes its signing keys. Leave empty to paste the keys below."),
    )
    jwks = models.JSONField(
        _("public keyset"), default=dict, blank=True,
        help_text=_('A JSON Web Key Set {"keys": […]}, used instead of the URL when given.'),
    )
    institution = models.ForeignKey(
        "people.Institution", on_delete=models.SET_NULL, null=True, blank=True, related_name="lti_platforms",
        help_text=_("People launched from this platform become members of this school."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_one_registration_per_client")]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"


class Deployment(models.Model):
    """A deployment id of the tool on a platform; launches from other deployments are refused."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(_("deployment id"), max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "deployment_id"], name="lti_unique_deployment")]

    def __str__(self) -> str:
        return self.deployment_id


def new_state() -> str:
    return secrets.token_urlsafe(32)


class LaunchState(models.Model):
    """The state and nonce of one OIDC login, used once by the launch that follows it."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=64, unique=True, default=new_state)
    nonce = models.CharField(max_length=64, default=new_state)
    target_link_uri = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)


class Identity(models.Model):
    """A platform's user (`sub`) as an OpenRounds user."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_identities")
    created_at = models.DateTimeField(default=timezone.now)
    last_launch_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "subject"], name="lti_one_identity_per_subject")]


class ToolKey(models.Model):
    """The tool's own RSA key: signs deep-linking responses; its public half is at /lti/jwks/.

    Made on first use, so a fresh install needs no key file; rotate by adding a new row
    (the newest active key signs, every active key is published).
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
