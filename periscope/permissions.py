from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission

from periscope.authentication import INVALID_KEY_MESSAGE
from periscope.models import ApiKey, Scope


def request_key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


def missing_scope_message(scope: str) -> str:
    return f"This API key lacks the '{scope}' scope"


def require_scope(api_key: ApiKey | None, scope: str) -> None:
    """No valid key: 401. A valid key without `scope`: 403 naming it. The same on every
    endpoint, ingest and read alike (an ingest endpoint once answered a read-only key 401, as
    if the key were wrong, while a read endpoint answered an ingest key 403)."""
    if api_key is None:
        raise AuthenticationFailed(INVALID_KEY_MESSAGE)
    if not api_key.has_scope(scope):
        raise PermissionDenied(missing_scope_message(scope))


class HasIngestScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        require_scope(request_key(request), Scope.INGEST)
        return True


class HasReadScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        require_scope(request_key(request), Scope.READ)
        return True
