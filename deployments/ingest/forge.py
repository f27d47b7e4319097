"""What the GitHub and GitLab adapters share: storing pushes and pull requests, then relinking."""

from dataclasses import dataclass
from datetime import datetime

from deployments.changes.commits import CommitData, chained, record_commits
from deployments.changes.linking import relink_repository
from deployments.changes.repositories import get_or_create_repository
from deployments.ingest.fields import flexible_timestamp
from deployments.models import PullRequest
from deployments.recording.events import DeploymentEvent
from deployments.recording.recorder import record_deployment
from periscope.errors import InvalidPayload
from periscope.models import Organization

NULL_SHA = "0" * 40
# GitHub lists at most 2,048 commits in a push (GitLab 20): a longer list is not a forge's,
# and each commit is work (rows, edges, generations) one delivery would make us do.
MAX_PUSH_COMMITS = 2048
# PullRequest.number is a PositiveIntegerField: 32 bits on PostgreSQL, and SQLite cannot bind
# an integer beyond 64 (OverflowError, a 500).
_MAX_NUMBER = 2**31 - 1


def pull_request_number(value: object, *, field: str) -> int:
    """A pull/merge request number: a positive integer the number column holds."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_NUMBER:
        raise InvalidPayload(f"{field} must be a positive integer up to {_MAX_NUMBER}", field=field)
    return value


@dataclass(frozen=True, kw_only=True)
class PullRequestData:
    number: int
    title: str = ""
    author: str = ""
    state: str = ""
    created_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str = ""
    head_sha: str = ""
    base_branch: str = ""


def object_field(payload: dict, name: str) -> dict:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise InvalidPayload(f"{name} must be an object", field=name)
    return value


def text(value, limit: int = 255) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def sha(value) -> str:
    value = text(value, 64).lower()
    return value if value and value != NULL_SHA else ""


def moment(value, label: str) -> datetime | None:
    if value in (None, ""):
        return None
    return flexible_timestamp(value, label)


def repository_url(repo: dict, label: str) -> str:
    for name in ("html_url", "web_url", "full_name", "path_with_namespace", "url"):
        value = repo.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise InvalidPayload(f"{label} has no URL or name", field=label)


def _earliest(times: list[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def push_commits(payload: dict, *, author_keys: tuple[str, ...]) -> list[CommitData]:
    """The `commits` of a GitHub or GitLab push (one shape: id, timestamp, author, message);
    `author_keys` are the author fields to try, in order."""
    raw_commits = payload.get("commits") or []
    if not isinstance(raw_commits, list):
        raise InvalidPayload("commits must be a list", field="commits")
    if len(raw_commits) > MAX_PUSH_COMMITS:
        raise InvalidPayload(
            f"commits may list at most {MAX_PUSH_COMMITS} commits", field="commits"
        )
    commits = []
    for index, item in enumerate(raw_commits):
        if not isinstance(item, dict) or not sha(item.get("id")):
            raise InvalidPayload(f"commits[{index}].id is required", field=f"commits[{index}].id")
        author = item.get("author") if isinstance(item.get("author"), dict) else {}
        when = moment(item.get("timestamp"), f"commits[{index}].timestamp")
        commits.append(
            CommitData(
                sha=sha(item.get("id")),
                authored_at=when,
                committed_at=when,
                author=text(next((author[k] for k in author_keys if author.get(k)), "")),
                message=text(item.get("message"), 2000),
            )
        )
    return commits


def store_push(
    *, organization: Organization, url: str, before: str, after: str, commits: list[CommitData]
) -> int:
    """Record a push's commits with the before → … → after chain; returns deployments relinked."""
    repository = get_or_create_repository(organization=organization, url=url)
    if commits and commits[-1].sha != after and commits[0].sha == after:
        commits = commits[::-1]  # newest first: put oldest first
    if not commits:  # a tag, a deletion or a force-push to known commits: no new history
        return 0
    record_commits(repository=repository, commits=chained(commits, before=before))
    since = _earliest([c.committed_at or c.authored_at for c in commits])
    if any((c.committed_at or c.authored_at) is None for c in commits):
        since = None
    return relink_repository(repository=repository, since=since)


def store_pull_request(*, organization: Organization, url: str, data: PullRequestData) -> int:
    """Create or update a pull request; returns deployments relinked."""
    repository = get_or_create_repository(organization=organization, url=url)
    values = {
        "title": data.title[:500],
        "author": data.author,
        "state": data.state,
        "created_at": data.created_at,
        "merge_commit_sha": data.merge_commit_sha,
        "head_sha": data.head_sha,
        "base_branch": data.base_branch,
    }
    pr, created = PullRequest.objects.get_or_create(
        repository=repository,
        number=data.number,
        defaults={"organization": organization, "merged_at": data.merged_at, **values},
    )
    if not created:
        # A later event never erases what an earlier one knew (a redelivered "opened" after
        # "closed" keeps the merge).
        for name, value in values.items():
            if value:
                setattr(pr, name, value)
        if data.merged_at:
            pr.merged_at = data.merged_at
        elif pr.merged_at:
            pr.state = "merged"  # a merge is final; a late "opened" does not undo it
        pr.save()
    since = _earliest([pr.first_commit_at, pr.created_at, pr.merged_at])
    return relink_repository(repository=repository, since=since)


def record_forge_deployment(
    *, organization: Organization, event: DeploymentEvent, body: str
) -> tuple[int, dict, str]:
    """Store a forge's deployment event through the one recording function; the answer."""
    result = record_deployment(
        organization=organization, event=event, body=body, cap_new_names=True
    )
    body_out = {
        "action": result.action,
        "deploymentId": result.deployment_id,
        "linkedPRs": result.linked_prs,
    }
    return 200, body_out, "deployment"
