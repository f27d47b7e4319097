"""Services and aliases in the admin: normalization, clear form errors, re-attribution, delete."""

from unittest import mock

import pytest

from deployments.models import Deployment
from services.catalog import owner_of_key
from services.models import Service, ServiceAlias, ServiceSuggestion, SuggestionStatus
from tests.admin_helpers import deliver, messages_of, run_action
from tests.factories import make_service

CHANGELIST = "/admin/services/service/"


def service_form(service: Service, *aliases: str, **changes) -> dict:
    """The POST data of a service's change form, adding `aliases` as new inline rows."""
    data = {
        "organization": service.organization_id,
        "name": service.name,
        "slug": service.slug,
        "team": service.team,
        "repository_url": service.repository_url,
        "description": service.description,
        "aliases-TOTAL_FORMS": str(len(aliases)),
        "aliases-INITIAL_FORMS": "0",
        "aliases-MIN_NUM_FORMS": "0",
        "aliases-MAX_NUM_FORMS": "1000",
        **changes,
    }
    for n, name in enumerate(aliases):
        data[f"aliases-{n}-name"] = name
        data[f"aliases-{n}-service"] = str(service.pk)
    return data


def change_url(service: Service) -> str:
    return f"{CHANGELIST}{service.pk}/change/"


def test_adding_an_alias_by_hand_reattributes_past_deployments(admin_client, api, org, key):
    for n in range(2):
        deliver(api, key, f"l-{n}", service="legacy-web")
    deliver(api, key, "o-1", service="other")
    web = make_service(org, "Web")

    response = admin_client.post(change_url(web), service_form(web, "Legacy-Web "), follow=True)

    assert response.status_code == 200
    assert "Re-attributed 2 past deployment(s) to Web." in messages_of(response)
    assert Deployment.objects.filter(service=web).count() == 2
    alias = ServiceAlias.objects.get(service=web, kind="alias")
    assert (alias.name, alias.key, alias.organization_id) == ("Legacy-Web", "legacy-web", org.pk)
    assert ServiceSuggestion.objects.get(key="legacy-web").status == SuggestionStatus.ACCEPTED


@pytest.mark.parametrize(
    "taken, attempt",
    [
        ("https://github.com/acme/api.git", "git@github.com:Acme/API.git"),
        ("git@github.com:acme/api.git", "acme/api"),
        ("acme/api", "https://gitlab.example.com/acme/api/"),
        ("payments", "  PAYMENTS "),
    ],
)
def test_an_alias_is_unique_per_organization_after_normalization(admin_client, org, taken, attempt):
    make_service(org, "Owner", aliases=[taken])
    web = make_service(org, "Web")

    response = admin_client.post(change_url(web), service_form(web, attempt))

    assert response.status_code == 200  # the form again, not a 500
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert "already matches service Owner" in str(errors)
    assert not ServiceAlias.objects.filter(service=web, kind="alias").exists()


def test_the_same_alias_in_another_organization_is_fine(admin_client, org, other_org):
    make_service(other_org, "Theirs", aliases=["acme/api"])
    web = make_service(org, "Web")
    response = admin_client.post(
        change_url(web), service_form(web, "https://github.com/acme/api"), follow=True
    )
    assert "Re-attributed 0 past deployment(s) to Web." in messages_of(response)
    assert ServiceAlias.objects.get(service=web, kind="alias").key == "acme/api"


def test_two_rows_with_one_key_and_the_own_name_are_form_errors(admin_client, org):
    web = make_service(org, "Web", repository_url="https://github.com/acme/web")
    response = admin_client.post(change_url(web), service_form(web, "x", "X ", "WEB", "Acme/Web"))
    assert response.status_code == 200
    errors = str(response.context["inline_admin_formsets"][0].formset.errors)
    assert "are the same alias (x)" in errors
    assert "“web” is already this service's name or repository" in errors
    assert "“acme/web” is already this service's name or repository" in errors


