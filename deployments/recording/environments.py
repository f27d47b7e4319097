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
# Deployment.environment's max_length.
ENVIRONMENT_LENGTH = 100


def seed_default_environment_aliases(*, organization: Organization) -> None:
    from deployments.models import EnvironmentAlias

    EnvironmentAlias.objects.bulk_create(
        [
            EnvironmentAlias(organization=organization, name=name, environment=env)
            for name, env in DEFAULT_ENVIRONMENT_ALIASES.items()
        ],
        ignore_conflicts=True,
    )


def environment_key(raw: str) -> str:
    """An environment name as sent, in the form aliases are stored under."""
    return raw.strip().lower()


def canonical_environment(*, raw: str, alias_target: str | None, default: str = "") -> str:
    """The environment a delivery counts under, given the alias its name maps to (if any);
    `default` (the organization's default environment) when it names none."""
    # Cut to the column's length: lower-casing can lengthen a name ("İ" becomes two characters).
    return (alias_target or environment_key(raw)).strip().lower()[:ENVIRONMENT_LENGTH] or default


def normalize_environment(*, organization_id: int, raw: str) -> str:
    from deployments.models import EnvironmentAlias

    alias_target = (
        EnvironmentAlias.objects.filter(organization_id=organization_id, name=environment_key(raw))
        .values_list("environment", flat=True)
        .first()
    )
    return canonical_environment(raw=raw, alias_target=alias_target)
