"""Suggestion review in the admin: the list, create / attach / ignore, and re-attribution."""

import re

from deployments.models import Deployment, Source
from services.models import Service, ServiceSuggestion, SuggestionStatus
from tests.admin_helpers import deliver, messages_of, run_action
from tests.factories import DeploymentFactory, ServiceSuggestionFactory, make_service

CHANGELIST = "/admin/services/servicesuggestion/"


def suggestion(org, key):
    return ServiceSuggestion.objects.get(organization=org, key=key)


def test_list_aggregates_deployments_and_orders_open_first(admin_client, api, org, key):
    for n in range(3):
        deliver(api, key, f"b-{n}", service="Billing-API")
    deliver(api, key, "s-1", service="search")
    deliver(api, key, "x-1", service="old-thing")
    DeploymentFactory(
        organization=org, source=Source.HIVEL, service_name="search", service_key="search"
    )
    ServiceSuggestion.objects.filter(key="old-thing").update(status=SuggestionStatus.IGNORED)

    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [s.key for s in rows] == ["billing-api", "search", "old-thing"]
    billing, search, _ = rows
    assert billing.deployment_count == 3 and search.deployment_count == 2
    assert billing.first_seen_at <= billing.last_seen_at
    html = response.content.decode()
    for header in [
        "Name as sent",
        "Organization",
        "Deployments",
        "First seen",
        "Last seen",
        "Formats seen",
        "Status",
    ]:
        assert header in html
    assert re.search(r"hivel, periscope|periscope, hivel", html)


def test_create_service_moves_every_stored_deployment(
    admin_client, api, org, key, other_org, other_key
):
    for n in range(3):
        deliver(api, key, f"b-{n}", service=" Billing-API ")
    deliver(api, other_key, "other-1", service="billing-api")

    response = run_action(
        admin_client, CHANGELIST, "create_services", [suggestion(org, "billing-api").pk]
    )

    assert "Created 1 service(s) (Billing-API); re-attributed 3 deployment(s)." in messages_of(
        response
    )
    service = Service.objects.get(organization=org)
    assert service.name == "Billing-API"
    assert Deployment.objects.filter(organization=org, service=service).count() == 3
    assert Deployment.objects.get(organization=other_org).service is None
    assert suggestion(org, "billing-api").status == SuggestionStatus.ACCEPTED
    assert suggestion(other_org, "billing-api").status == SuggestionStatus.OPEN
    assert deliver(api, key, "b-4", service="BILLING-api")["deploymentId"]
    assert Deployment.objects.get(external_id="b-4").service == service


def test_create_service_from_a_repository_url_names_the_repo(admin_client, api, org, key):
    deliver(api, key, "p-1", service="git@github.com:acme/payments.git")
    run_action(admin_client, CHANGELIST, "create_services", [suggestion(org, "acme/payments").pk])
    service = Service.objects.get(organization=org)
    assert (service.name, service.repository_url) == (
        "payments",
        "git@github.com:acme/payments.git",
    )
    deliver(api, key, "p-2", service="https://github.com/Acme/Payments")
    deliver(api, key, "p-3", service="payments")
    assert Deployment.objects.filter(service=service).count() == 3


def test_bulk_create_and_conflict_is_reported_not_a_500(admin_client, api, org, key):
    deliver(api, key, "a-1", service="alpha")
    deliver(api, key, "b-1", service="beta")
    make_service(org, "Gamma")
    ServiceSuggestionFactory(organization=org, name="gamma", key="gamma")
    pks = ServiceSuggestion.objects.filter(organization=org).values_list("pk", flat=True)

    response = run_action(admin_client, CHANGELIST, "create_services", pks)

    assert response.status_code == 200
    msgs = messages_of(response)
    assert "'gamma' already matches service Gamma" in msgs
    assert "Created 2 service(s) (alpha, beta); re-attributed 2 deployment(s)." in msgs