def test_a_service_name_or_repository_another_service_answers_to_is_refused(admin_client, org):
    make_service(org, "Owner", aliases=["api", "acme/api"])
    response = admin_client.post(
        f"{CHANGELIST}add/",
        service_form(
            Service(organization=org, slug="api"),
            name="API",
            repository_url="git@github.com:acme/api",
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "already matches service Owner" in str(errors["name"])
    assert "already matches service Owner" in str(errors["repository_url"])
    assert Service.objects.count() == 1


def test_service_list_and_page_show_aliases(admin_client, org):
    web = make_service(org, "Web", repository_url="git@github.com:acme/web.git", aliases=["www"])
    html = admin_client.get(CHANGELIST).content.decode()
    assert "www" in html
    page = admin_client.get(change_url(web)).content.decode()
    assert "<code>acme/web</code> (Repository)" in page and "<code>www</code> (Alias)" in page


def test_deleting_a_service_keeps_its_deployments_and_reopens_suggestions(
    admin_client, api, org, key
):
    deliver(api, key, "w-1", service="legacy-web")
    deliver(api, key, "w-2", service="web")  # matched by name at ingest: never had a suggestion
    web = make_service(org, "Web", aliases=["legacy-web"])
    deliver(api, key, "w-3", service="web")
    assert Deployment.objects.filter(service=web).count() == 3

    response = admin_client.post(
        f"{change_url(web)}".replace("change", "delete"), {"post": "yes"}, follow=True
    )

    assert (
        "3 deployment(s) of Web returned to unmatched; their suggestions reopened."
        in messages_of(response)
    )
    assert Deployment.objects.filter(organization=org, service__isnull=True).count() == 3
    open_keys = set(
        ServiceSuggestion.objects.filter(status=SuggestionStatus.OPEN, service=None).values_list(
            "key", flat=True
        )
    )
    assert open_keys == {"legacy-web", "web"}


def test_bulk_delete_also_keeps_deployments(admin_client, api, org, key):
    a, b = make_service(org, "A"), make_service(org, "B")
    deliver(api, key, "a-1", service="a")
    deliver(api, key, "b-1", service="b")
    response = run_action(admin_client, CHANGELIST, "delete_selected", [a.pk, b.pk], post="yes")
    assert "2 deployment(s) returned to unmatched; their suggestions reopened." in messages_of(
        response
    )
    assert not Service.objects.exists()
    assert Deployment.objects.filter(service__isnull=True).count() == 2
    assert ServiceSuggestion.objects.filter(status=SuggestionStatus.OPEN).count() == 2


def test_list_counts_each_services_deployments(admin_client, api, org, key, other_org, other_key):
    for name in ("Web", "Api", "Idle"):
        make_service(org, name)
    make_service(other_org, "Web")
    for n in range(3):
        deliver(api, key, f"w-{n}", service="Web")
    deliver(api, key, "a-1", service="Api")
    deliver(api, key, "a-1", service="Api", status="rolled_back")  # a repeat: one deployment
    deliver(api, other_key, "w-x", service="Web")

    listing = admin_client.get(CHANGELIST)

    counts = {
        (s.organization_id, s.name): s._deployments for s in listing.context["cl"].result_list
    }
    assert counts == {
        (org.pk, "Web"): 3,
        (org.pk, "Api"): 1,
        (org.pk, "Idle"): 0,
        (other_org.pk, "Web"): 1,
    }


def test_an_alias_another_admin_saved_meanwhile_is_a_form_error_not_a_500(admin_client, org):
    """Two admins add the same alias at once: both forms validate before either commits, and
    the second insert hits the unique constraint (was a 500)."""
    make_service(org, "Owner", aliases=["payments"])
    web = make_service(org, "Web")
    checked: list[str] = []

    def before_the_other_commit(*, organization_id, key):
        checked.append(key)
        if key == "payments" and checked.count(key) == 1:
            return None  # this form's validation ran before the other admin's commit
        return owner_of_key(organization_id=organization_id, key=key)

    with mock.patch("services.admin.owner_of_key", side_effect=before_the_other_commit):
        response = admin_client.post(change_url(web), service_form(web, "Payments"))

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert "“payments” already matches service Owner (as “payments”)." in str(errors)
    assert checked.count("payments") == 2
    assert ServiceAlias.objects.get(key="payments").service.name == "Owner"
    assert not ServiceAlias.objects.filter(service=web, kind="alias").exists()
