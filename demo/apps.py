from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: `manage.py demo` and `seed_demo`, a plausible history stored through the real
    ingest functions. It sits on top of every other app, and none imports it."""

    name = "demo"
    verbose_name = "Demo"