def test_attach_shows_an_intermediate_page_with_an_organization_autocomplete(
    admin_client, api, org, key, other_org
):
    deliver(api, key, "w-1", service="web")
    make_service(org, "Frontend")
    make_service(other_org, "Globex Frontend")
    pk = suggestion(org, "web").pk

    page = admin_client.post(CHANGELIST, {"action": "attach_to_service", "_selected_action": [pk]})

    assert page.status_code == 200
    html = page.content.decode()
    assert "Attach to an existing service" in html
    url = re.search(r'data-ajax--url="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert f"organization={org.pk}" in url
    # What select2 sends: the widget's URL plus its own parameters.
    query = "term=front&app_label=services&model_name=servicesuggestion&field_name=service"
    found = admin_client.get(f"{url}&{query}").json()
    assert [r["text"] for r in found["results"]] == ["Frontend"]


def test_attach_makes_an_alias_and_moves_deployments(admin_client, api, org, key):
    for n in range(2):
        deliver(api, key, f"w-{n}", service="Web")
    deliver(api, key, "w-x", service="web-app")
    frontend = make_service(org, "Frontend")
    pks = [suggestion(org, "web").pk, suggestion(org, "web-app").pk]

    response = run_action(
        admin_client, CHANGELIST, "attach_to_service", pks, apply="Attach", service=frontend.pk
    )

    assert "Attached 2 name(s) to Frontend; re-attributed 3 deployment(s)." in messages_of(response)
    assert Deployment.objects.filter(service=frontend).count() == 3
    assert set(frontend.aliases.values_list("key", flat=True)) >= {"web", "web-app", "frontend"}
    assert suggestion(org, "web").service == frontend


def test_attach_refuses_another_organizations_service(admin_client, api, org, key, other_org):
    deliver(api, key, "w-1", service="web")
    foreign = make_service(other_org, "Frontend")
    pk = suggestion(org, "web").pk
    response = run_action(
        admin_client, CHANGELIST, "attach_to_service", [pk], apply="Attach", service=foreign.pk
    )
    assert "Select a valid choice" in response.content.decode()
    assert Deployment.objects.get(external_id="w-1").service is None


def test_attach_needs_suggestions_of_one_organization(
    admin_client, api, key, other_key, org, other_org
):
    deliver(api, key, "w-1", service="web")
    deliver(api, other_key, "w-2", service="web")
    pks = ServiceSuggestion.objects.values_list("pk", flat=True)
    response = run_action(admin_client, CHANGELIST, "attach_to_service", pks)
    assert "Choose suggestions of one organization: a service belongs to one." in messages_of(
        response
    )


def test_ignore_keeps_storing_deployments_without_reopening(admin_client, api, org, key):
    deliver(api, key, "n-1", service="noise")
    run_action(admin_client, CHANGELIST, "ignore", [suggestion(org, "noise").pk])
    assert suggestion(org, "noise").status == SuggestionStatus.IGNORED
    deliver(api, key, "n-2", service="Noise")
    assert Deployment.objects.filter(service_key="noise").count() == 2
    assert suggestion(org, "noise").status == SuggestionStatus.IGNORED
    assert ServiceSuggestion.objects.filter(organization=org).count() == 1


def test_columns_sort_by_the_aggregates(admin_client, api, org, key):
    deliver(api, key, "a-1", service="alpha")
    for n in range(2):
        deliver(api, key, f"b-{n}", service="beta")
    by_count = admin_client.get(CHANGELIST, {"o": "3"})  # the deployments column, ascending
    assert [s.key for s in by_count.context["cl"].result_list] == ["alpha", "beta"]
    for column in ["4", "-5", "6", "7"]:
        assert admin_client.get(CHANGELIST, {"o": column}).status_code == 200


def test_create_refuses_a_name_another_service_has(admin_client, api, org, key):
    ledger = make_service(org, "Ledger", repository_url="acme/ledger-v1")
    deliver(api, key, "l-1", service="git@github.com:acme/ledger.git")
    response = run_action(
        admin_client, CHANGELIST, "create_services", [suggestion(org, "acme/ledger").pk]
    )
    assert (
        "Service Ledger already answers to 'ledger': attach 'git@github.com:acme/ledger.git' to it instead"
        in messages_of(response)
    )
    assert list(Service.objects.filter(organization=org)) == [ledger]
    assert suggestion(org, "acme/ledger").status == SuggestionStatus.OPEN


def change_url(suggestion_row) -> str:
    return f"{CHANGELIST}{suggestion_row.pk}/change/"


def test_the_suggestions_page_shows_what_accepting_moves_and_offers_its_actions(
    staff_client, api, org, key, other_org, other_key
):
    from tests.factories import IncidentFactory

    for n in range(2):
        deliver(api, key, f"w-{n}", service="Web")
    deliver(api, other_key, "o-1", service="web")
    IncidentFactory(organization=org, service_name="web")
    IncidentFactory(organization=other_org, service_name="web")
    row = suggestion(org, "web")

    page = staff_client.get(change_url(row))

    html = page.content.decode()
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "Accepting re-attributes 2 deployments and 1 incident stored under Web" in text
    assert "Create a service from this name" in html and "Attach as an alias of" in html
    assert "Dismiss" in html
    assert 'name="_save"' not in html  # no Save button that would do nothing

    response = staff_client.post(f"{CHANGELIST}{row.pk}/create-service/", follow=True)
    assert "Created service Web; re-attributed 2 deployment(s) and 1 incident(s)." in (
        messages_of(response)
    )
    service = Service.objects.get(organization=org)
    assert Deployment.objects.filter(service=service).count() == 2
    assert service.incidents.count() == 1
    assert suggestion(org, "web").status == SuggestionStatus.ACCEPTED
    assert Deployment.objects.get(organization=other_org).service is None


def test_attach_and_dismiss_from_the_suggestions_page(staff_client, api, org, key, other_org):
    deliver(api, key, "w-1", service="web-app")
    deliver(api, key, "x-1", service="cron")
    frontend = make_service(org, "Frontend")
    foreign = make_service(other_org, "Globex Frontend")
    row = suggestion(org, "web-app")

    refused = staff_client.post(
        f"{CHANGELIST}{row.pk}/attach/", {"service": foreign.pk}, follow=True
    )
    assert "Choose one of this organization's services." in messages_of(refused)
    assert suggestion(org, "web-app").status == SuggestionStatus.OPEN

    response = staff_client.post(
        f"{CHANGELIST}{row.pk}/attach/", {"service": frontend.pk}, follow=True
    )
    assert "Attached web-app to Frontend; re-attributed 1 deployment(s) and 0 incident(s)." in (
        messages_of(response)
    )
    assert Deployment.objects.get(external_id="w-1").service == frontend

    cron = suggestion(org, "cron")
    staff_client.post(f"{CHANGELIST}{cron.pk}/ignore/")
    assert suggestion(org, "cron").status == SuggestionStatus.IGNORED
    assert staff_client.get(f"{CHANGELIST}{cron.pk}/ignore/").status_code == 405


def test_another_organizations_suggestion_cannot_be_acted_on(
    staff_client, api, other_key, other_org
):
    deliver(api, other_key, "o-1", service="web")
    theirs = suggestion(other_org, "web")
    for action in ("create-service", "attach", "ignore"):
        response = staff_client.post(f"{CHANGELIST}{theirs.pk}/{action}/")
        assert response.status_code == 404, action
        assert response["Content-Type"].startswith("text/html")
    assert suggestion(other_org, "web").status == SuggestionStatus.OPEN
    assert not Service.objects.exists()
