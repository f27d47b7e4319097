"""Lead time from the commit time a deploy's own delivery carried (OpsLevel's commit dates,
a Periscope `metadata.commit`, import_deployments), and forge data taking its place.

Hand-computed histories on a clock of hours (tests/builders.at_hour); every answer is checked
through GET /api/metrics/dora against the raw reference (metrics/reference.py), so the
rollups and the reference agree; a second organization sends the same deliveries with other
dates, which must never show.
"""

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.models import Deployment, DeploymentCommit
from deployments.recording.importing import import_lines
from periscope.secrets import set_webhook_secret
from tests.builders import at_hour, sha
from tests.payloads.github import MERGE_SHA, fixture, real_headers
from tests.rollup_checks import assert_api_matches_reference
from tests.webhooks import SECRETS, post_webhook

H = 3600.0
RANGE = {"from": "2025-12-31", "to": "2026-01-10"}


def _iso(hours: float) -> str:
    return at_hour(hours).isoformat()


def opslevel_deploy(ident: str, commit: str, *, deployed: float, authored: float | None,
                    date: float | None = None, service: str = "cart") -> dict:  # fmt: skip
    body = {
        "dedup_id": ident,
        "service": service,
        "deployer": {"email": "ci@example.com"},
        "deployed_at": _iso(deployed),
        "environment": "production",
        "description": f"Deploy {ident}",
        "commit": {"sha": sha(commit), "message": f"commit {commit}"},
    }
    if authored is not None:
        body["commit"]["authoring_date"] = _iso(authored)
    if date is not None:
        body["commit"]["date"] = _iso(date)
    return body


def send(api, key, body):
    response = post_webhook(api, "opslevel", body, key=key)
    assert response.status_code == 202, response.content
    return response


def lead_time(api, key, organization, **params):
    got = assert_api_matches_reference(api, key, organization=organization, params=RANGE | params)
    return got["summary"]["leadTime"]


@pytest.fixture
def two_deploys(api, org, key, other_org, other_key):
    # Commit dates 24 h and 6 h before deploying, and no forge data at all.
    send(api, key, opslevel_deploy("d1", "a", deployed=30, authored=6))
    send(api, key, opslevel_deploy("d2", "b", deployed=50, authored=44))
    # The other organization: the same deliveries, one hour of lead each.
    send(api, other_key, opslevel_deploy("d1", "a", deployed=30, authored=29))
    send(api, other_key, opslevel_deploy("d2", "b", deployed=50, authored=49))


def test_two_opslevel_deploys_give_two_changes_with_a_median_of_15_hours(
    api, org, key, other_org, other_key, two_deploys
):
    lead = lead_time(api, key, org)
    assert lead["changes"] == 2
    assert lead["deploymentsWithoutChanges"] == 0
    assert lead["medianSeconds"] == 15 * H  # (24 h + 6 h) / 2
    assert lead["meanSeconds"] == 15 * H
    theirs = lead_time(api, other_key, other_org)
    assert (theirs["changes"], theirs["medianSeconds"]) == (2, 1 * H)


