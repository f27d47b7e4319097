from django.contrib import admin
from django.urls import include, path

from deployments.forge_views import GitHubWebhook, GitLabWebhook
from deployments.views import (
    DevGridEvents,
    HivelDeployment,
    OpsLevelDeploy,
    PeriscopeDeploymentWebhook,
)
from metrics.dashboard import dashboard
from periscope.admin_login import admin_login
from periscope.health import healthz, readyz

handler400 = "periscope.errors.json_bad_request"
handler404 = "periscope.errors.json_not_found"
handler500 = "periscope.errors.json_server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Before admin.site.urls, whose catch-all would answer 404.
    path("admin/metrics/dora/", dashboard, name="dora-dashboard"),
    path("admin/login/", admin_login, name="admin-login"),  # failed logins limited
    path("admin/", admin.site.urls),
    path(
        "api/webhooks/deployments",
        PeriscopeDeploymentWebhook.as_view(),
        name="webhook-periscope",
    ),
    path("", include("metrics.urls")),  # metrics, lists, incidents, schema, /metrics
    # Drop-in vendor formats: DevGrid, Hivel, OpsLevel (issue 3).
    path("events", DevGridEvents.as_view(), name="webhook-devgrid"),
    path("api/hooks/v2/deployment", HivelDeployment.as_view(), name="webhook-hivel"),
    path("integrations/deploy/<str:key>", OpsLevelDeploy.as_view(), name="webhook-opslevel"),
    # Forge webhooks (lead time): the organization is in the URL, its secret signs the body.
    path("api/webhooks/github/<slug:org_slug>", GitHubWebhook.as_view(), name="webhook-github"),
    path("api/webhooks/gitlab/<slug:org_slug>", GitLabWebhook.as_view(), name="webhook-gitlab"),
]
