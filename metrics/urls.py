from django.urls import path

from deployments.incident_views import IncidentsEndpoint, PagerDutyWebhook
from metrics import api
from metrics.prometheus import prometheus_metrics
from metrics.schema import DocsView, SchemaView

urlpatterns = [
    path("api/metrics/dora", api.DoraMetricsView.as_view(), name="metrics-dora"),
    path("api/deployments", api.DeploymentList.as_view(), name="deployment-list"),
    path("api/deployments/<int:pk>", api.DeploymentDetail.as_view(), name="deployment-detail"),
    path("api/services", api.ServiceList.as_view(), name="service-list"),
    path("api/services/<int:pk>", api.ServiceDetail.as_view(), name="service-detail"),
    path("api/incidents", IncidentsEndpoint.as_view(), name="incident-list"),
    path("api/incidents/<int:pk>", api.IncidentDetail.as_view(), name="incident-detail"),
    path("api/changes", api.ChangeList.as_view(), name="change-list"),
    path("api/changes/<int:pk>", api.ChangeDetail.as_view(), name="change-detail"),
    path(
        "api/webhooks/pagerduty/<slug:org_slug>",
        PagerDutyWebhook.as_view(),
        name="webhook-pagerduty",
    ),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    path("metrics", prometheus_metrics, name="prometheus"),
]
