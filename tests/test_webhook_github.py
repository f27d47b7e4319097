"""POST /api/webhooks/github/<org>: real GitHub deliveries, signed with the org's secret."""

import json

import pytest

from deployments.models import (
    Commit,
    Delivery,
    Deployment,
    DeploymentPullRequest,
    ForgeDelivery,
    PullRequest,
    Status,
)
from periscope.secrets import hmac_sha256_hex, set_webhook_secret
from tests.payloads.github import MERGE_SHA, deployment_status_of_merge, fixture, real_headers
from tests.webhooks import SECRETS, check_webhook, post_webhook


@pytest.fixture
def signed(org):
    set_webhook_secret(organization=org, provider="github", secret=SECRETS["github"])
    return org


PR_LIFE = [
    ("pull_request", "pull_request.opened.real-capture.json", "opened-delivery"),
    ("pull_request", "pull_request.closed.merged.real-capture.json", None),
    ("push", "push.after-merge.real-capture.json", None),
]


def send_pr_life(api, order):
    for event, name, delivery in order:
        if delivery is None:
            delivery = real_headers(name.replace(".json", ".headers.txt"))["x-github-delivery"]
        response = post_webhook(api, "github", fixture(name), event=event, delivery=delivery)
        assert response.status_code == 200, response.json()


def assert_pr3_shipped(org):
    link = DeploymentPullRequest.objects.get(deployment__organization=org)
    pr = link.pull_request
    assert (pr.number, pr.merge_commit_sha, pr.base_branch) == (3, MERGE_SHA, "master")
    assert pr.head_sha == "7b5a809ab03679215c55926f7d111156ec98b865"
    # First commit 7682a248 authored 2019-11-02T13:56:20-04:00; deployed 2019-11-26T08:00Z.
    assert link.lead_seconds == 23 * 86400 + 50620
    assert link.coding_seconds == 10 * 86400 + 27151  # -> opened 2019-11-13T01:28:51Z
    assert link.review_seconds == 13 * 86400 + 19942  # -> merged 2019-11-26T07:01:13Z
    assert link.waiting_seconds == 3527


def test_real_pr_life_then_deployment_links_the_pr(api, signed):
    headers = real_headers("push.after-merge.real-capture.headers.txt")
    assert headers["x-github-event"] == "push"
    send_pr_life(api, PR_LIFE)
    response = check_webhook(
        api, "github", deployment_status_of_merge(), 200, event="deployment_status", delivery="d-1"
    )
    assert response.json()["linkedPRs"] == 1
    assert_pr3_shipped(signed)
    deployment = Deployment.objects.get(organization=signed)
    assert (deployment.source, deployment.external_id, deployment.status) == (
        "github",
        "145988746",
        Status.SUCCESS,
    )
    assert Delivery.objects.filter(deployment=deployment).count() == 1
    assert ForgeDelivery.objects.filter(organization=signed).count() == 4


def test_deployment_before_the_pr_and_push_gives_the_same_links(api, signed):
    response = post_webhook(
        api, "github", deployment_status_of_merge(), event="deployment_status", delivery="d-1"
    )
    assert response.json()["linkedPRs"] == 0
    send_pr_life(api, list(reversed(PR_LIFE)))
    assert_pr3_shipped(signed)


def test_push_records_commits_with_times_and_chain(api, signed):
    send_pr_life(api, PR_LIFE[2:])
    commit = Commit.objects.get(organization=signed, sha="7682a248ad73d204eb94d9eab840c6fe41b8963d")
    assert commit.authored_at.isoformat() == "2019-11-02T17:56:20+00:00"
    assert commit.author == "byao1276"
    merge = Commit.objects.get(organization=signed, sha=MERGE_SHA)
    assert merge.message == "Merge pull request #3 from byao1276/byao1276-patch-1"
    assert merge.generation == 5  # before (a stub) is 0, then five commits chained


def test_redelivery_is_idempotent(api, signed):
    body = fixture("pull_request.closed.merged.real-capture.json")
    first = post_webhook(
        api, "github", body, event="pull_request", delivery="884a8280-101a-11ea-9c80-7ce4e70c2e4e"
    )
    again = post_webhook(
        api, "github", body, event="pull_request", delivery="884a8280-101a-11ea-9c80-7ce4e70c2e4e"
    )
    assert first.status_code == 200
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert ForgeDelivery.objects.filter(organization=signed).count() == 1
    assert PullRequest.objects.filter(organization=signed).count() == 1


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "sha1=abc", ""],
    ids=["missing", "wrong", "sha1", "empty"],
)
def test_bad_or_missing_signature_is_401(api, signed, signature):
    body = fixture("push.after-merge.real-capture.json")
    check_webhook(
        api,
        "github",
        body,
        401,
        {"error": "Webhook signature verification failed"},
        event="push",
        secret=None,
        signature=signature,
    )
    assert ForgeDelivery.objects.count() == 0 and Commit.objects.count() == 0


def test_signature_with_another_secret_is_401(api, signed):
    check_webhook(
        api,
        "github",
        b'{"zen": "x"}',
        401,
        {"error": "Webhook signature verification failed"},
        event="ping",
        secret="not the secret",
    )
    assert not ForgeDelivery.objects.exists()


def test_no_secret_configured_or_unknown_org_is_401(api, org):
    check_webhook(
        api, "github", b"{}", 401, {"error": "Webhook signature verification failed"}, event="ping"
    )
    check_webhook(
        api,
        "github",
        b"{}",
        401,
        {"error": "Webhook signature verification failed"},
        event="ping",
        slug="nobody",
    )
    assert not ForgeDelivery.objects.exists()


