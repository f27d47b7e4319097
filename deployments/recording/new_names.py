"""A cap on the new service names an organization's webhooks can add in a UTC day.

Every unknown name becomes a suggestion an admin reviews, and the per-service metrics and
`/metrics` grow with them: a misconfigured pipeline (a build number in the service name) or a
leaked ingest key could otherwise bury the review and the metrics under thousands of names.
Past the cap a delivery with one more new name is refused with 429 and Retry-After until the
next UTC midnight, in the format's error shape, and stores nothing (the sender retries it);
deliveries under known names are never refused. `import_deployments` is not capped: an admin
runs it on purpose. The dashboard's "needs a person" panel says when the cap is reached.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import Throttled

from services.models import ServiceSuggestion


def daily_cap() -> int:
    """The cap; 0 means none."""
    return max(0, int(getattr(settings, "MAX_NEW_SERVICE_NAMES_PER_DAY", 0) or 0))


def _day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def new_names_today(*, organization_id: int, now: datetime | None = None) -> int:
    """Suggestions the organization's deliveries created since the last UTC midnight."""
    return ServiceSuggestion.objects.filter(
        organization_id=organization_id, created_at__gte=_day_start(now or timezone.now())
    ).count()


class TooManyNewNames(Throttled):
    default_detail = "Too many new service names today"


def check(*, organization_id: int, new_keys: Iterable[str]) -> None:
    """Raise TooManyNewNames when adding `new_keys` (names no suggestion or service has yet)
    would take the organization past today's cap."""
    new = set(new_keys)
    cap = daily_cap()
    if not new or not cap:
        return
    now = timezone.now()
    if new_names_today(organization_id=organization_id, now=now) + len(new) <= cap:
        return
    wait = (_day_start(now) + timedelta(days=1) - now).total_seconds()
    raise TooManyNewNames(
        wait=wait,
        detail=(
            f"This organization's deliveries added {cap} new service names today, its daily "
            "cap (PERISCOPE_MAX_NEW_SERVICE_NAMES_PER_DAY): a delivery under a name nothing "
            "matches is refused until midnight UTC. Catalogue the names, or send known ones."
        ),
    )
