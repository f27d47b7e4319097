from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Service catalog"
    default_auto_field = "django.db.models.BigAutoField"
