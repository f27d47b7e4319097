"""Organization admins: staff users who manage their organizations' catalog in the admin.

A member needs three things: `is_staff`, a `Membership` per organization, and model
permissions. The permissions come from the group "Periscope admins", which this module
creates and refreshes (so models added later are included the next time it runs).
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from periscope.models import Membership, Organization

ADMIN_GROUP = "Periscope admins"
ADMIN_APPS = ("periscope", "services", "deployments", "metrics")
# Creating and deleting organizations, deleting keys (revoke them) and editing the
# delivery log stay with superusers.
WITHHELD = {
    "periscope.add_organization",
    "periscope.delete_organization",
    "periscope.delete_apikey",
    "deployments.add_delivery",
    "deployments.change_delivery",
    "deployments.delete_delivery",
    "deployments.add_incidentdelivery",
    "deployments.change_incidentdelivery",
    "deployments.delete_incidentdelivery",
    "deployments.add_deployment",
}


@transaction.atomic
def ensure_admin_group() -> Group:
    group, _ = Group.objects.get_or_create(name=ADMIN_GROUP)
    permissions = [
        p
        for p in Permission.objects.filter(content_type__app_label__in=ADMIN_APPS).select_related(
            "content_type"
        )
        if f"{p.content_type.app_label}.{p.codename}" not in WITHHELD
    ]
    group.permissions.set(permissions)
    return group


@transaction.atomic
def make_organization_admin(*, user, organizations: list[Organization]) -> None:
    """Make `user` staff, a member of `organizations`, and a member of the admin group."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    for organization in organizations:
        Membership.objects.get_or_create(user=user, organization=organization)
    user.groups.add(ensure_admin_group())
