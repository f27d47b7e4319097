"""GitHub webhooks: pull_request, push, deployment_status and ping.

Each handler returns (HTTP status, response body, outcome for the forge delivery log)."""

from django.db import transaction

from deployments.ingest.forge import (
    PullRequestData,
    moment,
    object_field,
    pull_request_number,
    push_commits,
    record_forge_deployment,
    repository_url,
    sha,
    store_pull_request,
    store_push,
    text,
)
from deployments.models import Source, Status
from deployments.recording.events import DeploymentEvent, DuplicatePolicy
from periscope.errors import InvalidPayload
from periscope.models import Organization

EVENTS = ("ping", "push", "pull_request", "deployment_status")

# GitHub deployment states → canonical statuses. `inactive` is a superseded deployment that
# had succeeded: it stays a success (never moves backwards), so it maps to success.
STATES = {
    "success": Status.SUCCESS,
    "failure": Status.FAILURE,
    "error": Status.FAILURE,
    "in_progress": Status.IN_PROGRESS,
    "queued": Status.PENDING,
    "pending": Status.PENDING,
    "inactive": Status.SUCCESS,
}


def _push(organization: Organization, payload: dict) -> tuple[int, dict, str]:
    url = repository_url(object_field(payload, "repository"), "repository")
    commits = push_commits(payload, author_keys=("username", "name"))
    relinked = store_push(
        organization=organization,
        url=url,
        before=sha(payload.get("before")),
        after=sha(payload.get("after")),
        commits=commits,
    )
    return 200, {"commits": len(commits), "relinkedDeployments": relinked}, "stored"


def _pull_request(organization: Organization, payload: dict) -> tuple[int, dict, str]:
    pr = object_field(payload, "pull_request")
    url = repository_url(object_field(payload, "repository"), "repository")
    number = pull_request_number(payload.get("number", pr.get("number")), field="number")
    head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
    base = pr.get("base") if isinstance(pr.get("base"), dict) else {}
    user = pr.get("user") if isinstance(pr.get("user"), dict) else {}
    merged = pr.get("merged") is True or bool(pr.get("merged_at"))
    data = PullRequestData(
        number=number,
        title=text(pr.get("title"), 500),
        author=text(user.get("login")),
        state="merged" if merged else text(pr.get("state"), 32),
        created_at=moment(pr.get("created_at"), "pull_request.created_at"),
        merged_at=moment(pr.get("merged_at"), "pull_request.merged_at") if merged else None,
        merge_commit_sha=sha(pr.get("merge_commit_sha")) if merged else "",
        head_sha=sha(head.get("sha")),
        base_branch=text(base.get("ref")),
    )
    relinked = store_pull_request(organization=organization, url=url, data=data)
    return 200, {"pullRequest": number, "relinkedDeployments": relinked}, "stored"


def _deployment_status(
    organization: Organization, payload: dict, body: str
) -> tuple[int, dict, str]:
    status = object_field(payload, "deployment_status")
    deployment = object_field(payload, "deployment")
    repo = object_field(payload, "repository")
    state = text(status.get("state"), 32)
    if state not in STATES:
        raise InvalidPayload(
            f"deployment_status.state must be one of: {', '.join(STATES)}",
            field="deployment_status.state",
        )
    deployment_id = deployment.get("id")
    if not isinstance(deployment_id, int) or isinstance(deployment_id, bool):
        raise InvalidPayload("deployment.id must be an integer", field="deployment.id")
    environment = text(status.get("environment") or deployment.get("environment"), 100)
    if not environment:
        raise InvalidPayload("deployment.environment is required", field="deployment.environment")
    canonical = STATES[state]
    started = moment(deployment.get("created_at"), "deployment.created_at")
    finished = moment(
        status.get("updated_at") or status.get("created_at"), "deployment_status.updated_at"
    )
    terminal = canonical in (Status.SUCCESS, Status.FAILURE)
    if started and finished and finished < started:
        finished = started
    creator = status.get("creator") if isinstance(status.get("creator"), dict) else {}
    payload_data = deployment.get("payload") if isinstance(deployment.get("payload"), dict) else {}
    metadata = {k: v for k, v in payload_data.items() if k in ("pr_numbers", "pr_number")}
    event = DeploymentEvent(
        source=Source.GITHUB,
        external_id=str(deployment_id),
        environment=environment,
        status=canonical,
        status_raw=state,
        service_name=text(repo.get("full_name") or repo.get("name"), 500),
        commit_sha=sha(deployment.get("sha")),
        branch=text(deployment.get("ref")),
        repository_url=repository_url(repo, "repository"),
        started_at=started,
        completed_at=finished if terminal else None,
        triggered_by=text(creator.get("login")),
        pipeline_url=text(status.get("target_url") or status.get("log_url"), 2000),
        description=text(status.get("description") or deployment.get("description"), 2000),
        metadata=metadata,
        duplicate_policy=DuplicatePolicy.UPDATE,
    )
    return record_forge_deployment(organization=organization, event=event, body=body)


def handle(
    *, organization: Organization, event: str, payload: dict, body: str
) -> tuple[int, dict, str]:
    if event not in EVENTS:
        return 202, {"ignored": event}, "ignored"
    with transaction.atomic():
        if event == "ping":
            return 200, {"ok": True, "zen": text(payload.get("zen"))}, "ping"
        if event == "push":
            return _push(organization, payload)
        if event == "pull_request":
            return _pull_request(organization, payload)
        return _deployment_status(organization, payload, body)
