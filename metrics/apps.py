from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "DORA metrics"

    def ready(self):
        from metrics import schema  # noqa: F401  (registers the OpenAPI extensions)
