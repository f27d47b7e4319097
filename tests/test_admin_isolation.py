"""Per-organization staff: a staff member of A gets no row, no choice and no object of B.

The matrix runs over every ModelAdmin registered for Periscope's apps, so an admin added
later is checked too (and must use the scoping mixin).
"""

from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from deployments.models import Deployment, EnvironmentAlias
from periscope.admin_scoping import OrganizationScopedAdmin, OrganizationScopedMixin
from periscope.keys import issue_api_key
from periscope.models import ApiKey, Membership
from periscope.secrets import hmac_sha256_hex, set_webhook_secret
from periscope.staff import make_organization_admin
from services.models import Service, ServiceSuggestion
from tests.admin_helpers import deliver, option_values, run_action
from tests.factories import make_service

GITHUB_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "github"

APPS = {"periscope", "services", "deployments", "metrics"}


def periscope_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in APPS
    ]


def organization_lookup(model) -> str:
    return admin.site._registry[model].organization_path()


def url(model, action: str, obj=None) -> str:
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    return base if obj is None else f"{base}{obj.pk}/{action}/"


@pytest.fixture
def two_catalogs(api, org, other_org, staff_user):
    """One of everything in both organizations; B's names all say 'globex'."""
    bob = get_user_model().objects.create_user(username="globex-bob", password="x")
    make_organization_admin(user=bob, organizations=[other_org])
    for organization in (org, other_org):
        slug = organization.slug
        plaintext = issue_api_key(organization=organization, name=f"{slug}-ci").plaintext
        set_webhook_secret(
            organization=organization, provider="github", secret=f"{slug}-secret-1234"
        )
        make_service(organization, f"{slug}-web", aliases=[f"{slug}-www"])
        EnvironmentAlias.objects.create(
            organization=organization, name=f"{slug}-env", environment="production"
        )
        deliver(api, plaintext, f"{slug}-deploy", service=f"{slug}-web")
        deliver(api, plaintext, f"{slug}-deploy", service=f"{slug}-web", status="failure")
        deliver(api, plaintext, f"{slug}-other", service=f"{slug}-unknown")
        incident = api.post(
            "/api/incidents",
            data={
                "id": f"{slug}-incident",
                "title": f"{slug} outage",
                "service": f"{slug}-web",
                "startedAt": "2024-01-15T10:40:00Z",
            },
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        )
        assert incident.status_code == 201, incident.content
        for event, name in [
            ("pull_request", "pull_request.closed.merged.real-capture.json"),
            ("push", "push.after-merge.real-capture.json"),
        ]:
            body = (GITHUB_FIXTURES / name).read_bytes()
            signature = hmac_sha256_hex(secret=f"{slug}-secret-1234", body=body)
            forge = api.post(
                f"/api/webhooks/github/{slug}",
                data=body,
                content_type="application/json",
                HTTP_X_GITHUB_EVENT=event,
                HTTP_X_GITHUB_DELIVERY=f"{slug}-{event}",
                HTTP_X_HUB_SIGNATURE_256=f"sha256={signature}",
            )
            assert forge.status_code in (200, 201, 202), forge.content
    return org, other_org


def test_every_periscope_admin_uses_the_scoping_mixin():
    assert periscope_admins()
    for model, model_admin in periscope_admins():
        assert isinstance(model_admin, OrganizationScopedAdmin), model
        assert model_admin.organization_path(), f"{model} needs organization_lookup"
        for inline in model_admin.inlines:
            assert issubclass(inline, OrganizationScopedMixin), inline
            assert inline(model, admin.site).organization_path(), inline


