"""Bringing an organization's services in step with its Backstage catalog.

A Component's entity ref is the key: a re-sync with a new title or owner updates the same
service, so its deployments stay. A service whose Component left the catalog is reported,
never deleted. Aliases and re-attribution go through services.catalog, which notes rollups.
"""

import re
from dataclasses import dataclass, field

from django.db import transaction

from periscope.models import Organization
from services.backstage_read import Catalog, Component, Skipped, team_of
from services.catalog import add_alias, create_service, owner_of_key, sync_service_keys
from services.matching import normalize_key
from services.models import Service, ServiceSuggestion, SuggestionStatus


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # "ref: field, field"
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # services whose Component is gone
    proposals: list[tuple[str, str]] = field(default_factory=list)  # (suggestion, service)
    moved: int = 0


def _fields(component: Component, *, team: str) -> dict[str, str]:
    return {
        "name": component.name,
        "display_name": component.title,
        "team": team,
        "lifecycle": component.lifecycle,
        "catalog_namespace": component.namespace,
        "repository_url": component.repositories[0] if component.repositories else "",
        "description": component.description,
    }


def _adoptable(*, organization: Organization, component: Component) -> Service | None:
    """A service made by hand (no entity ref) that already answers to the Component's name."""
    alias = owner_of_key(organization_id=organization.pk, key=normalize_key(component.name))
    if alias is not None and not alias.service.catalog_ref:
        return alias.service
    return None


def _apply(*, organization: Organization, component: Component, team: str, report: SyncReport):
    wanted = _fields(component, team=team)
    service = Service.objects.filter(organization=organization, catalog_ref=component.ref).first()
    service = service or _adoptable(organization=organization, component=component)
    if service is None:
        clash = owner_of_key(organization_id=organization.pk, key=normalize_key(component.name))
        if clash is not None:
            report.skipped.append(
                Skipped(
                    component.source,
                    f"{component.ref}: the name {component.name!r} already belongs to service "
                    f"{clash.service.slug} ({clash.service.catalog_ref})",
                )
            )
            return None
        service = create_service(
            organization=organization,
            name=wanted["name"],
            team=team,
            repository_url=wanted["repository_url"],
            description=wanted["description"],
        )
        Service.objects.filter(pk=service.pk).update(
            catalog_ref=component.ref,
            display_name=wanted["display_name"],
            lifecycle=wanted["lifecycle"],
            catalog_namespace=wanted["catalog_namespace"],
        )
        service.refresh_from_db()
        report.created.append(component.ref)
    else:
        changed = [k for k, v in wanted.items() if getattr(service, k) != v]
        if service.catalog_ref != component.ref:
            changed.append("catalog_ref")
        if changed:
            for key, value in wanted.items():
                setattr(service, key, value)
            service.catalog_ref = component.ref
            service.save()
            if {"name", "repository_url"} & set(changed):
                report.moved += sync_service_keys(service=service)
            report.updated.append(f"{component.ref}: {', '.join(sorted(changed))}")
        else:
            report.unchanged.append(component.ref)
    for repository in component.repositories[1:]:
        key = normalize_key(repository)
        if not key or service.aliases.filter(key=key).exists():
            continue
        try:
            report.moved += add_alias(service=service, name=repository)
        except ValueError as exc:
            report.skipped.append(Skipped(component.source, f"{component.ref}: {exc}"))
    return service


def _loose(text: str) -> str:
    """`Artist Lookup`, `artist_lookup` and `artist-lookup` are one loose form."""
    return re.sub(r"[\W_]+", "", text.casefold())


def _propose(*, organization: Organization, services: list[Service], report: SyncReport):
    """Mark open suggestions that look like a synced service for one-click acceptance.

    Exact names were already attached (an alias re-attributes and accepts); what is left
    differs in case, separators, a namespace or the title, which only a person should confirm.
    """
    forms: dict[str, Service] = {}
    for service in services:
        for text in (service.name, service.display_name, service.catalog_ref):
            loose = _loose(text)
            if loose:
                forms.setdefault(loose, service)
        for alias in service.aliases.all():
            forms.setdefault(_loose(alias.key.rsplit("/", 1)[-1]), service)
    open_ones = ServiceSuggestion.objects.filter(
        organization=organization, status=SuggestionStatus.OPEN
    )
    for suggestion in open_ones:
        key = suggestion.key
        match = forms.get(_loose(key)) or forms.get(_loose(key.rsplit("/", 1)[-1]))
        match = match or forms.get(_loose(key.rpartition(":")[2]))
        if match is None:
            continue
        if suggestion.catalog_match_id != match.pk:
            ServiceSuggestion.objects.filter(pk=suggestion.pk).update(catalog_match=match)
        report.proposals.append((suggestion.name, match.slug))


def sync_catalog(*, organization: Organization, catalog: Catalog) -> SyncReport:
    """Create or update one service per Component; report the rest. Safe to run again."""
    report = SyncReport(skipped=list(catalog.skipped))
    synced: list[Service] = []
    for component in catalog.components:
        team = team_of(component.owner, catalog.group_titles)[:200]
        with transaction.atomic():
            service = _apply(
                organization=organization, component=component, team=team, report=report
            )
        if service is not None:
            synced.append(service)
    if catalog.components:
        refs = {c.ref for c in catalog.components}
        gone = Service.objects.filter(organization=organization).exclude(catalog_ref="")
        report.missing = sorted(
            ref for ref in gone.values_list("catalog_ref", flat=True) if ref not in refs
        )
    with transaction.atomic():
        _propose(organization=organization, services=synced, report=report)
    return report
