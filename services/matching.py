"""Normalizing service names and repository URLs, and matching them to catalogued services."""

import re

from services.models import ServiceAlias

# https://host/org/repo(.git), ssh://git@host[:port]/org/repo.git, git@host:org/repo.git
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?[^/]+/(?P<path>.+)$")
_SCP = re.compile(r"^[^@/\s]+@[^:/\s]+:(?P<path>.+)$")


def normalize_key(raw: str) -> str:
    """The matching key of a service name, alias or repository URL.

    Case-insensitive and trimmed; every form of a repository URL reduces to "org/repo",
    so `https://github.com/Org/Repo.git`, `git@github.com:org/repo.git` and `org/repo`
    are one key.
    """
    key = raw.strip().lower()
    match = _URL.match(key) or _SCP.match(key)
    if match:
        key = match.group("path")
        key = key.split("?", 1)[0].split("#", 1)[0]
        key = key.strip("/")
    if "/" in key:
        # "org/repo.git" is the same repository as "org/repo".
        key = key.removesuffix(".git").strip("/")
    return key


def resolve_service_id(*, organization_id: int, name: str) -> int | None:
    """The id of the service known by this name in the organization, or None.

    One lookup on the (organization, key) unique index.
    """
    key = normalize_key(name)
    if not key:
        return None
    return (
        ServiceAlias.objects.filter(organization_id=organization_id, key=key)
        .values_list("service_id", flat=True)
        .first()
    )
