"""Linking each successful production deployment to the commits and pull requests it shipped.

Runs when a deployment is recorded (registered with the recorder) and again for the affected
deployments whenever commits, pushes or pull requests arrive, so arrival order never changes
the result. Deployment fields read: commit_sha, previous_commit_sha, repository_url,
commit_at (the commit time its delivery carried), and from `metadata`: `commit` (an object:
sha/id, message, author_name/author), `pr_numbers` (a list or a comma-separated string) and
`pr_number`.

The start of the deployment's own commit: the authored time forge data recorded for it
(GitHub/GitLab webhooks, sync_repository), else the commit time its delivery carried. The
carried time is never written to the commit itself, so forge data arriving later takes its
place on the relink it triggers. Without any repository for the deployment, its own commit is
linked on its own (a DeploymentCommit without repository) when its delivery carried a time.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from deployments.changes.ancestry import commits_between, commits_since
from deployments.changes.commits import CommitData, record_commits
from deployments.changes.repositories import repository_for_deployment
from deployments.models import (
    Commit,
    CommitParent,
    DeliveryAction,
    Deployment,
    DeploymentCommit,
    DeploymentPullRequest,
    PullRequest,
    Repository,
    Status,
)
from deployments.recording.environments import PRODUCTION
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import maintain as rollups
from periscope import rows
from services.models import Service


def _linkable_values(*, status: str, environment: str, commit_sha: str, completed_at) -> bool:
    # Only a production success with a commit can link changes (or bound another's links).
    return (
        status == Status.SUCCESS
        and environment == PRODUCTION
        and bool(commit_sha)
        and completed_at is not None
    )


def _linkable(deployment: Deployment) -> bool:
    return _linkable_values(
        status=deployment.status,
        environment=deployment.environment,
        commit_sha=deployment.commit_sha,
        completed_at=deployment.completed_at,
    )


def _production_successes(deployment: Deployment):
    return Deployment.objects.filter(
        ServiceGroup.of_row(deployment).q(),
        organization_id=deployment.organization_id,
        status=Status.SUCCESS,
        environment=PRODUCTION,
        completed_at__isnull=False,
    ).exclude(commit_sha="")


def previous_deployment(deployment: Deployment) -> Deployment | None:
    at = deployment.completed_at
    return (
        _production_successes(deployment)
        .filter(Q(completed_at__lt=at) | Q(completed_at=at, id__lt=deployment.pk))
        .order_by("-completed_at", "-id")
        .first()
    )


def next_deployment(deployment: Deployment) -> Deployment | None:
    at = deployment.completed_at
    if at is None:
        return None
    return (
        _production_successes(deployment)
        .filter(Q(completed_at__gt=at) | Q(completed_at=at, id__gt=deployment.pk))
        .order_by("completed_at", "id")
        .first()
    )


def _payload_commit(deployment: Deployment) -> CommitData | None:
    """OpsLevel's `commit` object (via metadata) describes the deployed commit: its author
    and message. Its times are not recorded on the commit (the repository's commits hold
    forge data only, which must win when it arrives): see carried_start."""
    data = (deployment.metadata or {}).get("commit")
    if not isinstance(data, dict):
        return None
    sha = str(data.get("sha") or data.get("id") or deployment.commit_sha).strip().lower()
    if not sha:
        return None
    return CommitData(
        sha=sha,
        author=str(data.get("author_name") or data.get("author") or "")[:255],
        message=str(data.get("message") or ""),
    )


def carried_start(deployment: Deployment) -> datetime | None:
    """The commit time the deployment's delivery carried, if usable as its commit's start: a
    time after the deployment completed is a clock or a payload wrong, not a lead time."""
    at, completed = deployment.commit_at, deployment.completed_at
    if at is None or completed is None or at > completed:
        return None
    return at


def _link_carried_commit(deployment: Deployment) -> int:
    """No repository holds the deployment's commits: its own commit is its one change, timed
    by its delivery (when it carried a time). Returns the PRs linked: none."""
    start = carried_start(deployment)
    if start is None:
        return 0
    DeploymentCommit.objects.create(
        organization_id=deployment.organization_id,
        deployment=deployment,
        repository=None,
        sha=deployment.commit_sha.strip().lower()[:64],
        service_group=ServiceGroup.of_row(deployment).encode(),
        started_at=start,
        lead_seconds=_seconds(deployment.completed_at, start),
    )
    return 0


# One deployment links at most this many pull requests named in its payload (Hivel refuses a
# longer pr_numbers with 400; other formats' metadata is cut here): each one that is not
# known yet becomes a placeholder pull request, so the count is work an API key controls.
MAX_PAYLOAD_PR_NUMBERS = 100


def payload_pr_numbers(deployment: Deployment) -> list[int]:
    """Hivel's pr_numbers / pr_number, as a list or a comma-separated string; the first
    MAX_PAYLOAD_PR_NUMBERS distinct valid numbers, sorted."""
    metadata = deployment.metadata or {}
    raw = metadata.get("pr_numbers")
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    items = [metadata.get("pr_number"), *items]
    numbers: set[int] = set()
    for item in items:
        text = str(item if item is not None else "").strip().lstrip("#")
        if text.isdigit() and len(text) <= 10 and 0 < int(text) < 2**31:
            numbers.add(int(text))
            if len(numbers) >= MAX_PAYLOAD_PR_NUMBERS:
                break
    return sorted(numbers)


def _payload_pull_requests(repository: Repository, numbers: list[int]) -> list[PullRequest]:
    """The repository's pull requests with these numbers, placeholders created for unknown
    ones: three statements for any count (not a get_or_create each)."""
    if not numbers:
        return []
    known = PullRequest.objects.filter(repository=repository, number__in=numbers)
    missing = set(numbers) - set(known.values_list("number", flat=True))
    if missing:
        PullRequest.objects.bulk_create(
            [
                PullRequest(
                    repository=repository, number=n, organization_id=repository.organization_id
                )
                for n in sorted(missing)
            ],
            ignore_conflicts=True,  # a concurrent delivery may create the same placeholder
        )
    return list(known.order_by("number"))


def _ensure_commit(repository: Repository, sha: str) -> None:
    Commit.objects.get_or_create(
        repository=repository, sha=sha, defaults={"organization_id": repository.organization_id}
    )


def _in_graph(repository: Repository, sha: str) -> bool:
    # Two lookups, one per index: SQLite answers the OR of both with a scan of all edges.
    edges = CommitParent.objects.filter(repository=repository)
    return edges.filter(child_sha=sha).exists() or edges.filter(parent_sha=sha).exists()


def full_sha(repository: Repository, sha: str) -> str:
    """A short sha (Periscope accepts 5-40 hex digits) as the one known commit it abbreviates."""
    sha = sha.strip().lower()
    if not sha or len(sha) >= 40:
        return sha
    found = list(
        Commit.objects.filter(repository=repository, sha__startswith=sha).values_list(
            "sha", flat=True
        )[:2]
    )
    return found[0] if len(found) == 1 else sha


def shipped_shas(*, deployment: Deployment, repository: Repository) -> set[str]:
    """git log base..head, where base is previousCommitSha, else the previous successful
    production deployment of the same service; a first deployment (or a base the graph does
    not know) reaches back only to the horizon."""
    head = full_sha(repository, deployment.commit_sha)
    base = deployment.previous_commit_sha
    if not base:
        previous = previous_deployment(deployment)
        base = previous.commit_sha if previous else ""
    base = full_sha(repository, base)
    if base and (base == head or _in_graph(repository, base)):
        return commits_between(repository_id=repository.pk, head=head, base=base)
    horizon = timedelta(days=settings.LEAD_TIME_FIRST_DEPLOYMENT_HORIZON_DAYS)
    found = commits_since(
        repository_id=repository.pk, head=head, since=deployment.completed_at - horizon
    )
    if base:
        found -= {base}
    return found


def _pull_requests(*, deployment: Deployment, repository: Repository, shas: set[str]):
    found = {
        pr.pk: pr
        for pr in PullRequest.objects.filter(repository=repository, merged_at__isnull=False)
        .filter(Q(merge_commit_sha__in=shas) | Q(head_sha__in=shas))
        .order_by("number")
    }
    for pr in _payload_pull_requests(repository, payload_pr_numbers(deployment)):
        found.setdefault(pr.pk, pr)
    return list(found.values())


def _assign(prs: list[PullRequest], shas: set[str], repository: Repository) -> dict[str, int]:
    """Which linked PR each shipped commit came with: its merge commit, its head and the
    head's ancestors among the shipped commits."""
    parents: dict[str, list[str]] = {}
    for child, parent in CommitParent.objects.filter(
        repository=repository, child_sha__in=list(shas)
    ).values_list("child_sha", "parent_sha"):
        parents.setdefault(child, []).append(parent)
    owner: dict[str, int] = {}
    for pr in sorted(prs, key=lambda p: p.number):
        if pr.merge_commit_sha in shas:
            owner.setdefault(pr.merge_commit_sha, pr.pk)
        # A true merge commit: the PR's commits are the head's ancestors that the target
        # branch (the merge's first parent) did not already have.
        merge_parents = parents.get(pr.merge_commit_sha, [])
        excluded = (
            _ancestors_within(merge_parents[:1], shas, parents) if len(merge_parents) > 1 else set()
        )
        stack = [pr.head_sha] if pr.head_sha in shas else []
        seen: set[str] = set()
        while stack:
            sha = stack.pop()
            if sha in seen or sha in excluded or owner.get(sha, pr.pk) != pr.pk:
                continue
            seen.add(sha)
            owner[sha] = pr.pk
            stack.extend(p for p in parents.get(sha, ()) if p in shas)
    return owner


