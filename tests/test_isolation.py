"""Isolation matrix: a key of organization A can neither read, count, filter on, link to, nor
change anything of organization B, through any endpoint and method.

Endpoints are enumerated from the URLconf and the OpenAPI schema: an endpoint or method
without a check here fails `test_every_endpoint_and_method_is_covered`. Both organizations
hold data in every organization-scoped model (`test_both_organizations_have_data_in_every_model`
fails when a new model has none). The admin side is tests/test_admin_isolation.py.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver

from deployments.models import (
    Deployment,
    DeploymentCommit,
    Incident,
    PullRequest,
)
from periscope.secrets import set_webhook_secret
from periscope.staff import make_organization_admin
from services.models import Service, ServiceSuggestion
from tests.factories import EnvironmentAliasFactory, make_key, make_service
from tests.payloads.github import deployment_status_of_merge
from tests.payloads.github import fixture as github_fixture
from tests.payloads.gitlab import fixture as gitlab_fixture
from tests.webhooks import post_webhook

PR_LIFE = [
    ("pull_request", "pull_request.opened.real-capture.json"),
    ("pull_request", "pull_request.closed.merged.real-capture.json"),
    ("push", "push.after-merge.real-capture.json"),
]

APPS = ("periscope", "services", "deployments", "metrics")
# Models that hold no organization data an API could expose.
NOT_ORGANIZATION_DATA = {"ratelimitcounter", "ssoidentity"}  # a sign-in's (issuer, subject)
# Models reached through a parent.
LOOKUPS = {"commitparent": "repository__organization"}
NOW = datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post(api, path: str, body, **headers):
    return api.post(path, json.dumps(body), content_type="application/json", **headers)


class Org:
    """One organization's key, names and ids, every name carrying the slug."""

    def __init__(self, organization, api):
        self.organization = organization
        self.slug = slug = organization.slug
        self.key = make_key(organization)
        self.bearer = {"HTTP_AUTHORIZATION": f"Bearer {self.key}"}
        self.pagerduty_secret = f"{slug}-pd-secret"
        set_webhook_secret(
            organization=organization, provider="pagerduty", secret=self.pagerduty_secret
        )
        self.github_secret, self.gitlab_secret = f"{slug}-gh-secret", f"{slug}-gl-secret"
        set_webhook_secret(organization=organization, provider="github", secret=self.github_secret)
        set_webhook_secret(organization=organization, provider="gitlab", secret=self.gitlab_secret)
        self.service = make_service(
            organization, f"{slug}-web", aliases=[f"{slug}-www"], team=f"{slug}-team"
        )
        staff = get_user_model().objects.create_user(username=f"{slug}-admin")
        make_organization_admin(user=staff, organizations=[organization])
        EnvironmentAliasFactory(
            organization=organization, name=f"{slug}-prod", environment="production"
        )
        self.deliver_everything(api)
        self.deployment = Deployment.objects.get(
            organization=organization, external_id=f"{slug}-deploy"
        )

    def deliver_everything(self, api):
        """One delivery in every format, an unknown service (a suggestion), incidents."""
        slug = self.slug
        self.sha = hashlib.sha1(slug.encode()).hexdigest()  # B's commit is not A's
        started = NOW - timedelta(days=2)
        done = started + timedelta(minutes=5)
        answers = [
            post(
                api,
                "/api/webhooks/deployments",
                {
                    "deploymentId": f"{slug}-deploy",
                    "commitSha": self.sha,
                    "service": f"{slug}-web",
                    "environment": "production",
                    "status": "failure",
                    "startedAt": iso(started),
                    "completedAt": iso(done),
                    "metadata": {"changeId": f"{slug}-change"},
                },
                **self.bearer,
            ),
            post(
                api,
                "/api/webhooks/deployments",
                {
                    "deploymentId": f"{slug}-unknown",
                    "commitSha": "b1b2c3d4e5",
                    "service": f"{slug}-mystery",
                    "environment": "production",
                    "status": "success",
                    "startedAt": iso(started),
                    "completedAt": iso(done),
                },
                **self.bearer,
            ),
            post(
                api,
                "/events",
                {
                    "events": [
                        {
                            "type": "event-deploy",
                            "entityId": f"{slug}-www",
                            "timestamp": iso(done),
                            "attributes": {
                                "env": "production",
                                "status": "success",
                                "build_id": f"{slug}-b1",
                                "change_id": f"{slug}-change",
                            },
                        }
                    ]
                },
                HTTP_X_API_KEY=self.key,
            ),
            post(
                api,
                "/api/hooks/v2/deployment",
                {
                    "deployment_id": f"{slug}-hivel",
                    "event_type": "completed",
                    "status": "success",
                    "start_time": iso(started),
                    "end_time": iso(done),
                    "repo_url": f"{slug}-web",
                    "environment": "production",
                    "branch": "main",
                },
                HTTP_X_API_TOKEN=self.key,
            ),
            post(
                api,
                f"/integrations/deploy/{self.key}",
                {
                    "service": f"{slug}-web",
                    "description": "deploy",
                    "deployed_at": iso(done),
                    "deployer": {"email": f"ci@{slug}.example"},
                    "dedup_id": f"{slug}-ops",
                },
            ),
            post(
                api,
                "/api/incidents",
                {
                    "id": f"{slug}-incident",
                    "title": f"{slug} outage",
                    "service": f"{slug}-web",
                    "startedAt": iso(done + timedelta(minutes=1)),
                    "deploymentId": f"{slug}-deploy",
                },
                **self.bearer,
            ),
        ]
        for answer in answers:
            assert answer.status_code in (200, 201, 202), answer.content
        assert self.pagerduty(api, self.slug, f"{slug}-pd-1").status_code == 200
        # The same real repository and PR in both organizations: the names collide, nothing else.
        for event, name in PR_LIFE:
            answer = self.github(api, self.slug, event, github_fixture(name))
            assert answer.status_code == 200, answer.content
        answer = self.github(api, self.slug, "deployment_status", deployment_status_of_merge())
        assert answer.status_code in (200, 201), answer.content
        answer = self.gitlab(api, self.slug, "Push Hook", gitlab_fixture("push.json"))
        assert answer.status_code in (200, 201, 202), answer.content
        # A metrics read folds the writes so far into the rollups; the incident's resolution
        # after it stays noted for the next read: both tables hold this organization's rows.
        assert api.get("/api/metrics/dora", **self.bearer).status_code == 200
        answer = post(
            api,
            "/api/incidents",
            {
                "id": f"{slug}-incident",
                "title": f"{slug} outage",
                "service": f"{slug}-web",
                "startedAt": iso(done + timedelta(minutes=1)),
                "resolvedAt": iso(done + timedelta(minutes=30)),
            },
            **self.bearer,
        )
        assert answer.status_code == 200, answer.content

    def github(self, api, slug: str, event: str, body: bytes, secret: str = ""):
        secret = secret or self.github_secret
        return post_webhook(api, "github", body, slug=slug, event=event, secret=secret)

    def gitlab(self, api, slug: str, event: str, body: dict):
        return post_webhook(api, "gitlab", body, slug=slug, event=event, secret=self.gitlab_secret)

    def pagerduty(self, api, slug: str, incident_id: str):
        body = json.dumps(
            {
                "event": {
                    "event_type": "incident.triggered",
                    "occurred_at": iso(NOW - timedelta(hours=1)),
                    "data": {
                        "id": incident_id,
                        "title": "pd",
                        "service": {"summary": f"{self.slug}-web"},
                    },
                }
            }
        ).encode()
        return post_webhook(api, "pagerduty", body, slug=slug, secret=self.pagerduty_secret)


