"""Rollbacks detected from the commits (definition in docs/metrics.md).

A production success of a service group whose commit was deployed before, and which replaces
a different, later commit, is a rollback of the deployment it replaced:

- the deployment it replaced is the group's latest deployment that reached production
  before it;
- "later" is decided by the commit graph where it is known (the rollback's commit is an
  ancestor of the replaced one, deployments/changes/ancestry.py), and otherwise by the
  earlier deployment of the rollback's commit, before the replaced one.

The rollback stores `rollback_of`; the replaced deployment, if its sender said success,
counts as rolled back (`status` rolled_back, `rolled_back_detected`, `status_raw` as sent),
so the change failure rate and recovery time see it (recovered by the rollback). What the
sender said otherwise (failure, rolled back) stands. Every change is noted for the rollups
and goes through deployments/recording/recovery.py like a repeat's; the delivery log is not
touched. An organization can switch detection off (`Organization.detect_rollbacks`), which
undoes every detected effect.

Detection runs under the group's recovery lock (recovery.lock_groups): for the deployment
recorded, and for the group's next deployment after it, whose predecessor a late delivery
changes.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Q

from deployments.changes import ancestry
from deployments.models import REACHED_STATUSES, Commit, Deployment, Status
from deployments.recording import recovery
from deployments.recording.environments import PRODUCTION
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import maintain as rollups
from periscope import rows
from periscope.models import Organization

_FIELDS = (
    "id",
    "organization_id",
    "environment",
    "service_id",
    "service_key",
    "status",
    "commit_sha",
    "completed_at",
    "rollback_of_id",
    "rolled_back_detected",
)


def _reached(deployment: Deployment):
    return Deployment.objects.filter(
        ServiceGroup.of_row(deployment).q(),
        organization_id=deployment.organization_id,
        environment=deployment.environment,
        status__in=REACHED_STATUSES,
        completed_at__isnull=False,
    )


def _before(deployment: Deployment) -> Q:
    return Q(completed_at__lt=deployment.completed_at) | Q(
        completed_at=deployment.completed_at, id__lt=deployment.id
    )


def _after(deployment: Deployment) -> Q:
    return Q(completed_at__gt=deployment.completed_at) | Q(
        completed_at=deployment.completed_at, id__gt=deployment.id
    )


def _is_ancestor(*, organization_id: int, older: str, newer: str) -> bool | None:
    """Whether `older` is an ancestor of `newer` in a repository that knows both commits; None
    when no repository of the organization does (the graph is unknown)."""
    known: dict[int, dict[str, int]] = {}
    # A stub (no times: known only by its sha, as a deployment or a push's `before` named it)
    # says nothing of its parents.
    for repository_id, sha, generation in Commit.objects.filter(
        Q(authored_at__isnull=False) | Q(committed_at__isnull=False),
        organization_id=organization_id,
        sha__in=[older, newer],
    ).values_list("repository_id", "sha", "generation"):
        known.setdefault(repository_id, {})[sha] = generation
    for repository_id, generations in known.items():
        if len(generations) == 2:
            reach = ancestry.walk(
                repository_id=repository_id, start=newer, floor=generations[older]
            )
            return older in reach
    return None


def _said_success(deployment: Deployment) -> bool:
    # A success, or a success that a later detected rollback replaced.
    return deployment.status == Status.SUCCESS or deployment.rolled_back_detected


def replaced_by(deployment: Deployment) -> Deployment | None:
    """The deployment `deployment` rolled back, or None."""
    if not (
        _said_success(deployment)
        and deployment.environment == PRODUCTION
        and deployment.commit_sha
        and deployment.completed_at is not None
    ):
        return None
    reached = _reached(deployment).only(*_FIELDS)
    previous = reached.filter(_before(deployment)).order_by("-completed_at", "-id").first()
    if previous is None or not previous.commit_sha or previous.commit_sha == deployment.commit_sha:
        return None
    if not reached.filter(_before(previous), commit_sha=deployment.commit_sha).exists():
        return None
    older = _is_ancestor(
        organization_id=deployment.organization_id,
        older=deployment.commit_sha,
        newer=previous.commit_sha,
    )
    return previous if older in (None, True) else None


def _set_status(deployment: Deployment, *, status: str, detected: bool) -> None:
    """Change a stored deployment's status as a repeat would: rollups noted before and
    after, recovery times kept (its row lock taken here)."""
    Deployment.objects.select_for_update().filter(pk=deployment.pk).first()
    rollups.note_deployment_row(deployment)
    recovery.before_change(
        organization_id=deployment.organization_id,
        deployment_id=deployment.pk,
        changes={"status": status},
    )
    deployment.status = status
    deployment.rolled_back_detected = detected
    Deployment.objects.filter(pk=deployment.pk).update(status=status, rolled_back_detected=detected)
    rollups.note_deployment_row(deployment)


def _mark(replaced: Deployment) -> None:
    if replaced.status == Status.SUCCESS:
        _set_status(replaced, status=Status.ROLLED_BACK, detected=True)


def _unmark(replaced_id: int) -> None:
    """The deployment no detected rollback replaces any more gets back what its sender said."""
    replaced = Deployment.objects.filter(pk=replaced_id).only(*_FIELDS).first()
    if replaced is None or not replaced.rolled_back_detected:
        return
    if Deployment.objects.filter(rollback_of_id=replaced_id).exists():
        return
    _set_status(replaced, status=Status.SUCCESS, detected=False)


def _settle(deployment: Deployment, *, enabled: bool) -> None:
    """Make the stored relation of one deployment what detection says now."""
    target = replaced_by(deployment) if enabled else None
    target_id = target.pk if target is not None else None
    if deployment.rollback_of_id == target_id:
        if target is not None:
            _mark(target)
        return
    old = deployment.rollback_of_id
    rollups.note_deployment_row(deployment)  # its rework count changes
    Deployment.objects.filter(pk=deployment.pk).update(rollback_of_id=target_id)
    deployment.rollback_of_id = target_id
    if old is not None:
        _unmark(old)
    if target is not None:
        _mark(target)


# Whether a new deployment can be, or change, a detected rollback, in one statement (every
# new production deployment that reached it runs it):
# - the commit of the group's previous deployment that reached production (one backward
#   probe per status of the index deployment_metrics_range);
# - only when that commit differs from its own: whether its own commit reached production
#   before it, looked up by commit (index organization, commit_sha; the `+ 0` and `|| ''`
#   keep the planner from scanning the group's or the environment's history instead);
# - whether any deployment of the group reached production strictly later (a late
#   delivery): a tie in time is before a new deployment, whose id is the largest.
# In-order deliveries answer (x, false, false), and nothing more is done.
_PREVIOUS = """
SELECT commit_sha, completed_at, id FROM {table}
WHERE {same} AND status = %s AND completed_at <= %s AND (completed_at < %s OR id < %s)
ORDER BY completed_at DESC, id DESC LIMIT 1
"""
# The group's latest time in a status, compared: one descent of deployment_next_success (an
# ORDER BY ... LIMIT 1 over its equality prefix), which a generic plan keeps. An EXISTS over
# `completed_at > %s` was a sequential scan in the generic plan (the planner expects a third
# of the rows to match, and there are none), 0.5 ms at 4,000 rows and growing.
_LATER = """COALESCE((SELECT completed_at FROM {table} WHERE {same} AND status = %s
ORDER BY completed_at DESC LIMIT 1) > %s, FALSE)"""
_CANDIDATE = """
SELECT p.commit_sha,
       CASE WHEN p.commit_sha <> %s THEN EXISTS (
           SELECT 1 FROM {table}
           WHERE organization_id = %s AND commit_sha = %s AND environment || '' = %s
             AND {by_commit}
             AND status IN (%s, %s) AND completed_at <= %s AND (completed_at < %s OR id < %s))
       ELSE FALSE END,
       {later} OR {later}
