from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission

from periscope.authentication import INVALID_KEY_MESSAGE
from periscope.models import ApiKey, Scope


def request_key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class HasIngestScope(BasePermission):
    """Ingest endpoints answer 401 for any key that cannot ingest, as the seed docs say."""

    def has_permission(self, request, view) -> bool:
        api_key = request_key(request)
        if api_key is None or not api_key.has_scope(Scope.INGEST):
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        return True


class HasReadScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        api_key = request_key(request)
        if api_key is None:
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        if not api_key.has_scope(Scope.READ):
            raise PermissionDenied("This API key lacks the 'read' scope")
        return True
