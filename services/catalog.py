"""Changing the catalog: services, their aliases, and re-attributing past deployments."""

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from periscope.models import Organization
from services.matching import normalize_key
from services.models import AliasKind, Service, ServiceAlias, ServiceSuggestion, SuggestionStatus


def _unique_slug(*, organization: Organization, name: str) -> str:
    base = slugify(name.replace("/", "-"))[:180] or "service"
    slug, n = base, 2
    while Service.objects.filter(organization=organization, slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def reattribute_deployments(*, service: Service, keys: list[str] | set[str]) -> int:
    """Point every unmatched deployment and incident sent under one of `keys` at `service`;
    returns the count of deployments."""
    from deployments.models import Deployment, Incident
    from deployments.recording import recovery
    from deployments.recording.service_group import ServiceGroup
    from deployments.rollups import maintain as rollups

    keys = {k for k in keys if k}
    if not keys:
        return 0
    groups = [ServiceGroup(service.pk), *(ServiceGroup(None, k) for k in keys)]
    with (
        transaction.atomic(),
        recovery.regrouping(organization_id=service.organization_id, groups=groups),
    ):
        rollups.note_groups(organization_id=service.organization_id, groups=groups)
        moved = Deployment.objects.filter(
            organization_id=service.organization_id, service__isnull=True, service_key__in=keys
        ).update(service=service)
        # Incidents sent under the name follow it, as they return to it when a service goes.
        Incident.objects.filter(
            organization_id=service.organization_id, service__isnull=True, service_key__in=keys
        ).update(service=service)
    ServiceSuggestion.objects.filter(organization_id=service.organization_id, key__in=keys).exclude(
        status=SuggestionStatus.IGNORED
    ).update(status=SuggestionStatus.ACCEPTED, service=service)
    return moved


@transaction.atomic
def sync_service_keys(*, service: Service) -> int:
    """Keep the name/repository aliases of a service in step with its fields.

    Called after a service is created or edited. Returns how many past deployments
    were re-attributed to it.
    """
    wanted = {AliasKind.NAME: service.name}
    if service.repository_url:
        wanted[AliasKind.REPOSITORY] = service.repository_url
    service.aliases.filter(kind__in=[AliasKind.NAME, AliasKind.REPOSITORY]).delete()
    keys = set()
    for kind, raw in wanted.items():
        key = normalize_key(raw)
        if not key or key in keys:
            continue
        # A key that another service already owns stays with it; the admin form reports this.
        if ServiceAlias.objects.filter(organization_id=service.organization_id, key=key).exists():
            continue
        ServiceAlias.objects.create(
            organization_id=service.organization_id, service=service, name=raw, key=key, kind=kind
        )
        keys.add(key)
    return reattribute_deployments(service=service, keys=keys)


@transaction.atomic
def create_service(
    *,
    organization: Organization,
    name: str,
    team: str = "",
    repository_url: str = "",
    description: str = "",
    aliases: list[str] | tuple[str, ...] = (),
) -> Service:
    service = Service.objects.create(
        organization=organization,
        name=name,
        slug=_unique_slug(organization=organization, name=name),
        team=team,
        repository_url=repository_url,
        description=description,
    )
    sync_service_keys(service=service)
    for alias in aliases:
        add_alias(service=service, name=alias)
    return service


@transaction.atomic
def add_alias(*, service: Service, name: str) -> int:
    """Add an alias (idempotent for the same service); returns deployments re-attributed."""
    key = normalize_key(name)
    alias, _ = ServiceAlias.objects.get_or_create(
        organization_id=service.organization_id,
        key=key,
        defaults={"service": service, "name": name, "kind": AliasKind.ALIAS},
    )
    if alias.service_id != service.pk:
        raise ValueError(f"'{name}' is already an alias of {alias.service}")
    return reattribute_deployments(service=service, keys={key})


class CatalogError(ValueError):
    """A catalog change that cannot be made; the message is meant for the admin user."""


def owner_of_key(*, organization_id: int, key: str) -> ServiceAlias | None:
    """The alias (with its service) that already claims this normalized key, if any."""
    return (
        ServiceAlias.objects.select_related("service")
        .filter(organization_id=organization_id, key=key)
        .first()
    )


@transaction.atomic
def save_alias(*, alias: ServiceAlias) -> int:
    """Save a hand-made alias of `alias.service` and re-attribute past deployments to it.

    The key is normalized from the name; returns how many deployments moved.
    """
    alias.organization_id = alias.service.organization_id
    alias.key = normalize_key(alias.name)
    alias.kind = AliasKind.ALIAS
    alias.save()
    return reattribute_deployments(service=alias.service, keys={alias.key})


def _name_for_service(raw: str) -> tuple[str, str]:
    """(service name, repository URL) for a name as sent: a repository form names its repo."""
    cleaned = raw.strip()
    if "/" not in normalize_key(cleaned):
        return cleaned, ""
    last = cleaned.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last or cleaned, cleaned


@transaction.atomic
def create_service_from_suggestion(*, suggestion: ServiceSuggestion) -> tuple[Service, int]:
    """Create a service named after the suggestion; returns it and the deployments moved.

    A repository form (`https://github.com/acme/api.git`, `acme/api`) becomes service `api`
    with that repository, so the raw form still matches.
    """
    owner = owner_of_key(organization_id=suggestion.organization_id, key=suggestion.key)
    if owner is not None:
        raise CatalogError(f"'{suggestion.name}' already matches service {owner.service}")
    name, repository_url = _name_for_service(suggestion.name)
    named = owner_of_key(organization_id=suggestion.organization_id, key=normalize_key(name))
    if named is not None:
        raise CatalogError(
            f"Service {named.service} already answers to '{name}': attach "
            f"'{suggestion.name}' to it instead"
        )
    service = create_service(
        organization=suggestion.organization, name=name, repository_url=repository_url
    )
    if not service.aliases.filter(key=suggestion.key).exists():
        ServiceAlias.objects.create(
            organization_id=service.organization_id,
            service=service,
            name=suggestion.name,
            key=suggestion.key,
        )
    _accept(suggestion=suggestion, service=service)
    # A new service has no deployments but the ones just re-attributed to it.
    return service, service.deployments.count()


@transaction.atomic
def attach_suggestion(*, suggestion: ServiceSuggestion, service: Service) -> int:
    """Make the suggestion's name an alias of an existing service; returns deployments moved."""
    if service.organization_id != suggestion.organization_id:
        raise CatalogError(f"{service} belongs to another organization")
    owner = owner_of_key(organization_id=suggestion.organization_id, key=suggestion.key)
    if owner is not None and owner.service_id != service.pk:
        raise CatalogError(f"'{suggestion.name}' already matches service {owner.service}")
    if owner is None:
        ServiceAlias.objects.create(
            organization_id=service.organization_id,
            service=service,
            name=suggestion.name,
            key=suggestion.key,
        )
    return _accept(suggestion=suggestion, service=service)


def _accept(*, suggestion: ServiceSuggestion, service: Service) -> int:
    moved = reattribute_deployments(service=service, keys={suggestion.key})
    ServiceSuggestion.objects.filter(pk=suggestion.pk).update(
        status=SuggestionStatus.ACCEPTED, service=service
    )
    suggestion.refresh_from_db(fields=["status", "service"])
    return moved


def reattribution_preview(*, suggestion: ServiceSuggestion) -> tuple[int, int]:
    """(deployments, incidents) that accepting the suggestion would re-attribute: those
    stored unmatched under its name."""
    from deployments.models import Deployment, Incident

    unmatched = {
        "organization_id": suggestion.organization_id,
        "service__isnull": True,
        "service_key": suggestion.key,
    }
    return (
        Deployment.objects.filter(**unmatched).count(),
        Incident.objects.filter(**unmatched).count(),
    )


def ignore_suggestion(*, suggestion: ServiceSuggestion) -> None:
    """Future deployments with this name are still stored, but the suggestion stays closed."""
    ServiceSuggestion.objects.filter(pk=suggestion.pk).update(
        status=SuggestionStatus.IGNORED, service=None
    )
    suggestion.refresh_from_db(fields=["status", "service"])


@transaction.atomic
def delete_service(*, service: Service) -> int:
    """Delete a service but never its deployments: they return to unmatched.

    Their suggestions reopen (one is created for a name that matched directly and so never
    had one). Returns how many deployments became unmatched.
    """
    from deployments.models import Deployment, Incident
    from deployments.recording import recovery
    from deployments.recording.service_group import ServiceGroup
    from deployments.rollups import maintain as rollups

    # No ordering: with the default one, DISTINCT would be over every row's (name, time, id).
    deployments = Deployment.objects.filter(service=service).order_by()
    names = dict(
        deployments.exclude(service_key="").values_list("service_key", "service_name").distinct()
    )
    ServiceSuggestion.objects.bulk_create(
        [
            ServiceSuggestion(organization_id=service.organization_id, name=name, key=key)
            for key, name in names.items()
        ],
        ignore_conflicts=True,
    )
    ServiceSuggestion.objects.filter(
        Q(service=service) | Q(organization_id=service.organization_id, key__in=names.keys())
    ).exclude(status=SuggestionStatus.IGNORED).update(status=SuggestionStatus.OPEN, service=None)
    keys = set(deployments.values_list("service_key", flat=True).distinct())
    # Its incidents return to their names too (the foreign key sets NULL).
    keys |= set(
        Incident.objects.filter(service=service).values_list("service_key", flat=True).distinct()
    )
    groups = [ServiceGroup(service.pk), *(ServiceGroup(None, k) for k in keys)]
    with (
        transaction.atomic(),
        recovery.regrouping(organization_id=service.organization_id, groups=groups),
    ):
        rollups.note_groups(organization_id=service.organization_id, groups=groups)
        unmatched = deployments.update(service=None)
        Incident.objects.filter(service=service).update(service=None)
        service.delete()
    return unmatched
