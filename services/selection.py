"""What a `service=` parameter names: a catalogued service by id, slug, name or alias, or an
unmatched name as sent. The metrics and every list endpoint read the parameter this way."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from periscope.models import Organization
from services.matching import normalize_key
from services.models import Service, ServiceAlias


@dataclass(frozen=True, kw_only=True)
class ServiceSelector:
    """A `service=` filter: a catalogued service, or an unmatched name (its normalized key)."""

    service_id: int | None = None
    key: str = ""
    # The catalogued service's alias keys: incidents sent under them before it existed match it.
    alias_keys: tuple[str, ...] = ()


def select_service(*, organization: Organization, value: str) -> ServiceSelector:
    """A service by id, slug, name or alias; else the unmatched name as sent (normalized)."""
    services = Service.objects.filter(organization=organization)
    found = None
    if value.isascii() and value.isdigit():  # "²".isdigit() is True, int("²") fails
        found = services.filter(pk=int(value)).first()
    found = found or services.filter(slug=value).first()
    key = normalize_key(value)
    if found is None and key:
        alias = ServiceAlias.objects.filter(organization=organization, key=key).first()
        found = alias.service if alias else None
    if found is None:
        return ServiceSelector(key=key)
    keys = ServiceAlias.objects.filter(service=found).values_list("key", flat=True)
    return ServiceSelector(service_id=found.pk, alias_keys=tuple(keys))


def filter_by_service(
    queryset: QuerySet, *, organization: Organization, value: str, incidents: bool = False
) -> QuerySet:
    """Rows of the named service; for incidents, also those sent under one of its aliases
    before the service existed (they stay unmatched)."""
    selector = select_service(organization=organization, value=value)
    if selector.service_id is not None:
        q = Q(service_id=selector.service_id)
        if incidents and selector.alias_keys:
            q |= Q(service__isnull=True, service_key__in=selector.alias_keys)
        return queryset.filter(q)
    return queryset.filter(service__isnull=True, service_key=selector.key)