def test_matrix_every_list_and_object_url(two_catalogs, staff_client, admin_client):
    org, other_org = two_catalogs
    checked = set()
    for model, _ in periscope_admins():
        theirs = list(model.objects.filter(**{organization_lookup(model): other_org.pk}).distinct())
        ours = list(model.objects.filter(**{organization_lookup(model): org.pk}).distinct())
        if theirs:
            checked.add(model._meta.model_name)

        listing = staff_client.get(url(model, "list"))
        assert listing.status_code == 200, model
        text = listing.content.decode()
        assert "globex" not in text.lower(), model
        for obj in ours:
            assert url(model, "change", obj) in text, (model, obj)
        for obj in theirs:
            assert url(model, "change", obj) not in text, (model, obj)
            for action in ("change", "delete", "history"):
                response = staff_client.get(url(model, action, obj))
                assert response.status_code == 404, (model, action, obj)
                # The admin's own page (a person is reading it), not the API's JSON.
                assert response["Content-Type"].startswith("text/html"), (model, action)
                assert "<title>Not found | Periscope admin</title>" in response.text, model
        for obj in ours:
            assert staff_client.get(url(model, "change", obj)).status_code == 200, (model, obj)

        # The superuser sees both organizations (so this test can see a leak if there were one).
        everything = admin_client.get(url(model, "list")).content.decode()
        for obj in theirs:
            assert url(model, "change", obj) in everything, (model, obj)
    assert checked >= {
        "organization",
        "membership",
        "apikey",
        "webhooksecret",
        "service",
        "servicealias",
        "servicesuggestion",
        "deployment",
        "delivery",
        "environmentalias",
        "incident",
        "incidentdelivery",
        "repository",
        "commit",
        "pullrequest",
        "forgedelivery",
    } - {"servicealias"}  # aliases have no admin of their own: they are an inline


def test_matrix_every_form_offers_only_own_choices(two_catalogs, staff_client):
    org, other_org = two_catalogs
    for model, _ in periscope_admins():
        request_url = f"{url(model, 'list')}add/"
        response = staff_client.get(request_url)
        if response.status_code == 403:
            continue  # staff may not add these (organizations, deployments, deliveries)
        assert response.status_code == 200, model
        text = response.content.decode()
        assert "globex" not in text.lower(), model
        if (
            "organization" in {f.name for f in model._meta.fields}
            and '<select name="organization"' in text
        ):
            # Autocompletes render no options (see the autocomplete test); selects only A.
            assert option_values(text, "organization") <= {str(org.pk)}, model

    mine = Deployment.objects.get(external_id="acme-deploy")
    page = staff_client.get(url(Deployment, "change", mine)).content.decode()
    assert "globex" not in page.lower()


def test_matrix_every_autocomplete(two_catalogs, staff_client):
    org, other_org = two_catalogs
    sources = [
        ("deployments", "deployment", "service", ""),
        ("periscope", "membership", "organization", ""),
        ("services", "servicesuggestion", "service", ""),
    ]
    for app_label, model_name, field_name, term in sources:
        found = staff_client.get(
            "/admin/autocomplete/",
            {
                "app_label": app_label,
                "model_name": model_name,
                "field_name": field_name,
                "term": term,
            },
        ).json()
        texts = [r["text"] for r in found["results"]]
        assert texts and not any("globex" in t for t in texts), (model_name, texts)
    attach = "/admin/services/servicesuggestion/service-autocomplete/"
    query = "app_label=services&model_name=servicesuggestion&field_name=service&term="
    theirs = staff_client.get(f"{attach}?organization={other_org.pk}&{query}").json()
    assert theirs["results"] == []
    ours = staff_client.get(f"{attach}?organization={org.pk}&{query}").json()
    assert [r["text"] for r in ours["results"]] == ["acme-web"]


def test_matrix_every_action_ignores_another_organizations_rows(two_catalogs, staff_client):
    org, other_org = two_catalogs
    their_key = ApiKey.objects.get(organization=other_org)
    their_service = Service.objects.get(organization=other_org)
    their_suggestion = ServiceSuggestion.objects.get(organization=other_org)

    run_action(staff_client, "/admin/periscope/apikey/", "revoke_keys", [their_key.pk])
    run_action(
        staff_client,
        "/admin/periscope/apikey/",
        "rotate_keys",
        [their_key.pk],
        apply="1",
        grace_hours="1",
    )
    run_action(
        staff_client, "/admin/services/service/", "delete_selected", [their_service.pk], post="yes"
    )
    suggestions = "/admin/services/servicesuggestion/"
    run_action(staff_client, suggestions, "create_services", [their_suggestion.pk])
    run_action(staff_client, suggestions, "ignore", [their_suggestion.pk])
    run_action(
        staff_client,
        suggestions,
        "attach_to_service",
        [their_suggestion.pk],
        apply="1",
        service=their_service.pk,
    )

    their_key.refresh_from_db()
    their_suggestion.refresh_from_db()
    assert their_key.revoked_at is None and their_key.expires_at is None
    assert ApiKey.objects.filter(organization=other_org).count() == 1
    assert Service.objects.filter(organization=other_org).count() == 1
    assert (their_suggestion.status, their_suggestion.service) == ("open", None)