def _ancestors_within(starts, shas: set[str], parents: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    stack = [s for s in starts if s in shas]
    while stack:
        sha = stack.pop()
        if sha not in found:
            found.add(sha)
            stack.extend(p for p in parents.get(sha, ()) if p in shas)
    return found


def _seconds(end: datetime | None, start: datetime | None) -> float | None:
    if end is None or start is None:
        return None
    return (end - start).total_seconds()


def link_deployment(deployment: Deployment, *, fresh: bool = False) -> int:
    """Replace the deployment's links with what it shipped; returns the number of PRs.

    `fresh`: the deployment was just created, so it has no links to replace.
    """
    # Which deployment first shipped a change may move, before and after the relink.
    rollups.note_deployment_row(deployment)
    rollups.note_links(organization_id=deployment.organization_id, deployment_ids=[deployment.pk])
    if not fresh:
        rollups.note_links(
            organization_id=deployment.organization_id, deployment_ids=[deployment.pk], now=True
        )
        DeploymentCommit.objects.filter(deployment=deployment).delete()
        DeploymentPullRequest.objects.filter(deployment=deployment).delete()
    if not _linkable(deployment):
        return 0
    repository = repository_for_deployment(deployment)
    if repository is None:
        return _link_carried_commit(deployment)
    payload_commit = _payload_commit(deployment)
    if payload_commit is not None:
        record_commits(repository=repository, commits=[payload_commit])
    head = full_sha(repository, deployment.commit_sha)
    _ensure_commit(repository, head)
    shas = shipped_shas(deployment=deployment, repository=repository)
    prs = _pull_requests(deployment=deployment, repository=repository, shas=shas)
    owner = _assign(prs, shas, repository)
    commits = {c.sha: c for c in Commit.objects.filter(repository=repository, sha__in=list(shas))}
    carried = carried_start(deployment)

    def authored(sha: str) -> datetime | None:
        # Forge data first; the deployed commit falls back on what its delivery carried.
        known = commits[sha].authored_at if sha in commits else None
        return known or (carried if sha == head else None)

    group = ServiceGroup.of_row(deployment).encode()
    completed = deployment.completed_at

    # Each PR's start is computed from this deployment's commits alone (never a running
    # minimum), so relinking after late data gives the same result in any arrival order.
    starts: dict[int, datetime | None] = {}
    for pr in prs:
        merge_only = {pr.merge_commit_sha} if pr.head_sha in owner else set()
        times = [
            authored(sha)
            for sha, pk in owner.items()
            if pk == pr.pk and authored(sha) and sha not in merge_only
        ]
        starts[pr.pk] = min(times) if times else None
        if starts[pr.pk] and pr.first_commit_at != starts[pr.pk]:
            pr.first_commit_at = starts[pr.pk]
            pr.save(update_fields=["first_commit_at"])

    DeploymentPullRequest.objects.bulk_create(
        [
            DeploymentPullRequest(
                organization_id=deployment.organization_id,
                deployment=deployment,
                pull_request=pr,
                service_group=group,
                started_at=starts[pr.pk] or pr.created_at,
                lead_seconds=_seconds(completed, starts[pr.pk] or pr.created_at),
                coding_seconds=_seconds(pr.created_at, starts[pr.pk]),
                review_seconds=_seconds(pr.merged_at, pr.created_at),
                waiting_seconds=_seconds(completed, pr.merged_at),
            )
            for pr in prs
        ]
    )
    DeploymentCommit.objects.bulk_create(
        [
            DeploymentCommit(
                organization_id=deployment.organization_id,
                deployment=deployment,
                repository=repository,
                sha=sha,
                pull_request_id=owner.get(sha),
                service_group=group,
                started_at=authored(sha),
                lead_seconds=_seconds(completed, authored(sha)),
            )
            for sha in sorted(shas)
        ],
        batch_size=500,
    )
    return len(prs)


_REPOSITORY_POSSIBLE = rows.Statement(
    "SELECT EXISTS (SELECT 1 FROM {repository} WHERE organization_id = %s),"
    " (SELECT repository_url FROM {service} WHERE id = %s)",
    repository=Repository,
    service=Service,
)


def _repository_possible(deployment: Deployment) -> bool:
    """Whether any repository could hold this deployment's commits: the organization has
    one, or the deployment's service names one (linking would create it). One statement, as
    every recorded production success asks; with no repository nothing can link, here or in
    a later deployment."""
    has_repository, service_repository = rows.fetchone(
        _REPOSITORY_POSSIBLE,
        [deployment.organization_id, deployment.service_id],
    )
    return bool(has_repository or service_repository)


def links_new(*, values: dict, repository_possible: bool) -> bool:
    """Whether a new deployment with these stored values can link anything: only a production
    success with a commit can, through a repository (its own URL, its service's, or one the
    organization has) or, without one, through the commit time its delivery carried."""
    return _linkable_values(
        status=values["status"],
        environment=values["environment"],
        commit_sha=values["commit_sha"],
        completed_at=values["completed_at"],
    ) and bool(values["repository_url"] or repository_possible or values["commit_at"])


def link_on_record(
    deployment: Deployment,
    *,
    action: str = DeliveryAction.UPDATED,
    repository_possible: bool | None = None,
) -> int:
    """The recorder's hook: link this deployment, then the next one of its service (whose
    boundary this one may now be). `repository_possible`, when the caller already looked it
    up, saves the lookup."""
    if action == DeliveryAction.CREATED and not _linkable(deployment):
        # New and not a production success: it has no links and bounds no other deployment.
        return 0
    if action in (DeliveryAction.DUPLICATE, DeliveryAction.STALE):
        # Nothing changed, so the links stand; report their count.
        return DeploymentPullRequest.objects.filter(deployment=deployment).count()
    if repository_possible is None:
        repository_possible = _repository_possible(deployment)
    if not deployment.repository_url and not repository_possible and deployment.commit_at is None:
        return 0
    count = link_deployment(deployment, fresh=action == DeliveryAction.CREATED)
    following = next_deployment(deployment)
    if following is not None:
        link_deployment(following)
    return count


def relink_repository(*, repository: Repository, since: datetime | None) -> int:
    """Relink the successful production deployments of the repository completed at or after
    `since` (all of them when None) after new commits or pull requests arrived."""
    candidates = Deployment.objects.filter(
        organization_id=repository.organization_id,
        status=Status.SUCCESS,
        environment=PRODUCTION,
        completed_at__isnull=False,
    ).exclude(commit_sha="")
    if since is not None:
        # A day of slack for clocks that disagree between laptops, forges and pipelines.
        candidates = candidates.filter(completed_at__gte=since - timedelta(days=1))
    cache: dict[tuple, int | None] = {}
    relinked = 0
    for deployment in candidates.select_related("service", "organization").order_by(
        "completed_at", "id"
    ):
        key = (deployment.service_id, deployment.service_key, deployment.repository_url)
        if key not in cache:
            found = repository_for_deployment(deployment)
            cache[key] = found.pk if found else None
        if cache[key] == repository.pk:
            link_deployment(deployment)
            relinked += 1
    return relinked
