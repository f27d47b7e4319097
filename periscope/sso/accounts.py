"""Which account a provider's subject signs in as, and what its claims grant.

Every sign-in brings the account in line with the provider: its memberships become exactly
the organizations its claim maps to (a person removed from a group at the provider loses the
organization at the next sign-in), and superuser status follows the configured claim value,
if one is configured; otherwise a claim never touches it.
"""

import hashlib
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone

from periscope.models import Membership, Organization, SsoIdentity
from periscope.staff import ensure_admin_group

logger = logging.getLogger(__name__)


@dataclass
class NoOrganization(Exception):
    """The claim names no organization this Periscope knows: nothing to show in the admin."""

    claim: str
    values: list[str]


def printable(value, *, limit: int) -> str:
    """A claim's text as the database and a UTF-8 page can hold it: JSON may carry NULs and
    lone surrogates (escaped), which PostgreSQL and the encoder refuse."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch != "\x00" and not "\ud800" <= ch <= "\udfff")[:limit]


def claim_values(*, claims: dict, claim: str) -> list[str]:
    """The claim's values as strings: a list, or one string.

    A literal key wins (Auth0's claims are URLs, with dots); otherwise a dotted path reaches
    into nested objects (Keycloak's `realm_access.roles`).
    """
    value = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [printable(item, limit=1000) for item in items if isinstance(item, str)]


def mapped_organizations(*, values: list[str], mapping: dict[str, list[str]]) -> list[Organization]:
    slugs = {slug for value in values for slug in mapping.get(value, [])}
    organizations = list(Organization.objects.filter(slug__in=slugs))
    missing = slugs - {organization.slug for organization in organizations}
    if missing:
        logger.warning("single sign-on maps to unknown organizations: %s", sorted(missing))
    return organizations


def _free_username(*, claims: dict, issuer: str, subject: str) -> str:
    User = get_user_model()
    wanted = (
        printable(claims.get("preferred_username"), limit=150)
        or printable(claims.get("email"), limit=150)
        or subject[:150]
    )
    if not User.objects.filter(username=wanted).exists():
        return wanted
    # Someone else holds the name (a password account, or another provider's person):
    # never take it over; a suffix from the identity keeps the new name stable.
    suffix = hashlib.sha256(f"{issuer} {subject}".encode()).hexdigest()[:8]
    return f"{wanted[:141]}-{suffix}"


def _refresh_profile(*, user, claims: dict) -> None:
    user.email = printable(claims.get("email"), limit=254)
    user.first_name = printable(claims.get("given_name"), limit=150)
    user.last_name = printable(claims.get("family_name"), limit=150)


def sign_in_from_claims(
    *,
    issuer: str,
    claims: dict,
    claim: str,
    mapping: dict[str, list[str]],
    superuser_value: str = "",
):
    """The user the verified `claims` sign in as, created on the first sign-in, with its
    memberships and staff status brought in line with the claim.

    Raises NoOrganization (after removing any memberships an earlier sign-in gave) when the
    claim maps to no organization and the user is no superuser.
    """
    subject = claims.get("sub")
    # The subject is the account's key: refused rather than altered to fit.
    if not subject or not isinstance(subject, str) or printable(subject, limit=255) != subject:
        raise SuspiciousOperation("no usable subject in the claims")
    values = claim_values(claims=claims, claim=claim)
    user = _apply_claims(
        issuer=issuer,
        subject=subject,
        claims=claims,
        values=values,
        mapping=mapping,
        superuser_value=superuser_value,
    )
    if user is None:
        # Raised after the commit, so the memberships taken away stay taken away.
        raise NoOrganization(claim=claim, values=values)
    return user


@transaction.atomic
def _apply_claims(
    *,
    issuer: str,
    subject: str,
    claims: dict,
    values: list[str],
    mapping: dict[str, list[str]],
    superuser_value: str,
):
    """The signed-in user, or None (the account, if any, left with no organization)."""
    organizations = mapped_organizations(values=values, mapping=mapping)

    identity = (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    user = identity.user if identity else None
    superuser = user.is_superuser if user else False
    if superuser_value:
        superuser = superuser_value in values

    if not organizations and not superuser:
        if user is not None:
            Membership.objects.filter(user=user).delete()
            user.is_staff = False
            if superuser_value:
                user.is_superuser = False
            user.save(update_fields=["is_staff", "is_superuser"])
        return None

    if user is None:
        User = get_user_model()
        user = User(username=_free_username(claims=claims, issuer=issuer, subject=subject))
        user.set_unusable_password()
        user.save()
        identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    _refresh_profile(user=user, claims=claims)
    user.is_staff = True
    user.is_superuser = superuser
    user.save()

    Membership.objects.filter(user=user).exclude(organization__in=organizations).delete()
    for organization in organizations:
        Membership.objects.get_or_create(user=user, organization=organization)
    if organizations:
        user.groups.add(ensure_admin_group())
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["last_sign_in_at"])
    return user
