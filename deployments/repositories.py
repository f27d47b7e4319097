"""Repositories: created from the URLs forges and pipelines send, and found for a deployment."""

from deployments.models import Deployment, Repository
from periscope.models import Organization
from services.matching import normalize_key, resolve_service_id
from services.models import ServiceAlias


def get_or_create_repository(*, organization: Organization, url: str) -> Repository | None:
    """The organization's repository for any form of its URL (or "owner/name"); None if empty."""
    key = normalize_key(url)
    if not key:
        return None
    repository, created = Repository.objects.get_or_create(
        organization=organization,
        key=key,
        defaults={
            "url": url.strip(),
            "name": key.rsplit("/", 1)[-1],
            "service_id": resolve_service_id(organization_id=organization.pk, name=url),
        },
    )
    return repository


def _by_names(*, organization_id: int, keys: list[str]) -> Repository | None:
    keys = [k for k in keys if k]
    if not keys:
        return None
    found = Repository.objects.filter(organization_id=organization_id, key__in=keys).first()
    if found is None:
        found = (
            Repository.objects.filter(organization_id=organization_id, name__in=keys)
            .order_by("id")
            .first()
        )
    return found


def repository_for_deployment(deployment: Deployment) -> Repository | None:
    """The repository a deployment shipped from, in this order:

    1. the service's repository URL (a repository attached to the service counts too);
    2. a repository whose `owner/name` or `name` equals the service's name or an alias key;
    3. while unmatched, one whose `owner/name` or `name` equals the name it was sent with;
    4. the repository URL the payload carried (Hivel sends only that), created if new.
    """
    org_id = deployment.organization_id
    service = deployment.service
    if service is not None:
        if service.repository_url:
            found = Repository.objects.filter(
                organization_id=org_id, key=normalize_key(service.repository_url)
            ).first()
            if found is not None:
                return found
        found = Repository.objects.filter(organization_id=org_id, service=service).first()
        if found is not None:
            return found
        keys = list(ServiceAlias.objects.filter(service=service).values_list("key", flat=True))
        found = _by_names(organization_id=org_id, keys=[normalize_key(service.name), *keys])
        if found is not None:
            return found
    elif deployment.service_key:
        found = _by_names(organization_id=org_id, keys=[deployment.service_key])
        if found is not None:
            return found
    url = deployment.repository_url or (service.repository_url if service else "")
    if url:
        return get_or_create_repository(organization=deployment.organization, url=url)
    return None
