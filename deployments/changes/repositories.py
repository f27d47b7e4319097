"""Repositories: created from the URLs forges and pipelines send, and found for a deployment."""

from django.db.models import Q

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
            # A key's last segment may be longer than a name (a 256-character "URL").
            "name": key.rsplit("/", 1)[-1][: Repository._meta.get_field("name").max_length],
            "service_id": resolve_service_id(organization_id=organization.pk, name=url),
        },
    )
    return repository


def _best(
    *, organization_id: int, keys: list[str], url_key: str = "", service_id: int | None = None
) -> Repository | None:
    """One query for every candidate, ranked: the URL's key, then a repository attached to the
    service, then `owner/name` equal to a key (by key order), then `name` equal to one (oldest)."""
    keys = [k for k in keys if k]
    match = Q(key__in=keys) | Q(name__in=keys)
    if url_key:
        match |= Q(key=url_key)
    if service_id is not None:
        match |= Q(service_id=service_id)
    if not keys and not url_key and service_id is None:
        return None
    candidates = list(Repository.objects.filter(match, organization_id=organization_id))

    def rank(repository: Repository) -> tuple:
        if url_key and repository.key == url_key:
            return (0, "", 0)
        if service_id is not None and repository.service_id == service_id:
            return (1, repository.key, 0)
        if repository.key in keys:
            return (2, repository.key, 0)
        return (3, "", repository.pk)

    return min(candidates, key=rank, default=None)


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
        # The service's own name and repository are alias rows too (kind name/repository).
        keys = list(ServiceAlias.objects.filter(service=service).values_list("key", flat=True))
        found = _best(
            organization_id=org_id,
            keys=[normalize_key(service.name), *keys],
            url_key=normalize_key(service.repository_url),
            service_id=service.pk,
        )
        if found is not None:
            return found
    elif deployment.service_key:
        found = _best(organization_id=org_id, keys=[deployment.service_key])
        if found is not None:
            return found
    url = deployment.repository_url or (service.repository_url if service else "")
    if url:
        return get_or_create_repository(organization=deployment.organization, url=url)
    return None
