from django.urls import path

from metrics import api
from metrics.prometheus import prometheus_metrics

urlpatterns = [
    path("api/metrics/dora", api.DoraMetricsView.as_view(), name="metrics-dora"),
    path("metrics", prometheus_metrics, name="prometheus"),
]