def organization_models():
    """(model, lookup to its organization) for every model of Periscope's apps with one."""
    found = []
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.model_name in NOT_ORGANIZATION_DATA:
                continue
            if model._meta.model_name in LOOKUPS:
                found.append((model, LOOKUPS[model._meta.model_name]))
                continue
            if model in admin.site._registry and hasattr(
                admin.site._registry[model], "organization_path"
            ):
                found.append((model, admin.site._registry[model].organization_path()))
            elif any(f.name == "organization" for f in model._meta.get_fields()):
                found.append((model, "organization"))
            else:
                found.append((model, None))
    return found


def snapshot(organization) -> dict:
    """Every row of the organization, every field: compared before and after A's requests."""
    return {
        model._meta.label: list(
            model.objects.filter(**{lookup: organization.pk}).order_by("pk").values()
        )
        for model, lookup in organization_models()
        if lookup
    }


@pytest.fixture
def world(api, org, other_org, settings):
    settings.RATE_LIMITS = {}
    a, b = Org(org, api), Org(other_org, api)
    return a, b, snapshot(other_org)


def ids_of(model, organization) -> list[int]:
    return list(model.objects.filter(organization=organization).values_list("pk", flat=True))


def get_json(api, path: str, a: Org, status: int = 200):
    response = api.get(path, **a.bearer)
    assert response.status_code == status, (path, response.content)
    return response.json()