FROM (SELECT 1 AS one) o LEFT JOIN (
    SELECT * FROM (
        SELECT * FROM ({previous}) s UNION ALL SELECT * FROM ({previous}) r
    ) both_statuses ORDER BY completed_at DESC, id DESC LIMIT 1
) p ON 1 = 1
"""


def _candidate_sql(deployment: Deployment) -> tuple[str, list]:
    group = ServiceGroup.of_row(deployment)
    group_sql, group_params = recovery.group_sql(group)
    if group.service_id is not None:
        by_commit = "service_id + 0 = %s"
    else:
        by_commit = "service_id IS NULL AND service_key || '' = %s"
    same = f"organization_id = %s AND environment = %s AND {group_sql}"
    same_params = [deployment.organization_id, deployment.environment, *group_params]
    table = recovery.table()
    sql = _CANDIDATE.format(
        table=table,
        by_commit=by_commit,
        later=_LATER.format(table=table, same=same),
        previous=_PREVIOUS.format(table=table, same=same),
    )
    when, pk = recovery.when(deployment.completed_at), deployment.pk
    success, rolled_back = Status.SUCCESS.value, Status.ROLLED_BACK.value
    params = [
        deployment.commit_sha,
        deployment.organization_id,
        deployment.commit_sha,
        deployment.environment,
        *group_params,
        success,
        rolled_back,
        when,
        when,
        pk,
        *same_params,
        success,
        when,
        *same_params,
        rolled_back,
        when,
        *same_params,
        success,
        when,
        when,
        pk,
        *same_params,
        rolled_back,
        when,
        when,
        pk,
    ]
    return sql, params


def _answer(deployment: Deployment, row: tuple) -> bool:
    previous_commit, seen_before, followed = row
    replaces_other = previous_commit is not None and previous_commit != deployment.commit_sha
    return bool(followed) or (replaces_other and bool(seen_before))


def _is_candidate(deployment: Deployment) -> bool:
    # Through periscope/rows.py: bound on the server, so each connection prepares it after its
    # fifth use (two texts: service and unmatched name) instead of planning its eight probes
    # on every delivery (~0.7 ms of PostgreSQL CPU).
    return _answer(deployment, rows.fetchone(*_candidate_sql(deployment)))


def send_candidate_check(
    *, organization: Organization, deployment: Deployment
) -> Callable[[], bool] | None:
    """Inside a new production success's `rows.transaction()`, after its recovery lock
    (recovery.after_insert): the candidate check, sent in the pipeline, so that it costs no
    round trip of its own; the returned function answers it after the commit. For a delivery
    that needs_detection(); None when it takes no lock (or detection is off). Under the group's lock the statement sees every delivery of the
    group committed before it, and one committing later takes the lock after this commit and
    sees this one: the race detect_after_record covers by checking after the commit."""
    if not organization.detect_rollbacks or not recovery.takes_lock(
        status=deployment.status,
        environment=deployment.environment,
        completed_at=deployment.completed_at,
    ):
        return None
    read = rows.send(*_candidate_sql(deployment))
    return lambda: _answer(deployment, read())


def detect(
    *, organization: Organization, deployment_id: int, new: bool = False, checked: bool = False
) -> None:
    """After a deployment is recorded or changed (inside the caller's transaction): settle it
    and the next deployment of its group, under the group's recovery lock.

    A `new` deployment is settled only when _is_candidate says it may matter (one query, the
    common case ends there; `checked`: the caller asked already). A changed one is settled
    whenever it is, or was, in production or in a detected rollback."""
    deployment = Deployment.objects.filter(pk=deployment_id).only(*_FIELDS).first()
    if deployment is None:
        return
    involved = deployment.rollback_of_id is not None or deployment.rolled_back_detected
    in_production = deployment.environment == PRODUCTION and deployment.completed_at is not None
    if not involved:
        if not in_production:
            return
        if new and not organization.detect_rollbacks:
            return
        if new and not checked and not _is_candidate(deployment):
            return
    recovery.lock_groups(organization_id=organization.pk, groups=[ServiceGroup.of_row(deployment)])
    enabled = organization.detect_rollbacks
    _settle(deployment, enabled=enabled)
    if deployment.completed_at is not None and deployment.environment == PRODUCTION:
        following = (
            _reached(deployment)
            .filter(_after(deployment))
            .order_by("completed_at", "id")
            .only(*_FIELDS)
            .first()
        )
        if following is not None:
            _settle(following, enabled=enabled)


def detect_after_record(
    *,
    organization: Organization,
    deployment: Deployment,
    checked: Callable[[], bool] | None = None,
) -> None:
    """After a delivery's fast path committed a new production deployment: one query (or the
    answer of the one `send_candidate_check` sent before the commit), and detect() in a
    transaction of its own when it may be, or change, a rollback. (Two such deliveries of one
    group racing: each checks after its own commit, or under the group's lock, so the later
    check sees the other.)"""
    if not organization.detect_rollbacks:
        return  # switched off: every detected rollback was undone, a new one is none
    if deployment.completed_at is None:
        return
    if not (checked() if checked is not None else _is_candidate(deployment)):
        return
    with transaction.atomic():
        detect(organization=organization, deployment_id=deployment.pk, new=True, checked=True)


@contextmanager
def deleting(*, organization: Organization, ids: Iterable[int]) -> Iterator[None]:
    """Around deleting deployments (in the caller's transaction): what they replaced gets back
    what its sender said, and their rollbacks and successors are settled again."""
    ids = list(ids)
    replaced = set(
        Deployment.objects.filter(pk__in=ids, rollback_of__isnull=False).values_list(
            "rollback_of_id", flat=True
        )
    )
    affected = set(Deployment.objects.filter(rollback_of_id__in=ids).values_list("id", flat=True))
    rollups.note_deployments(organization_id=organization.pk, ids=affected)
    yield
    for replaced_id in replaced - set(ids):
        _unmark(replaced_id)
    for deployment_id in affected - set(ids):
        detect(organization=organization, deployment_id=deployment_id)


def needs_detection(*, environment: str, status: str, commit_sha: str) -> bool:
    """Whether a newly recorded deployment can be, or can change, a detected rollback."""
    return environment == PRODUCTION and status in REACHED_STATUSES and bool(commit_sha)


def _desired(organization_id: int, rows: list[Deployment]) -> dict[int, int | None]:
    """{deployment id: the id it rolls back, or None} for one group's reached production
    deployments in order: replaced_by() over the whole group in one pass."""
    first_seen: dict[str, int] = {}
    desired: dict[int, int | None] = {}
    for index, row in enumerate(rows):
        target = None
        previous = rows[index - 1] if index else None
        if (
            previous is not None
            and _said_success(row)
            and row.commit_sha
            and previous.commit_sha
            and previous.commit_sha != row.commit_sha
            and first_seen.get(row.commit_sha, index) < index - 1
            and _is_ancestor(
                organization_id=organization_id, older=row.commit_sha, newer=previous.commit_sha
            )
            in (None, True)
        ):
            target = previous.pk
        desired[row.pk] = target
        if row.commit_sha:
            first_seen.setdefault(row.commit_sha, index)
    return desired


def _groups_of(production) -> list[ServiceGroup]:
    return [
        ServiceGroup.of(service_id=service_id, service_key=service_key)
        for service_id, service_key in production.values_list("service_id", "service_key")
        .distinct()
        .order_by()
    ]


def redetect(*, organization: Organization, groups: Iterable[ServiceGroup] | None = None) -> int:
    """Settle every production deployment of the organization (or of `groups`) at once: after
    an import, or when detection is switched on or off. One query per group, and writes only
    for what changes. Returns the rollbacks the organization has now."""
    production = Deployment.objects.filter(
        organization_id=organization.pk,
        environment=PRODUCTION,
        status__in=REACHED_STATUSES,
        completed_at__isnull=False,
    )
    groups = _groups_of(production) if groups is None else list(groups)
    with transaction.atomic():
        recovery.lock_groups(organization_id=organization.pk, groups=groups)
        for group in groups:
            rows = list(production.filter(group.q()).order_by("completed_at", "id").only(*_FIELDS))
            if organization.detect_rollbacks:
                desired = _desired(organization.pk, rows)
            else:
                desired = dict.fromkeys((row.pk for row in rows), None)
            targeted = {target for target in desired.values() if target is not None}
            for row in rows:
                if row.rollback_of_id != desired[row.pk]:
                    rollups.note_deployment_row(row)
                    Deployment.objects.filter(pk=row.pk).update(rollback_of_id=desired[row.pk])
            for row in rows:
                if row.pk in targeted and row.status == Status.SUCCESS:
                    _set_status(row, status=Status.ROLLED_BACK, detected=True)
                elif row.pk not in targeted and row.rolled_back_detected:
                    _set_status(row, status=Status.SUCCESS, detected=False)
        # A deployment that left production (or the reached statuses) rolls nothing back.
        for row in Deployment.objects.filter(
            organization_id=organization.pk, rollback_of__isnull=False
        ).exclude(pk__in=production.values("pk")):
            _settle(row, enabled=False)
        return Deployment.objects.filter(
            organization_id=organization.pk, rollback_of__isnull=False
        ).count()