def test_posted_foreign_choices_are_refused(two_catalogs, staff_client):
    org, other_org = two_catalogs
    response = staff_client.post(
        "/admin/periscope/apikey/add/",
        {"organization": other_org.pk, "name": "sneaky", "scopes": ["ingest"]},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.filter(name="sneaky").exists()

    bob = get_user_model().objects.get(username="globex-bob")
    response = staff_client.post(
        "/admin/periscope/membership/add/", {"user": bob.pk, "organization": org.pk}
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Membership.objects.filter(user=bob, organization=org).exists()

    mine = Deployment.objects.get(external_id="acme-deploy")
    their_service = Service.objects.get(organization=other_org)
    response = staff_client.post(
        url(Deployment, "change", mine),
        {"service": their_service.pk, "environment": "production", "status": "success"},
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.service.organization_id == org.pk


def test_a_superuser_cannot_link_across_organizations_either(two_catalogs, admin_client):
    org, other_org = two_catalogs
    mine = Deployment.objects.get(external_id="acme-deploy")
    their_service = Service.objects.get(organization=other_org)
    response = admin_client.post(
        url(Deployment, "change", mine),
        {"service": their_service.pk, "environment": "production", "status": "success"},
    )
    assert f"Choose one that belongs to {org}." in response.content.decode()


def test_staff_without_membership_sees_nothing_and_cannot_add(two_catalogs, django_user_model):
    loner = django_user_model.objects.create_user(username="loner", password="x")
    make_organization_admin(user=loner, organizations=[])
    client = Client()
    client.force_login(loner)
    assert client.get("/admin/services/service/").context["cl"].result_count == 0
    assert client.get("/admin/periscope/apikey/add/").status_code == 403


def test_users_and_groups_are_for_superusers_only(two_catalogs, staff_client, admin_client):
    for path in ("/admin/auth/user/", "/admin/auth/group/"):
        assert staff_client.get(path).status_code == 403
        assert admin_client.get(path).status_code == 200


def test_the_index_lists_only_what_staff_may_use(two_catalogs, staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert "/admin/services/servicesuggestion/" in html and "/admin/periscope/apikey/" in html
    assert "/admin/auth/user/" not in html and "globex" not in html.lower()


def rows_of(model, organization):
    """The rows of any model that belong to one organization (users: through memberships)."""
    if model is get_user_model():
        return model.objects.filter(memberships__organization=organization).distinct()
    if model in admin.site._registry and hasattr(admin.site._registry[model], "organization_path"):
        lookup = organization_lookup(model)
    elif "organization" in {f.name for f in model._meta.fields}:
        lookup = "organization"
    else:
        return model.objects.none()  # unowned (groups, permissions): nothing to leak
    return model.objects.filter(**{lookup: organization.pk}).distinct()


def test_matrix_every_widget_given_another_organizations_id_in_the_query(
    two_catalogs, staff_client
):
    """`add/?field=<id>` renders the id's label in raw-id, select and autocomplete widgets.

    For every add form and every relation on it, give the id of each of B's related rows:
    no label, link or option of B may appear (saving would be refused, but the page leaks).
    """
    org, other_org = two_catalogs
    tried = set()
    for model, _ in periscope_admins():
        add_url = f"{url(model, 'list')}add/"
        if staff_client.get(add_url).status_code == 403:
            continue
        for field in model._meta.get_fields():
            if not (field.is_relation and (field.many_to_one or field.many_to_many)):
                continue
            if not field.concrete or not field.editable:
                continue
            related = field.related_model
            for theirs in rows_of(related, other_org):
                page = staff_client.get(add_url, {field.name: theirs.pk})
                assert page.status_code == 200, (model, field.name)
                text = page.content.decode()
                assert "globex" not in text.lower(), (model, field.name, theirs)
                assert url(related, "change", theirs) not in text, (model, field.name, theirs)
                assert f'value="{theirs.pk}" selected' not in text, (model, field.name, theirs)
                tried.add((model._meta.model_name, field.name))
    # The incident form's raw-id fields were the leak of issue 15; the others are selects and
    # autocompletes that must stay scoped too.
    assert {("incident", "deployment"), ("incident", "service"), ("apikey", "organization")} <= (
        tried
    ), tried
