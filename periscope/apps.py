from django.apps import AppConfig


class PeriscopeConfig(AppConfig):
    name = "periscope"
    verbose_name = "Tenancy"
    default_auto_field = "django.db.models.BigAutoField"