def test_ping(api, signed):
    check_webhook(
        api,
        "github",
        b'{"zen": "Keep it logically awesome.", "hook_id": 1}',
        200,
        {"ok": True, "zen": "Keep it logically awesome."},
        event="ping",
    )
    assert ForgeDelivery.objects.get().outcome == "ping"


@pytest.mark.parametrize(
    "name,event", [("release.published.json", "release"), ("push.json", "check_run")]
)
def test_other_events_are_accepted_and_ignored(api, signed, name, event):
    check_webhook(
        api, "github", fixture(name), 202, {"ignored": event}, event=event, delivery=f"x-{event}"
    )
    assert ForgeDelivery.objects.get().outcome == "ignored"


def test_tag_push_without_commits(api, signed):
    response = check_webhook(api, "github", fixture("push.json"), 200, event="push")
    assert response.json()["commits"] == 0


def test_deployment_status_states_update_one_deployment(api, signed):
    # Two real deliveries that share a deployment id; the in-progress one is dated before the
    # success, as it would be for one deployment (an older event would be stale).
    payload = json.loads(fixture("deployment_status.created.in_progress.gh-pages.json"))
    payload["deployment"]["created_at"] = "2019-05-15T15:20:50Z"
    payload["deployment_status"]["created_at"] = "2019-05-15T15:20:51Z"
    payload["deployment_status"]["updated_at"] = "2019-05-15T15:20:51Z"
    in_progress = json.dumps(payload).encode()
    check_webhook(api, "github", in_progress, 200, event="deployment_status", delivery="1")
    deployment = Deployment.objects.get(organization=signed)
    assert (deployment.status, deployment.environment, deployment.completed_at) == (
        Status.IN_PROGRESS,
        "github-pages",
        None,
    )
    success = fixture("deployment_status.created.success.json")
    check_webhook(api, "github", success, 200, event="deployment_status", delivery="2")
    deployment.refresh_from_db()
    assert deployment.status == Status.SUCCESS
    assert deployment.environment == "production"
    assert deployment.commit_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert Deployment.objects.filter(organization=signed).count() == 1
    assert deployment.deliveries.count() == 2


def test_unknown_state_and_missing_objects_are_400_naming_the_field(api, signed):
    payload = json.loads(fixture("deployment_status.created.success.json"))
    payload["deployment_status"]["state"] = "exploded"
    response = check_webhook(
        api, "github", json.dumps(payload).encode(), 400, event="deployment_status"
    )
    assert response.json()["field"] == "deployment_status.state"
    response = post_webhook(api, "github", b'{"repository": {}}', event="pull_request")
    assert response.status_code == 400 and response.json()["field"] == "pull_request"
    check_webhook(api, "github", b"[1]", 400, event="push")
    assert ForgeDelivery.objects.count() == 0


def test_missing_event_header_is_400(api, signed):
    body = b"{}"
    response = api.post(
        "/api/webhooks/github/acme",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + hmac_sha256_hex(secret=SECRETS["github"], body=body),
    )
    assert response.status_code == 400


def test_other_organization_is_isolated(api, signed, other_org):
    set_webhook_secret(organization=other_org, provider="github", secret="globex secret")
    # acme's secret does not sign for globex's URL.
    check_webhook(api, "github", b"{}", 401, event="ping", slug="globex")
    send_pr_life(api, PR_LIFE)
    post_webhook(
        api, "github", deployment_status_of_merge(), event="deployment_status", delivery="d-1"
    )
    assert PullRequest.objects.filter(organization=other_org).count() == 0
    assert Commit.objects.filter(organization=other_org).count() == 0
    # The same delivery id in another organization is not a duplicate.
    response = post_webhook(
        api,
        "github",
        fixture("pull_request.closed.merged.real-capture.json"),
        event="pull_request",
        delivery=real_headers("pull_request.closed.merged.real-capture.headers.txt")[
            "x-github-delivery"
        ],
        slug="globex",
        secret="globex secret",
    )
    assert response.status_code == 200 and "duplicate" not in response.json()
    assert PullRequest.objects.filter(organization=other_org).count() == 1
    assert DeploymentPullRequest.objects.filter(organization=other_org).count() == 0


def small_commit(n: int) -> dict:
    return {
        "id": f"{n:040x}",
        "timestamp": "2024-01-15T10:30:00Z",
        "message": f"change {n}",
        "author": {"name": "Ada", "username": "ada"},
    }


def test_a_push_over_githubs_2048_commits_is_refused_naming_commits(api, signed, other_org):
    from deployments.models import Commit

    body = json.loads(fixture("push.after-merge.real-capture.json"))
    body["commits"] = [small_commit(n) for n in range(1, 2050)]
    response = post_webhook(api, "github", body, event="push", delivery="too-long")
    assert response.status_code == 400
    assert response.json() == {
        "error": "commits may list at most 2048 commits",
        "field": "commits",
    }
    assert not Commit.objects.exists()


def test_a_push_of_2048_commits_is_recorded_in_bounded_statements(
    api, signed, other_org, django_assert_max_num_queries
):
    from deployments.models import Commit

    body = json.loads(fixture("push.after-merge.real-capture.json"))
    body["commits"] = [small_commit(n) for n in range(1, 2049)]
    body["before"], body["after"] = "0" * 40, body["commits"][-1]["id"]
    for delivery in ("first", "again"):
        with django_assert_max_num_queries(120):
            response = post_webhook(api, "github", body, event="push", delivery=delivery)
        assert response.status_code == 200, response.content
    assert Commit.objects.count() == 2048
