"""GitLab webhooks: Merge Request Hook, Push Hook and Deployment Hook; Pipeline Hook ignored.

GitLab dates come as ISO 8601, "2016-08-22 20:27:22 UTC" or "2025-05-02 12:30:19 +0000"."""

import re

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
from deployments.recording.events import DeploymentEvent
from periscope.errors import InvalidPayload
from periscope.models import Organization

EVENTS = ("Merge Request Hook", "Push Hook", "Deployment Hook")

STATES = {
    "success": Status.SUCCESS,
    "failed": Status.FAILURE,
    "canceled": Status.CANCELLED,
    "running": Status.IN_PROGRESS,
    "created": Status.PENDING,
    "blocked": Status.PENDING,
}
_COMMIT_URL = re.compile(r"/commit/([0-9a-f]{40})\b", re.IGNORECASE)


def _push(organization: Organization, payload: dict) -> tuple[int, dict, str]:
    url = repository_url(object_field(payload, "project"), "project")
    commits = push_commits(payload, author_keys=("name",))
    relinked = store_push(
        organization=organization,
        url=url,
        before=sha(payload.get("before")),
        after=sha(payload.get("after") or payload.get("checkout_sha")),
        commits=commits,
    )
    return 200, {"commits": len(commits), "relinkedDeployments": relinked}, "stored"


def _merge_request(organization: Organization, payload: dict) -> tuple[int, dict, str]:
    attrs = object_field(payload, "object_attributes")
    url = repository_url(object_field(payload, "project"), "project")
    number = pull_request_number(attrs.get("iid"), field="object_attributes.iid")
    merged = attrs.get("state") == "merged" or attrs.get("action") == "merge"
    last_commit = attrs.get("last_commit") if isinstance(attrs.get("last_commit"), dict) else {}
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    merged_at = None
    if merged:
        # Older GitLab sends no merged_at; the merge is then the MR's last update.
        merged_at = moment(
            attrs.get("merged_at") or attrs.get("updated_at"), "object_attributes.merged_at"
        )
    data = PullRequestData(
        number=number,
        title=text(attrs.get("title"), 500),
        author=text(user.get("username") or user.get("name")),
        state=text(attrs.get("state"), 32),
        created_at=moment(attrs.get("created_at"), "object_attributes.created_at"),
        merged_at=merged_at,
        merge_commit_sha=sha(attrs.get("merge_commit_sha")) if merged else "",
        head_sha=sha(last_commit.get("id")),
        base_branch=text(attrs.get("target_branch")),
    )
    relinked = store_pull_request(organization=organization, url=url, data=data)
    return 200, {"mergeRequest": number, "relinkedDeployments": relinked}, "stored"


def _deployment(organization: Organization, payload: dict, body: str) -> tuple[int, dict, str]:
    project = object_field(payload, "project")
    state = text(payload.get("status"), 32)
    if state not in STATES:
        raise InvalidPayload(f"status must be one of: {', '.join(STATES)}", field="status")
    deployment_id = payload.get("deployment_id")
    if not isinstance(deployment_id, int) or isinstance(deployment_id, bool):
        raise InvalidPayload("deployment_id must be an integer", field="deployment_id")
    environment = text(payload.get("environment"), 100)
    if not environment:
        raise InvalidPayload("environment is required", field="environment")
    match = _COMMIT_URL.search(text(payload.get("commit_url"), 2000))
    commit = match.group(1).lower() if match else sha(payload.get("short_sha"))
    canonical = STATES[state]
    changed_at = moment(payload.get("status_changed_at"), "status_changed_at")
    terminal = canonical in (Status.SUCCESS, Status.FAILURE, Status.CANCELLED)
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    event = DeploymentEvent(
        source=Source.GITLAB,
        external_id=str(deployment_id),
        environment=environment,
        status=canonical,
        status_raw=state,
        service_name=text(project.get("path_with_namespace") or project.get("name"), 500),
        commit_sha=commit,
        branch=text(payload.get("ref")),
        repository_url=repository_url(project, "project"),
        started_at=None if terminal else changed_at,
        completed_at=changed_at if terminal else None,
        triggered_by=text(user.get("username") or user.get("name")),
        pipeline_url=text(payload.get("deployable_url"), 2000),
        description=text(payload.get("commit_title"), 2000),
    )
    return record_forge_deployment(organization=organization, event=event, body=body)


def handle(
    *, organization: Organization, event: str, payload: dict, body: str
) -> tuple[int, dict, str]:
    if event not in EVENTS:
        return 202, {"ignored": event}, "ignored"
    with transaction.atomic():
        if event == "Push Hook":
            return _push(organization, payload)
        if event == "Merge Request Hook":
            return _merge_request(organization, payload)
        return _deployment(organization, payload, body)