def assert_no_b(text: str, b: Org):
    assert b.slug not in text, text


# --- One check per operation: A's key, aimed at B ------------------------------------------------


def check_list(path: str, model, filters: list[str]):
    def check(api, a: Org, b: Org):
        body = get_json(api, path, a)
        assert body["results"], "A's own rows are listed"
        assert_no_b(json.dumps(body), b)
        for query in filters:
            filtered = get_json(api, f"{path}?{query}", a, status=200)
            assert filtered["results"] == [], query

    return check


def check_detail(path: str, model):
    def check(api, a: Org, b: Org):
        for pk in ids_of(model, b.organization):
            body = get_json(api, path.format(id=pk), a, status=404)
            assert_no_b(json.dumps(body), b)
        own = ids_of(model, a.organization)[0]
        get_json(api, path.format(id=own), a, status=200)

    return check


def b_service_filters(b: Org) -> list[str]:
    return [f"service={b.service.name}", f"service={b.service.slug}", f"service={b.service.pk}",
            f"service={b.slug}-www", f"service={b.slug}-mystery"]  # fmt: skip


def check_deployments(api, a, b):
    filters = b_service_filters(b) + [
        f"team={b.slug}-team",
        f"change_id={b.slug}-change",
        f"commit_sha={b.deployment.commit_sha}",
    ]
    check_list("/api/deployments", Deployment, filters)(api, a, b)


def check_services(api, a, b):
    check_list("/api/services", Service, [f"name={b.slug}", f"team={b.slug}-team"])(api, a, b)


def check_mcp(api, a, b):
    """Every tool as A: nothing of B, B's deployment id included (its REST 404)."""
    calls = [("list_deployments", {}), ("list_services", {}), ("list_incidents", {}),
             ("list_service_suggestions", {}), ("dora_metrics", {}),
             ("get_deployment", {"id": ids_of(Deployment, b.organization)[0]})]  # fmt: skip
    for tool, arguments in calls:
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": tool, "arguments": arguments}}  # fmt: skip
        response = api.post(
            "/mcp",
            data=json.dumps(message),
            content_type="application/json",
            HTTP_ACCEPT="application/json, text/event-stream",
            HTTP_MCP_PROTOCOL_VERSION="2025-06-18",
            **a.bearer,
        )
        assert response.status_code == 200, response.content
        assert "result" in response.json(), response.content
        assert_no_b(response.content.decode(), b)


def check_incidents(api, a, b):
    filters = b_service_filters(b) + [f"deployment={b.deployment.pk}"]
    check_list("/api/incidents", Incident, filters)(api, a, b)


def check_changes(api, a, b):
    body = get_json(api, "/api/changes", a)
    assert body["results"], "A's own changes are listed"
    ids = {(c.get("kind"), c["id"]) for c in body["results"]}
    b_prs = set(
        PullRequest.objects.filter(organization=b.organization).values_list("pk", flat=True)
    )
    assert not {pk for kind, pk in ids if kind == "pull_request"} & b_prs
    assert_no_b(json.dumps(body), b)


def check_change_detail(api, a, b):
    for pk in PullRequest.objects.filter(organization=b.organization).values_list("pk", flat=True):
        get_json(api, f"/api/changes/{pk}", a, status=404)
    own = PullRequest.objects.filter(organization=a.organization).first()
    get_json(api, f"/api/changes/{own.pk}", a, status=200)


def check_forge(provider: str):
    def check(api, a: Org, b: Org):
        """A's secret does not open B's hook; A's own deliveries stay A's (same repository)."""
        if provider == "github":
            body = github_fixture("push.after-merge.real-capture.json")
            assert a.github(api, b.slug, "push", body).status_code == 401
            assert a.github(api, a.slug, "push", body).status_code == 200
        else:
            body = gitlab_fixture("push.json")
            assert a.gitlab(api, b.slug, "Push Hook", body).status_code == 401
            assert a.gitlab(api, a.slug, "Push Hook", body).status_code in (200, 201, 202)
        # A's repository, commits and links never point into B.
        for link in DeploymentCommit.objects.filter(organization=a.organization):
            assert link.deployment.organization_id == a.organization.pk
            assert link.repository.organization_id == a.organization.pk

    return check


