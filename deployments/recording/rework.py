"""Rework: the deployments that were unplanned, made because of a problem in production
(DORA's deployment rework rate; definition in docs/metrics.md).

A deployment that reached its environment is rework when any of these holds:
- the sender said so (`Deployment.rework`: `declared()` reads what the formats carry);
- it is a detected rollback (`Deployment.rollback_of`, deployments/recording/rollbacks.py);
- it completed while an incident of the same service group and environment was open
  (started at or before its completion, not resolved by then).

`is_rework()` is the definition in SQL, which the raw reference (metrics/reference.py) counts
with. The rollup cells count the third rule from the incidents' side
(deployments/rollups/cells.py), which costs what the incidents cost rather than every
deployment's lookup of every earlier incident; the property tests hold the two equal.
"""

import re
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q

from deployments.models import Incident

# Metadata keys a pipeline already sends to say a deployment undid or patched another: the
# Periscope seed's `rollbackInitiated`, and our own `rework`.
_DECLARING_KEYS = ("rework", "rollbackInitiated")

# DevGrid's rollback and hotfix workflows: `deployment_type`, or a description that starts
# with the word ("Rollback to v2.0.5 due to incident INC0045678", "Hotfix: ...").
_DECLARING_TYPES = frozenset({"rollback", "hotfix", "revert"})
_DECLARING_DESCRIPTION = re.compile(r"^\s*(roll[\s-]?back|hot[\s-]?fix|revert)\b", re.IGNORECASE)


def declared(
    *, metadata: Mapping[str, Any] | None = None, kind: str = "", description: str = ""
) -> bool | None:
    """True when the sender declared the deployment rework; None when it said nothing (a
    repeat that says nothing keeps what an earlier delivery declared)."""
    metadata = metadata or {}
    for key in _DECLARING_KEYS:
        value = metadata.get(key)
        if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
            return True
    if kind.strip().lower() in _DECLARING_TYPES:
        return True
    if _DECLARING_DESCRIPTION.match(description or ""):
        return True
    return None


def _open_incident(**same_group) -> Exists:
    return Exists(
        Incident.objects.filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gt=OuterRef("completed_at")),
            organization_id=OuterRef("organization_id"),
            environment=OuterRef("environment"),
            started_at__lte=OuterRef("completed_at"),
            **same_group,
        )
    )


def is_declared_or_rollback() -> Q:
    """The first two rules, read off the row itself."""
    return Q(rework=True) | Q(rollback_of__isnull=False)


def is_rework() -> Q:
    """The condition on a Deployment row (reached or not: callers count reached ones)."""
    during_incident = Q(
        _open_incident(service_id=OuterRef("service_id")), service_id__isnull=False
    ) | Q(
        _open_incident(service__isnull=True, service_key=OuterRef("service_key")),
        service_id__isnull=True,
    )
    return is_declared_or_rollback() | during_incident
