from django.contrib import admin
from django.urls import include, path

from deployments.views import PeriscopeDeploymentWebhook
from metrics.dashboard import dashboard
from periscope.health import healthz, readyz

handler400 = "periscope.errors.json_bad_request"
handler404 = "periscope.errors.json_not_found"
handler500 = "periscope.errors.json_server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Before admin.site.urls, whose catch-all would answer 404.
    path("admin/metrics/dora/", dashboard, name="dora-dashboard"),
    path("admin/", admin.site.urls),
    path(
        "api/webhooks/deployments",
        PeriscopeDeploymentWebhook.as_view(),
        name="webhook-periscope",
    ),
    path("", include("metrics.urls")),  # metrics, lists, incidents, schema, /metrics
]
