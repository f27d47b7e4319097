"""Changing the catalog: services, their aliases, and re-attributing past deployments."""

from django.db import transaction
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
    """Point every unmatched deployment sent under one of `keys` at `service`; returns the count."""
    from deployments.models import Deployment

    keys = {k for k in keys if k}
    if not keys:
        return 0
    moved = Deployment.objects.filter(
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