def test_the_carried_time_is_stored_and_shown_with_the_deployment(api, org, key, two_deploys):
    d1 = Deployment.objects.get(organization=org, external_id="d1")
    assert d1.commit_at == at_hour(6)
    response = api.get(f"/api/deployments/{d1.pk}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    shown = response.json()
    assert shown["commitAt"] == "2026-01-01T06:00:00Z"
    [change] = shown["changes"]
    assert (change["sha"], change["repository"], change["leadSeconds"]) == (sha("a"), None, 24 * H)
    assert change["authoredAt"] == "2026-01-01T06:00:00+00:00"


def test_a_redeploy_of_the_same_commit_is_no_new_change(api, org, key, two_deploys):
    send(api, key, opslevel_deploy("d3", "b", deployed=60, authored=44))
    lead = lead_time(api, key, org)
    assert (lead["changes"], lead["medianSeconds"]) == (2, 15 * H)
    assert lead["deploymentsWithoutChanges"] == 1  # d3 shipped b again


def test_authoring_date_before_commit_date_and_a_time_after_the_deploy_is_ignored(
    api, org, key, other_org, other_key
):
    # authoring 10 h before, commit (committer) date 2 h before: the authoring date counts.
    send(api, key, opslevel_deploy("d1", "a", deployed=20, authored=10, date=18))
    # only a commit date: it counts.
    send(api, key, opslevel_deploy("d2", "b", deployed=30, authored=None, date=26))
    # a commit "made" after its deploy is a wrong clock, not a lead time.
    send(api, key, opslevel_deploy("d3", "c", deployed=40, authored=41))
    # no commit date at all: nothing to measure.
    send(api, key, opslevel_deploy("d4", "d", deployed=45, authored=None))
    lead = lead_time(api, key, org)
    assert lead["changes"] == 2
    assert lead["medianSeconds"] == 7 * H  # 10 h and 4 h
    assert lead["deploymentsWithoutChanges"] == 2
    assert Deployment.objects.get(organization=org, external_id="d3").commit_at == at_hour(41)


def test_a_carried_time_outside_production_or_on_a_failure_gives_no_change(api, org, key):
    send(
        api, key, opslevel_deploy("s1", "a", deployed=20, authored=10) | {"environment": "staging"}
    )
    send(api, key, opslevel_deploy("f1", "b", deployed=21, authored=10) | {"status": "failed"})
    assert not DeploymentCommit.objects.filter(organization=org).exists()
    assert lead_time(api, key, org)["changes"] == 0


def periscope_body(ident: str, metadata: dict) -> dict:
    """A Periscope delivery of commit a to cart, deployed at hour 30, with this metadata."""
    return {
        "deploymentId": ident,
        "service": "cart",
        "commitSha": sha("a"),
        "environment": "production",
        "status": "success",
        "startedAt": _iso(29),
        "completedAt": _iso(30),
        "metadata": metadata,
    }


def test_periscope_metadata_commit_carries_a_commit_time(api, org, key, other_org):
    body = periscope_body("p1", {"commitAuthoredAt": _iso(20)})
    response = post_webhook(api, "periscope", body, key=key)
    assert response.status_code in (200, 201), response.content
    assert Deployment.objects.get(organization=org).commit_at == at_hour(20)
    lead = lead_time(api, key, org)
    assert (lead["changes"], lead["medianSeconds"]) == (1, 10 * H)


def test_an_opslevel_import_carries_commit_times(api, org, key, other_org, other_key):
    lines = [
        json.dumps(opslevel_deploy("i1", "a", deployed=30, authored=6)),
        json.dumps(opslevel_deploy("i2", "b", deployed=50, authored=44)),
    ]
    report = import_lines(lines=lines, organization=org, fmt="opslevel")
    assert report.created == 2
    lead = lead_time(api, key, org)
    assert (lead["changes"], lead["medianSeconds"], lead["deploymentsWithoutChanges"]) == (
        2,
        15 * H,
        0,
    )
    assert lead_time(api, other_key, other_org)["changes"] == 0


# --- forge data takes precedence -------------------------------------------------------------

# The real GitHub push of ailisp/gcbapp-buildconfig-example: its head, PR #3's merge commit,
# was authored 2019-11-26T02:01:12-05:00, i.e. 07:01:12Z.
FORGE_SERVICE = "gcbapp-buildconfig-example"
PUSH = "push.after-merge.real-capture.json"


def forge_push(api):
    delivery = real_headers(PUSH.replace(".json", ".headers.txt"))["x-github-delivery"]
    response = post_webhook(api, "github", fixture(PUSH), event="push", delivery=delivery)
    assert response.status_code == 200, response.content


def merge_deploy() -> dict:
    # Its delivery says the commit was made a day before deploying (the forge disagrees).
    return {
        "dedup_id": "m1",
        "service": FORGE_SERVICE,
        "deployer": {"email": "ci@example.com"},
        "deployed_at": "2019-11-26T08:00:00Z",
        "environment": "production",
        "description": "Deploy m1",
        "commit": {"sha": MERGE_SHA, "authoring_date": "2019-11-25T08:00:00Z"},
    }


def head_link(org) -> DeploymentCommit:
    return DeploymentCommit.objects.get(deployment__organization=org, sha=MERGE_SHA)


FORGE_RANGE = {"from": "2019-11-20", "to": "2019-11-30"}


@pytest.mark.parametrize("push_first", [False, True], ids=["push-later", "push-earlier"])
def test_forge_data_takes_the_place_of_the_carried_time(api, org, key, other_org, push_first):
    set_webhook_secret(organization=org, provider="github", secret=SECRETS["github"])
    if push_first:
        forge_push(api)
    send(api, key, merge_deploy())
    if not push_first:
        link = head_link(org)
        assert (link.repository_id, link.lead_seconds) == (None, 24 * H)
        got = assert_api_matches_reference(api, key, organization=org, params=FORGE_RANGE)
        assert got["summary"]["leadTime"]["changes"] == 1
        forge_push(api)
    link = head_link(org)
    assert link.repository is not None
    assert link.lead_seconds == 58 * 60 + 48  # 07:01:12Z to 08:00:00Z, the forge's time
    assert not DeploymentCommit.objects.filter(repository__isnull=True).exists()
    got = assert_api_matches_reference(api, key, organization=org, params=FORGE_RANGE)
    # The push's five commits of the last 30 days, each timed by the forge.
    assert got["summary"]["leadTime"]["changes"] == 5
    assert got["summary"]["leadTime"]["deploymentsWithoutChanges"] == 0


# --- whatever the payload says, never a 500 --------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
anything = st.text(alphabet=st.characters(codec=None), max_size=40) | json_values


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(date=anything, authoring=anything)
def test_any_opslevel_commit_dates_answer_202_or_a_400_naming_the_field(api, key, date, authoring):
    body = opslevel_deploy("h", "a", deployed=30, authored=None)
    body.pop("dedup_id")
    body["commit"] |= {"date": date, "authoring_date": authoring}
    response = post_webhook(api, "opslevel", json.dumps(body, default=str).encode(), key=key)
    assert response.status_code in (202, 400), response.content
    if response.status_code == 400:
        [error] = response.json()["errors"]
        assert error["title"].startswith("Commit ")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commit=anything)
def test_any_periscope_metadata_commit_time_is_stored_never_a_500(api, org, key, commit):
    body = periscope_body("h", {"commitAuthoredAt": commit, "commitTimestamp": commit})
    response = post_webhook(api, "periscope", json.dumps(body, default=str).encode(), key=key)
    assert response.status_code < 500, response.content
    if response.status_code < 300:
        stored = Deployment.objects.get(organization=org, external_id="h")
        assert stored.commit_at is None or stored.commit_at <= at_hour(30) + timedelta(days=10**6)
