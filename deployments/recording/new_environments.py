"""Environments nobody has named yet: the names deployments were stored under that match no
standard environment, no alias and no decision, listed for a person to review (the
dashboard's "needs a person" panel), and the two decisions: alias the name to an existing
environment (its deployments and incidents move there), or keep it as an environment.

A name stays stored as sent until then: `pro duction` or `Prödüction` is not guessed to be
production, but it is not silently a new environment either.
"""

from django.db import transaction
from django.db.models import Sum

from deployments.models import (
    Deployment,
    EnvironmentAlias,
    Incident,
    OrganizationRollup,
    Status,
)
from deployments.recording import recovery
from deployments.recording.environments import environment_key
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import maintain as rollups
from periscope.models import Organization

# The Periscope format's standard values (seed 001): known without an alias.
STANDARD_ENVIRONMENTS = frozenset({"production", "staging", "development", "preview", "test"})


def deployed_environments(*, organization_id: int) -> dict[str, int]:
    """{environment: deployments completed in it} over the organization's history, from the
    monthly rollups (a few rows per environment and month, not a scan of the deployments),
    folded first as every rollup read is. "" holds deployments stored before default
    environments, from deliveries that named none."""
    rollups.fold(organization_id=organization_id)
    rows = (
        OrganizationRollup.objects.filter(
            organization_id=organization_id, level=OrganizationRollup.Level.MONTH
        )
        .values("environment")
        .order_by("environment")
        .annotate(n=Sum("completed"))
    )
    return {row["environment"]: row["n"] for row in rows if row["n"]}


def known_environments(*, organization: Organization) -> set[str]:
    """The standard names, the default environment, every alias name and alias target."""
    known = set(STANDARD_ENVIRONMENTS) | {organization.default_environment}
    for name, target in EnvironmentAlias.objects.filter(organization=organization).values_list(
        "name", "environment"
    ):
        known |= {name, target}
    return known


def new_environments(
    *, organization: Organization, deployed: dict[str, int] | None = None
) -> dict[str, int]:
    """The environments deployments are stored under that nobody has named: {name: count}
    ("" included: those can be moved to an environment, not kept)."""
    if deployed is None:
        deployed = deployed_environments(organization_id=organization.pk)
    known = known_environments(organization=organization)
    return {name: n for name, n in deployed.items() if name not in known}


def alias_targets(
    *, organization: Organization, deployed: dict[str, int], new: dict[str, int]
) -> list[str]:
    """What a new name may become an alias of: an existing canonical environment (deployed
    to, standard, the default, or an alias target), never another new name."""
    targets = set(deployed) | set(STANDARD_ENVIRONMENTS) | {organization.default_environment}
    targets |= set(
        EnvironmentAlias.objects.filter(organization=organization).values_list(
            "environment", flat=True
        )
    )
    return sorted(targets - set(new) - {""})


def keep_environment(*, organization: Organization, name: str) -> None:
    """A person says `name` is an environment of its own: it maps to itself."""
    key = environment_key(name)
    EnvironmentAlias.objects.get_or_create(
        organization=organization, name=key, defaults={"environment": key}
    )


def alias_environment(*, organization: Organization, name: str, environment: str) -> int:
    """Make `name` an alias of `environment` and move what was stored under it there: its
    deployments and incidents (environment as sent is kept), their recovery times and the
    rollups of both environments; production successes moved in are linked to the changes
    they shipped. Returns the deployments moved. `name` "" (deployments stored before default
    environments) only moves them: deliveries naming none now get the default."""
    from deployments.changes import linking

    key, target = environment_key(name), environment_key(environment)
    if not target or key == target:
        raise ValueError("an alias needs a different environment")
    deployments = Deployment.objects.filter(organization=organization, environment=key)
    incidents = Incident.objects.filter(organization=organization, environment=key)
    groups = {
        ServiceGroup.of(service_id=service_id, service_key=service_key)
        for model in (deployments, incidents)
        for service_id, service_key in model.values_list("service_id", "service_key").distinct()
    }
    with (
        transaction.atomic(),
        recovery.regrouping(organization_id=organization.pk, groups=groups),
    ):
        if key:
            EnvironmentAlias.objects.update_or_create(
                organization=organization, name=key, defaults={"environment": target}
            )
        # Every cell of these groups, in both environments, is refreshed at the next read.
        rollups.note_groups(organization_id=organization.pk, groups=groups)
        moved_ids = list(deployments.values_list("pk", flat=True))
        moved = deployments.update(environment=target)
        incidents.update(environment=target)
    successes = Deployment.objects.filter(
        pk__in=moved_ids, status=Status.SUCCESS, completed_at__isnull=False
    ).exclude(commit_sha="")
    for deployment in successes.select_related("service", "organization").order_by(
        "completed_at", "id"
    ):
        with transaction.atomic():
            linking.link_on_record(deployment)
    return moved
