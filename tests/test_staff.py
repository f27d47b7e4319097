"""Organization admins: the command, the group's permissions, and what staff may not do."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from periscope.models import Membership
from periscope.staff import ADMIN_GROUP


def test_command_makes_a_user_an_admin_of_organizations(org, other_org):
    user = get_user_model().objects.create_user(username="carol", password="x")
    call_command("add_organization_admin", "carol", "acme", "globex")
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser
    assert set(
        Membership.objects.filter(user=user).values_list("organization__slug", flat=True)
    ) == {
        "acme",
        "globex",
    }
    assert user.groups.filter(name=ADMIN_GROUP).exists()
    assert user.has_perm("services.change_service") and user.has_perm("periscope.add_apikey")
    assert user.has_perm("deployments.view_delivery")
    for withheld in [
        "periscope.add_organization",
        "periscope.delete_apikey",
        "deployments.change_delivery",
    ]:
        assert not user.has_perm(withheld)


def test_command_refuses_unknown_users_and_organizations(org):
    get_user_model().objects.create_user(username="carol", password="x")
    with pytest.raises(CommandError, match="No user 'dave'"):
        call_command("add_organization_admin", "dave", "acme")
    with pytest.raises(CommandError, match="No organization nope"):
        call_command("add_organization_admin", "carol", "acme", "nope")
    assert not Membership.objects.exists()


def test_staff_cannot_create_or_delete_organizations(staff_client, org):
    assert staff_client.get("/admin/periscope/organization/add/").status_code == 403
    assert staff_client.get(f"/admin/periscope/organization/{org.pk}/delete/").status_code == 403
    assert staff_client.get(f"/admin/periscope/organization/{org.pk}/change/").status_code == 200
