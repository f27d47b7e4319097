"""Environment names: trimmed, lower-cased, and mapped through the organization's aliases."""

from periscope.models import Organization

DEFAULT_ENVIRONMENT_ALIASES = {
    "prod": "production",
    "prd": "production",
    "live": "production",
    "stage": "staging",
    "stg": "staging",
    "dev": "development",
}

PRODUCTION = "production"


def seed_default_environment_aliases(*, organization: Organization) -> None:
    from deployments.models import EnvironmentAlias

    EnvironmentAlias.objects.bulk_create(
        [
            EnvironmentAlias(organization=organization, name=name, environment=env)
            for name, env in DEFAULT_ENVIRONMENT_ALIASES.items()
        ],
        ignore_conflicts=True,
    )


def normalize_environment(*, organization_id: int, raw: str) -> str:
    from deployments.models import EnvironmentAlias

    name = raw.strip().lower()
    mapped = (
        EnvironmentAlias.objects.filter(organization_id=organization_id, name=name)
        .values_list("environment", flat=True)
        .first()
    )
    return (mapped or name).strip().lower()
