"""The root URLconf: the one place that composes every app's endpoints."""

from django.contrib import admin
from django.urls import include, path

from deployments.changes.api import ChangeDetail, ChangeList
from deployments.incidents.api import IncidentDetail
from deployments.ingest.devgrid.view import DevGridEvents
from deployments.ingest.github.view import GitHubWebhook
from deployments.ingest.gitlab.view import GitLabWebhook
from deployments.ingest.hivel.view import HivelDeployment
from deployments.ingest.incidents.view import IncidentsEndpoint
from deployments.ingest.opslevel.view import OpsLevelDeploy
from deployments.ingest.pagerduty.view import PagerDutyWebhook
from deployments.ingest.periscope.view import PeriscopeDeploymentWebhook
from deployments.recording.api import DeploymentDetail, DeploymentList
from metrics.dashboard import dashboard
from metrics.environment_review import environment_review
from metrics.mcp_server.http import McpEndpoint
from periscope.admin_login import admin_login
from periscope.health import healthz, readyz
from periscope.openapi import DocsView, SchemaView
from periscope.sso.views import SsoCallback, SsoLogin
from services.api import ServiceDetail, ServiceList, SuggestionList

handler400 = "periscope.errors.json_bad_request"
handler404 = "periscope.errors.json_not_found"
handler500 = "periscope.errors.json_server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Before admin.site.urls, whose catch-all would answer 404.
    path("admin/metrics/dora/", dashboard, name="dora-dashboard"),
    path("admin/metrics/dora/environments/", environment_review, name="dora-environment-review"),
    path("admin/login/", admin_login, name="admin-login"),  # failed logins limited
    path("admin/", admin.site.urls),
    # Single sign-on (OpenID Connect): 404 unless configured; the callback is the redirect URI.
    path("sso/login/", SsoLogin.as_view(), name="sso-login"),
    path("sso/callback/", SsoCallback.as_view(), name="sso-callback"),
    # Deployment webhooks: the Periscope format and the drop-in vendor formats.
    path(
        "api/webhooks/deployments",
        PeriscopeDeploymentWebhook.as_view(),
        name="webhook-periscope",
    ),
    path("events", DevGridEvents.as_view(), name="webhook-devgrid"),
    path("api/hooks/v2/deployment", HivelDeployment.as_view(), name="webhook-hivel"),
    path("integrations/deploy/<str:key>", OpsLevelDeploy.as_view(), name="webhook-opslevel"),
    # Forge webhooks (lead time): the organization is in the URL, its secret signs the body.
    path("api/webhooks/github/<slug:org_slug>", GitHubWebhook.as_view(), name="webhook-github"),
    path("api/webhooks/gitlab/<slug:org_slug>", GitLabWebhook.as_view(), name="webhook-gitlab"),
    # Incidents: the API (POST records, GET lists) and PagerDuty.
    path("api/incidents", IncidentsEndpoint.as_view(), name="incident-list"),
    path("api/incidents/<int:pk>", IncidentDetail.as_view(), name="incident-detail"),
    path(
        "api/webhooks/pagerduty/<slug:org_slug>",
        PagerDutyWebhook.as_view(),
        name="webhook-pagerduty",
    ),
    # The read API's lists.
    path("api/deployments", DeploymentList.as_view(), name="deployment-list"),
    path("api/deployments/<int:pk>", DeploymentDetail.as_view(), name="deployment-detail"),
    path("api/services", ServiceList.as_view(), name="service-list"),
    path("api/services/<int:pk>", ServiceDetail.as_view(), name="service-detail"),
    path("api/suggestions", SuggestionList.as_view(), name="suggestion-list"),
    path("api/changes", ChangeList.as_view(), name="change-list"),
    path("api/changes/<int:pk>", ChangeDetail.as_view(), name="change-detail"),
    # Metrics: the DORA API and Prometheus.
    path("", include("metrics.urls")),
    # MCP (streamable HTTP, stateless): the read API's answers as tools for AI assistants.
    path("mcp", McpEndpoint.as_view(), name="mcp"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
]
