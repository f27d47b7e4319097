"""Changes: pull requests and commits, with the lead time of the first production deployment
that shipped them (the links the lead-time linker stores)."""

from django.db.models import OuterRef, QuerySet, Subquery

from deployments.models import Commit, DeploymentCommit, DeploymentPullRequest, PullRequest

_LINK_FIELDS = ("deployment_id", "deployment__completed_at", "lead_seconds")
_STAGE_FIELDS = ("coding_seconds", "review_seconds", "waiting_seconds")


def _first(links: QuerySet, fields: tuple[str, ...]) -> dict:
    """Subquery annotations for the earliest-deployed link of each row."""
    earliest = links.order_by("deployment__completed_at", "deployment_id")
    names = {"deployment_id": "first_deployment_id", "deployment__completed_at": "deployed_at"}
    return {names.get(f, f): Subquery(earliest.values(f)[:1]) for f in fields}


def pull_requests(*, organization_id: int) -> QuerySet:
    links = DeploymentPullRequest.objects.filter(pull_request=OuterRef("pk"))
    return (
        PullRequest.objects.filter(organization_id=organization_id)
        .select_related("repository")
        .annotate(**_first(links, _LINK_FIELDS + _STAGE_FIELDS))
    )


def commits(*, organization_id: int) -> QuerySet:
    links = DeploymentCommit.objects.filter(
        organization_id=organization_id, repository=OuterRef("repository"), sha=OuterRef("sha")
    )
    return (
        Commit.objects.filter(organization_id=organization_id)
        .select_related("repository")
        .annotate(**_first(links, _LINK_FIELDS))
    )


def _time(value):
    return value.isoformat() if value is not None else None


def pull_request_json(pr: PullRequest) -> dict:
    return {
        "id": pr.pk,
        "kind": "pull_request",
        "repository": pr.repository.key,
        "number": pr.number,
        "title": pr.title,
        "author": pr.author,
        "state": pr.state,
        "created_at": _time(pr.created_at),
        "merged_at": _time(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha,
        "head_sha": pr.head_sha,
        "base_branch": pr.base_branch,
        "first_commit_at": _time(pr.first_commit_at),
        "deployment": getattr(pr, "first_deployment_id", None),
        "deployed_at": _time(getattr(pr, "deployed_at", None)),
        "lead_seconds": getattr(pr, "lead_seconds", None),
        "coding_seconds": getattr(pr, "coding_seconds", None),
        "review_seconds": getattr(pr, "review_seconds", None),
        "waiting_seconds": getattr(pr, "waiting_seconds", None),
    }


def commit_json(commit: Commit) -> dict:
    return {
        "id": commit.pk,
        "kind": "commit",
        "repository": commit.repository.key,
        "sha": commit.sha,
        "author": commit.author,
        "message": commit.message,
        "authored_at": _time(commit.authored_at),
        "committed_at": _time(commit.committed_at),
        "deployment": getattr(commit, "first_deployment_id", None),
        "deployed_at": _time(getattr(commit, "deployed_at", None)),
        "lead_seconds": getattr(commit, "lead_seconds", None),
    }


def changes_of_deployment(*, deployment) -> list[dict]:
    """What a deployment shipped: its pull requests, then the commits that came without one."""
    prs = DeploymentPullRequest.objects.filter(deployment=deployment).select_related(
        "pull_request__repository"
    )
    shipped = [
        pull_request_json(link.pull_request)
        | {
            "deployment": deployment.pk,
            "deployed_at": _time(deployment.completed_at),
            "lead_seconds": link.lead_seconds,
            **{f: getattr(link, f) for f in _STAGE_FIELDS},
        }
        for link in prs.order_by("pull_request__number")
    ]
    own = DeploymentCommit.objects.filter(deployment=deployment, pull_request__isnull=True)
    by_sha = {link.sha: link for link in own if link.repository_id is not None}
    # The deployment's own commit, known only from its delivery (no repository holds it).
    shipped += [
        {
            "id": None,
            "kind": "commit",
            "repository": None,
            "sha": link.sha,
            "author": "",
            "message": "",
            "authored_at": _time(link.started_at),
            "committed_at": None,
            "deployment": deployment.pk,
            "deployed_at": _time(deployment.completed_at),
            "lead_seconds": link.lead_seconds,
        }
        for link in own
        if link.repository_id is None
    ]
    for commit in Commit.objects.filter(
        organization_id=deployment.organization_id, sha__in=list(by_sha)
    ).select_related("repository"):
        link = by_sha[commit.sha]
        shipped.append(
            commit_json(commit)
            | {
                "deployment": deployment.pk,
                "deployed_at": _time(deployment.completed_at),
                "lead_seconds": link.lead_seconds,
            }
        )
    return shipped