def check_dora(api, a, b):
    for query in b_service_filters(b) + [f"team={b.slug}-team"]:
        body = get_json(api, f"/api/metrics/dora?{query}", a)
        summary = body["summary"]
        assert summary["deploymentFrequency"]["deployments"] == 0, query
        assert summary["changeFailureRate"]["total"] == 0, query
        assert summary["incidentTimeToRestore"]["open"] == 0, query
        assert summary["incidentTimeToRestore"]["resolved"] == 0, query
    own = get_json(api, f"/api/metrics/dora?service={a.service.name}", a)["summary"]
    assert own["deploymentFrequency"]["deployments"] > 0


def check_periscope_webhook(api, a, b):
    body = {"deploymentId": f"{b.slug}-deploy", "commitSha": "c1c2c3c4c5", "environment": "production",
            "status": "success", "startedAt": iso(NOW), "completedAt": iso(NOW)}  # fmt: skip
    refused = post(
        api, "/api/webhooks/deployments", {**body, "organizationSlug": b.slug}, **a.bearer
    )
    assert refused.status_code == 403
    # B's deployment id and B's service name: A's own deployment, A's own suggestion.
    answer = post(
        api, "/api/webhooks/deployments", {**body, "service": f"{b.slug}-web"}, **a.bearer
    )
    assert answer.status_code == 201, answer.content
    created = Deployment.objects.get(pk=answer.json()["deploymentId"])
    assert created.organization == a.organization and created.service_id is None
    assert ServiceSuggestion.objects.filter(
        organization=a.organization, key__contains=b.slug
    ).exists()


def check_devgrid(api, a, b):
    event = {"type": "event-deploy", "entityId": f"{b.slug}-web", "attributes": {
        "env": "production", "status": "success", "build_id": f"{b.slug}-b1"}}  # fmt: skip
    answer = post(api, "/events", {"events": [event]}, HTTP_X_API_KEY=a.key)
    assert answer.status_code == 201, answer.content
    created = Deployment.objects.get(pk=answer.json()["events"][0]["id"])
    assert created.organization == a.organization and created.service_id is None


def check_hivel(api, a, b):
    answer = post(api, "/api/hooks/v2/deployment", {
        "deployment_id": f"{b.slug}-hivel", "event_type": "completed", "status": "success",
        "start_time": iso(NOW), "end_time": iso(NOW), "repo_url": f"{b.slug}-web",
        "environment": "production", "branch": "main",
    }, HTTP_X_API_TOKEN=a.key)  # fmt: skip
    assert answer.status_code == 200, answer.content
    created = Deployment.objects.get(organization=a.organization, external_id=f"{b.slug}-hivel")
    assert created.service_id is None


def check_opslevel(api, a, b):
    body = {"service": f"{b.slug}-web", "description": "x", "deployed_at": iso(NOW),
            "deployer": {"email": "x@example.com"}, "dedup_id": f"{b.slug}-ops"}  # fmt: skip
    answer = post(api, f"/integrations/deploy/{a.key}", body)
    assert answer.status_code == 202 and answer.json()["result"] == "no_service_found"
    assert Deployment.objects.filter(
        organization=a.organization, external_id=f"{b.slug}-ops"
    ).exists()


def check_incident_post(api, a, b):
    for link in ({"deploymentId": f"{b.slug}-deploy"}, {"deploymentId": str(b.deployment.pk)},
                 {"changeId": f"{b.slug}-change"}):  # fmt: skip
        answer = post(api, "/api/incidents", {
            "id": f"a-{json.dumps(link)}", "title": "t", "service": f"{b.slug}-web",
            "startedAt": iso(NOW), **link}, **a.bearer)  # fmt: skip
        assert answer.status_code == 201, answer.content
        incident = Incident.objects.get(pk=answer.json()["incidentId"])
        assert incident.organization == a.organization
        assert incident.deployment_id is None or incident.deployment.organization == a.organization
        assert incident.service_id is None
    # B's incident id: A gets its own incident, B's is untouched (compared after every check).
    answer = post(api, "/api/incidents", {"id": f"{b.slug}-incident", "title": "mine",
                  "service": "x", "startedAt": iso(NOW)}, **a.bearer)  # fmt: skip
    assert answer.status_code == 201


def check_pagerduty(api, a, b):
    # A's secret does not open B's hook, and B's slug never reaches A's data either.
    assert a.pagerduty(api, b.slug, f"{b.slug}-pd-1").status_code == 401
    assert a.pagerduty(api, b.slug, "a-pd-new").status_code == 401
    assert not Incident.objects.filter(external_id="a-pd-new").exists()


def check_prometheus(api, a, b):
    response = api.get("/metrics", **a.bearer)
    assert response.status_code == 200
    text = response.content.decode()
    assert f'organization="{a.slug}"' in text
    assert_no_b(text, b)


