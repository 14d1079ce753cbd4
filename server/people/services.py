"""Writes about people, schools and partnerships, each with its permission check.

Views call these and only translate their errors; tests call them directly.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import InvalidRequest, PermissionRefused
from .models import Institution, Invitation, Membership, Partnership, PartnershipStatus, PersonalAccessToken, Role, User
from .selectors import user_can_manage_institution

logger = logging.getLogger(__name__)


def _require_manager(user: User, institution: Institution) -> None:
    if not user_can_manage_institution(user=user, institution=institution):
        raise PermissionRefused(
            _("Only a coordinator of %(school)s can do this.") % {"school": institution.name},
            code="not_coordinator",
        )


def invitation_create(
    *, by: User, institution: Institution, email: str, role: str, base_url: str = ""
) -> Invitation:
    """A coordinator invites someone by e-mail to join their school with a role."""
    _require_manager(by, institution)
    if role not in Role.values:
        raise InvalidRequest(_("Unknown role."), code="bad_role")
    invitation = Invitation.objects.create(
        institution=institution, email=email.strip().lower(), role=role, invited_by=by
    )
    link = base_url + reverse("invitation-accept", args=[invitation.token])

    def send() -> None:
        send_mail(
            subject=_("You are invited to join %(school)s on OpenRounds") % {"school": institution.name},
            message=_(
                "%(who)s invites you to join %(school)s on OpenRounds as %(role)s.\n\n"
                "Open this link to accept (valid for 14 days):\n%(link)s\n"
            )
            % {"who": by.name, "school": institution.name, "role": invitation.get_role_display(), "link": link},
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[invitation.email],
        )

    transaction.on_commit(send)
    logger.info("invitation %s created for institution %s", invitation.pk, institution.pk)
    return invitation


def invitation_accept(*, user: User, token: str) -> Membership:
    """The invited person accepts; they become a member with the invited role."""
    invitation = Invitation.objects.select_related("institution").filter(token=token).first()
    if invitation is None or not invitation.is_open:
        raise InvalidRequest(_("This invitation is not valid any more."), code="invitation_closed")
    if user.email.lower() != invitation.email:
        raise PermissionRefused(
            _("This invitation was sent to another e-mail address."), code="invitation_other_email"
        )
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            user=user, institution=invitation.institution, defaults={"role": invitation.role}
        )
        if not created:
            membership.role = invitation.role
            membership.is_active = True
            membership.save(update_fields=["role", "is_active"])
        invitation.accepted_by = user
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at"])
    return membership


def invitation_revoke(*, by: User, invitation: Invitation) -> None:
    _require_manager(by, invitation.institution)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


def _keep_a_coordinator(*, by: User, membership: Membership) -> None:
    """Refuse a coordinator's change to their own membership that would leave the school
    with no active coordinator (nobody could manage it any more)."""
    if membership.user_id == by.pk and membership.role == Role.COORDINATOR:
        others = Membership.objects.filter(
            institution=membership.institution, role=Role.COORDINATOR, is_active=True
        ).exclude(pk=membership.pk)
        if not others.exists():
            raise InvalidRequest(_("A school needs at least one coordinator."), code="last_coordinator")


def membership_set_role(*, by: User, membership: Membership, role: str) -> Membership:
    _require_manager(by, membership.institution)
    if role not in Role.values:
        raise InvalidRequest(_("Unknown role."), code="bad_role")
    if role != Role.COORDINATOR:
        _keep_a_coordinator(by=by, membership=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def membership_deactivate(*, by: User, membership: Membership) -> None:
    _require_manager(by, membership.institution)
    _keep_a_coordinator(by=by, membership=membership)
    membership.is_active = False
    membership.save(update_fields=["is_active"])


def _ordered(a: Institution, b: Institution) -> tuple[Institution, Institution]:
    return (a, b) if a.pk < b.pk else (b, a)


def partnership_propose(*, by: User, institution: Institution, partner: Institution, note: str = "") -> Partnership:
    """A coordinator of `institution` proposes a partnership with `partner`."""
    _require_manager(by, institution)
    if institution.pk == partner.pk:
        raise InvalidRequest(_("A school cannot partner with itself."), code="self_partnership")
    first, second = _ordered(institution, partner)
    try:
        with transaction.atomic():
            return Partnership.objects.create(first=first, second=second, proposed_by=institution, note=note)
    except IntegrityError:
        raise InvalidRequest(
            _("These schools already have an open partnership or proposal."), code="partnership_exists"
        ) from None


def partnership_accept(*, by: User, partnership: Partnership) -> Partnership:
    """The OTHER school's coordinator accepts a proposal; only then does it grant access."""
    other = partnership.other(partnership.proposed_by)
    _require_manager(by, other)
    if partnership.status != PartnershipStatus.PROPOSED:
        raise InvalidRequest(_("Only a proposed partnership can be accepted."), code="bad_state")
    partnership.status = PartnershipStatus.ACTIVE
    partnership.activated_at = timezone.now()
    partnership.save(update_fields=["status", "activated_at"])
    return partnership


def partnership_decline(*, by: User, partnership: Partnership) -> Partnership:
    other = partnership.other(partnership.proposed_by)
    _require_manager(by, other)
    if partnership.status != PartnershipStatus.PROPOSED:
        raise InvalidRequest(_("Only a proposed partnership can be declined."), code="bad_state")
    partnership.status = PartnershipStatus.DECLINED
    partnership.ended_at = timezone.now()
    partnership.save(update_fields=["status", "ended_at"])
    return partnership


def partnership_end(*, by: User, partnership: Partnership) -> Partnership:
    """Either side ends an active partnership; shared access stops at once."""
    if not (
        user_can_manage_institution(user=by, institution=partnership.first)
        or user_can_manage_institution(user=by, institution=partnership.second)
    ):
        raise PermissionRefused(_("Only a coordinator of one of the two schools can end this."), code="not_coordinator")
    if partnership.status != PartnershipStatus.ACTIVE:
        raise InvalidRequest(_("Only an active partnership can be ended."), code="bad_state")
    partnership.status = PartnershipStatus.ENDED
    partnership.ended_at = timezone.now()
    partnership.save(update_fields=["status", "ended_at"])
    return partnership


def user_update_profile(*, user: User, **fields: object) -> User:
    allowed = {"display_name", "first_name", "last_name", "time_zone", "languages", "preferred_language", "data_saver", "bio"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidRequest(f"Unknown profile fields: {', '.join(sorted(unknown))}", code="bad_field")
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password", "username", "email"])
    user.save(update_fields=list(fields))
    return user


def access_token_create(*, user: User, name: str) -> tuple[PersonalAccessToken, str]:
    """Create a personal API token. Returns the row and the secret, shown only once."""
    secret = "orp_" + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        user=user, name=name[:80], prefix=secret[:12], digest=PersonalAccessToken.digest_of(secret)
    )
    return token, secret


def access_token_revoke(*, user: User, token: PersonalAccessToken) -> None:
    if token.user_id != user.pk:
        raise PermissionRefused(_("This is not your token."))
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


def access_token_authenticate(*, secret: str) -> User | None:
    """The user a token secret belongs to, or None for unknown or revoked tokens."""
    if not secret.startswith("orp_"):
        return None
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(digest=PersonalAccessToken.digest_of(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
