from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from deployments.linking import link_on_record, links_new
        from deployments.recording import register_change_linker

        register_change_linker(link_on_record, links_new=links_new)