def check_health(path):
    def check(api, a, b):
        response = api.get(path, **a.bearer)
        assert response.status_code == 200
        assert_no_b(response.content.decode(), b)

    return check


OPERATIONS = {
    ("GET", "/api/deployments"): check_deployments,
    ("GET", "/api/deployments/{id}"): check_detail("/api/deployments/{id}", Deployment),
    ("GET", "/api/services"): check_services,
    ("GET", "/api/services/{id}"): check_detail("/api/services/{id}", Service),
    ("GET", "/api/suggestions"): check_list("/api/suggestions", ServiceSuggestion, []),
    ("POST", "/mcp"): check_mcp,
    ("GET", "/api/incidents"): check_incidents,
    ("POST", "/api/incidents"): check_incident_post,
    ("GET", "/api/incidents/{id}"): check_detail("/api/incidents/{id}", Incident),
    ("GET", "/api/changes"): check_changes,
    ("GET", "/api/changes/{id}"): check_change_detail,
    ("GET", "/api/metrics/dora"): check_dora,
    ("POST", "/api/webhooks/deployments"): check_periscope_webhook,
    ("POST", "/events"): check_devgrid,
    ("POST", "/api/hooks/v2/deployment"): check_hivel,
    ("POST", "/integrations/deploy/{key}"): check_opslevel,
    ("POST", "/api/webhooks/pagerduty/{org_slug}"): check_pagerduty,
    ("POST", "/api/webhooks/github/{org_slug}"): check_forge("github"),
    ("POST", "/api/webhooks/gitlab/{org_slug}"): check_forge("gitlab"),
    # Outside the OpenAPI schema.
    ("GET", "/metrics"): check_prometheus,
    ("GET", "/healthz"): check_health("/healthz"),
    ("GET", "/readyz"): check_health("/readyz"),
}
# Routes that serve no organization data at all.
NO_ORGANIZATION_DATA = {"/api/schema/", "/api/docs/"}
# Admin pages outside admin.site, for logged-in staff (no API key): their per-organization
# access is proven where they are tested.
ADMIN_PAGES = {
    # test_staff_see_only_their_organizations, test_another_organization_is_404_for_staff
    "/admin/metrics/dora/": "tests/test_dashboard.py",
    "/admin/metrics/dora/environments/": "tests/test_new_environments.py",
    # Django's admin login with failed logins limited per address: no organization data.
    "/admin/login/": "tests/test_auth_failures.py",
    # Single sign-on: no organization data; the memberships it grants, and a second
    # organization kept out, in test_first_sign_in_creates_a_staff_user_in_the_mapped_organization.
    "/sso/login/": "tests/test_sso.py",
    "/sso/callback/": "tests/test_sso.py",
}


def url_routes(resolver=None, prefix: str = "") -> list[str]:
    """Every route of the URLconf outside the admin, as an OpenAPI-style path."""
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if not route.startswith("admin/"):
                routes.extend(url_routes(entry, route))
        elif isinstance(entry, URLPattern):
            path = "/" + route
            for converter in ("int:", "str:", "slug:"):
                path = path.replace(f"<{converter}", "{")
            routes.append(path.replace(">", "}").replace("{pk}", "{id}"))
    return routes


def schema_operations(api) -> set[tuple[str, str]]:
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_every_endpoint_and_method_is_covered(api, db):
    covered_paths = {path for _, path in OPERATIONS} | NO_ORGANIZATION_DATA | set(ADMIN_PAGES)
    missing_routes = [
        r for r in url_routes() if r not in covered_paths and not r.startswith("/static")
    ]
    assert not missing_routes, f"add an isolation check for {missing_routes}"
    missing_operations = schema_operations(api) - set(OPERATIONS)
    assert not missing_operations, f"add an isolation check for {missing_operations}"


def test_both_organizations_have_data_in_every_model(world):
    a, b, b_before = world
    unscoped = [model for model, lookup in organization_models() if lookup is None]
    assert not unscoped, f"{unscoped} have no organization lookup"
    for organization in (a.organization, b.organization):
        empty = [label for label, rows in snapshot(organization).items() if not rows]
        assert not empty, f"no data of {organization.slug} in {empty}"


@pytest.mark.parametrize("operation", list(OPERATIONS), ids=lambda op: " ".join(op))
def test_key_of_a_cannot_reach_b(world, api, operation):
    a, b, b_before = world
    OPERATIONS[operation](api, a, b)
    assert snapshot(b.organization) == b_before, "B's data changed"
