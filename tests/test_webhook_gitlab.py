"""POST /api/webhooks/gitlab/<org>: real GitLab deliveries, authenticated by X-Gitlab-Token."""

import itertools
from datetime import UTC, datetime

import pytest

from deployments.models import (
    Commit,
    Deployment,
    DeploymentPullRequest,
    ForgeDelivery,
    PullRequest,
    Status,
)
from periscope.secrets import set_webhook_secret
from tests.payloads.gitlab import (
    LAST_COMMIT,
    MERGE_SHA,
    deployment_of_merge,
    fixture,
    merged_mr,
    push_of_merge,
)
from tests.webhooks import SECRETS, check_webhook, post_webhook


@pytest.fixture
def signed(org):
    set_webhook_secret(organization=org, provider="gitlab", secret=SECRETS["gitlab"])
    return org


def test_merge_request_hook_stores_the_merged_mr(api, signed):
    check_webhook(api, "gitlab", merged_mr(), 200, event="Merge Request Hook")
    pr = PullRequest.objects.get(organization=signed)
    assert (pr.number, pr.state, pr.merge_commit_sha, pr.head_sha, pr.base_branch) == (
        3,
        "merged",
        MERGE_SHA,
        LAST_COMMIT,
        "master",
    )
    assert pr.created_at == datetime(2016, 8, 22, 20, 27, 22, tzinfo=UTC)
    assert pr.merged_at == datetime(2016, 8, 22, 20, 41, 6, tzinfo=UTC)  # no merged_at: updated_at
    assert pr.repository.key == "tomaszkolek0/my-awesome-project"


def test_open_mr_with_offset_dates_and_real_headers(api, signed):
    headers = fixture("merge_request.update.real-capture.headers.json")
    payload = fixture("merge_request.update.real-capture.json")
    wanted = {k: v for k, v in headers.items() if k.startswith(("X-Gitlab-Event-", "Idempotency"))}
    check_webhook(api, "gitlab", payload, 200, event=headers["X-Gitlab-Event"], headers=wanted)
    pr = PullRequest.objects.get(organization=signed)
    assert pr.created_at == datetime(2025, 6, 5, 7, 4, 15, tzinfo=UTC)  # "+0800"
    assert pr.merged_at is None and pr.state == "opened"
    again = post_webhook(api, "gitlab", payload, event=headers["X-Gitlab-Event"], headers=wanted)
    assert again.json()["duplicate"] is True
    delivery = ForgeDelivery.objects.get(organization=signed)
    assert delivery.delivery_id == headers["Idempotency-Key"]


def test_deployment_hook_failed_capture(api, signed):
    check_webhook(
        api, "gitlab", fixture("deployment.failed.real-capture.json"), 200, event="Deployment Hook"
    )
    deployment = Deployment.objects.get(organization=signed)
    assert (deployment.source, deployment.external_id, deployment.status) == (
        "gitlab",
        "988604916",
        Status.FAILURE,
    )
    assert deployment.commit_sha == "846d8de0b7b3d694954249d2fd5d87fbe8c84e4c"
    assert deployment.completed_at == datetime(2025, 5, 2, 12, 30, 19, tzinfo=UTC)
    assert deployment.environment == "production"


def test_deployment_hook_success_with_offset(api, signed):
    check_webhook(api, "gitlab", fixture("deployment.success.json"), 200, event="Deployment Hook")
    deployment = Deployment.objects.get(organization=signed)
    assert deployment.status == Status.SUCCESS
    assert deployment.completed_at == datetime(2021, 4, 28, 19, 50, tzinfo=UTC)  # +0200
    assert deployment.environment == "staging"


def test_push_hook_records_commits(api, signed):
    response = post_webhook(api, "gitlab", fixture("push.json"), event="Push Hook")
    assert response.status_code == 200 and response.json()["commits"] == 2
    commit = Commit.objects.get(organization=signed, sha="da1560886d4f094c3e6c9ef40349f7d38b5d27d7")
    assert commit.author == "GitLab dev user" and commit.message == "fixed readme"
    assert commit.generation == 2


def test_pipeline_hook_is_ignored_and_logged(api, signed):
    check_webhook(
        api,
        "gitlab",
        fixture("pipeline.success.json"),
        202,
        {"ignored": "Pipeline Hook"},
        event="Pipeline Hook",
    )
    assert ForgeDelivery.objects.get().outcome == "ignored"


@pytest.mark.parametrize("token", [None, "", "wrong"], ids=["missing", "empty", "wrong"])
def test_bad_or_missing_token_is_401(api, signed, token):
    check_webhook(api, "gitlab", merged_mr(), 401, event="Merge Request Hook", secret=token)
    assert PullRequest.objects.count() == 0 and ForgeDelivery.objects.count() == 0


def test_bad_payload_is_400_naming_the_field(api, signed):
    payload = fixture("deployment.failed.real-capture.json")
    payload["status"] = "weird"
    response = post_webhook(api, "gitlab", payload, event="Deployment Hook")
    assert response.status_code == 400 and response.json()["field"] == "status"
    payload = merged_mr()
    payload["object_attributes"]["created_at"] = "yesterday"
    response = check_webhook(api, "gitlab", payload, 400, event="Merge Request Hook")
    assert response.json()["field"] == "object_attributes.created_at"


EVENTS = {
    "mr": ("Merge Request Hook", merged_mr),
    "push": ("Push Hook", push_of_merge),
    "deploy": ("Deployment Hook", deployment_of_merge),
}


@pytest.mark.parametrize("order", list(itertools.permutations(EVENTS)))
def test_mr_push_and_deployment_in_any_order_link_the_same(api, signed, order):
    for name in order:
        event, build = EVENTS[name]
        check_webhook(api, "gitlab", build(), 200, event=event)
    link = DeploymentPullRequest.objects.get(deployment__organization=signed)
    assert link.pull_request.number == 3
    # First commit f423fe3f at 20:34:57Z, deployed 21:00:00Z.
    assert link.lead_seconds == 25 * 60 + 3
    assert link.waiting_seconds == 18 * 60 + 54  # merged 20:41:06Z


def test_other_organization_is_isolated(api, signed, other_org):
    check_webhook(api, "gitlab", merged_mr(), 401, event="Merge Request Hook", slug="globex")
    set_webhook_secret(organization=other_org, provider="gitlab", secret="globex token")
    check_webhook(
        api,
        "gitlab",
        merged_mr(),
        200,
        event="Merge Request Hook",
        secret="globex token",
        slug="globex",
    )
    # globex's merge request is invisible to acme's deployment...
    deployment = post_webhook(api, "gitlab", deployment_of_merge(), event="Deployment Hook")
    assert deployment.json()["linkedPRs"] == 0
    # ...until acme's own delivery of it arrives.
    check_webhook(api, "gitlab", merged_mr(), 200, event="Merge Request Hook")
    assert PullRequest.objects.filter(organization=other_org).count() == 1
    assert DeploymentPullRequest.objects.filter(organization=other_org).count() == 0
    assert DeploymentPullRequest.objects.get().pull_request.organization == signed
