"""Rollbacks detected from the commits (deployments/recording/rollbacks.py), sent over the
Periscope webhook and read from /api/deployments and /api/metrics/dora.

Hand-made histories of the service "shop" in production, one deployment an hour; commits
named by letters (tests.builders.sha), with or without the commit graph.
"""

import json

import pytest

from deployments.models import Deployment, Status
from deployments.recording.importing import import_lines
from tests.builders import LINEAR, REPO_URL, graph, sha
from tests.factories import make_service
from tests.rollup_checks import assert_api_matches_reference, check_rollups
from tests.webhooks import check_webhook

RANGE = {"from": "2026-01-01", "to": "2026-01-03", "interval": "day"}


def payload(ident, commit, hour, status="success", **extra):
    return {
        "deploymentId": ident,
        "commitSha": sha(commit),
        "environment": "production",
        "status": status,
        "service": "shop",
        "startedAt": f"2026-01-01T{hour:02d}:00:00Z",
        "completedAt": f"2026-01-01T{hour:02d}:30:00Z",
        **extra,
    }


@pytest.fixture
def send(api, org, key):
    make_service(org, "shop", repository_url=REPO_URL)

    def send(ident, commit, hour, status="success", expected=201, **extra):
        check_webhook(
            api, "periscope", payload(ident, commit, hour, status, **extra), expected, key=key
        )

    return send


def state(org, ident):
    deployment = Deployment.objects.get(organization=org, external_id=ident)
    replaced = deployment.rollback_of.external_id if deployment.rollback_of else None
    return deployment.status, deployment.rolled_back_detected, replaced


def listed(api, key) -> dict[str, dict]:
    response = api.get("/api/deployments", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    return {row["externalId"]: row for row in response.json()["results"]}


def test_redeploying_an_earlier_commit_rolls_back_the_one_it_replaced(send, api, org, key):
    send("d1", "a", 1)
    send("d2", "b", 2)
    send("d3", "a", 3)
    assert state(org, "d3") == (Status.SUCCESS, False, "d2")
    assert state(org, "d2") == (Status.ROLLED_BACK, True, None)
    assert state(org, "d1") == (Status.SUCCESS, False, None)
    rows = listed(api, key)
    assert rows["d3"]["rollbackOf"] == rows["d2"]["id"]
    assert rows["d2"]["status"] == "rolled_back"
    assert rows["d1"]["rollbackOf"] is None
    # The delivery log is as sent.
    d2 = Deployment.objects.get(organization=org, external_id="d2")
    assert d2.status_raw == "success"
    assert [delivery.body for delivery in d2.deliveries.all()] == [
        json.dumps(payload("d2", "b", 2))
    ]
    summary = api.get("/api/metrics/dora", RANGE, HTTP_AUTHORIZATION=f"Bearer {key}").json()[
        "summary"
    ]
    assert summary["changeFailureRate"]["rolledBack"] == 1
    assert summary["changeFailureRate"]["rate"] == 1 / 3
    # Recovered by the rollback, an hour later.
    assert summary["failedDeploymentRecoveryTime"]["medianSeconds"] == 3600
    assert summary["reworkRate"]["rework"] == 1
    assert_api_matches_reference(api, key, organization=org, params=RANGE)
    check_rollups()


def test_no_rollback_without_an_earlier_deployment_of_the_commit(send, org):
    send("d1", "a", 1)
    send("d2", "b", 2)
    send("d3", "c", 3)
    send("d4", "c", 4)  # the same commit again: replaces nothing different
    assert [state(org, d)[2] for d in ("d1", "d2", "d3", "d4")] == [None] * 4
    assert state(org, "d3")[0] == Status.SUCCESS


def test_what_the_sender_said_stands(send, org):
    send("d1", "a", 1)
    send("d2", "b", 2, status="rolled_back")
    send("d3", "a", 3)
    # A rollback of d2, which its sender already called rolled back (not "detected").
    assert state(org, "d3") == (Status.SUCCESS, False, "d2")
    assert state(org, "d2") == (Status.ROLLED_BACK, False, None)
    # A failure never reached production: d5 replaces d3 (commit a, the same): nothing.
    send("d4", "c", 4, status="failure")
    send("d5", "a", 5)
    assert state(org, "d5")[2] is None


def test_the_commit_graph_decides_what_is_older(send, org):
    # a - b - c - d - e, and x branching off a.
    graph(org, {**LINEAR, "x": ("a",)})
    send("d1", "b", 1)
    send("d2", "d", 2)
    send("d3", "b", 3)  # b is an ancestor of d: a rollback
    assert state(org, "d3")[2] == "d2"
    send("d4", "x", 4)
    send("d5", "e", 5)
    send("d6", "x", 6)  # x is no ancestor of e: a forward deploy of another branch
    assert state(org, "d6")[2] is None
    assert state(org, "d5")[0] == Status.SUCCESS
    check_rollups()


def test_a_late_delivery_is_settled_with_its_neighbours(send, org):
    send("d1", "a", 1)
    send("d3", "a", 3)
    assert state(org, "d3")[2] is None
    send("d2", "b", 2)  # arrives last: d3 now replaced it
    assert state(org, "d3")[2] == "d2"
    assert state(org, "d2") == (Status.ROLLED_BACK, True, None)
    check_rollups()


def test_repeats_keep_the_detection_unless_the_sender_says_otherwise(send, org):
    send("d1", "a", 1)
    send("d2", "b", 2)
    send("d3", "a", 3)
    send("d2", "b", 2, expected=200)  # the same success again: still rolled back
    assert state(org, "d2") == (Status.ROLLED_BACK, True, None)
    send("d3", "a", 3, status="failure", expected=200)  # the rollback itself failed
    assert state(org, "d3") == (Status.FAILURE, False, None)
    assert state(org, "d2") == (Status.SUCCESS, False, None)
    check_rollups()


def test_switching_detection_off_and_on_in_the_admin(send, org, staff_client):
    send("d1", "a", 1)
    send("d2", "b", 2)
    send("d3", "a", 3)
    url = f"/admin/periscope/organization/{org.pk}/change/"
    form = {"slug": org.slug, "name": org.name, "default_environment": "production"}
    response = staff_client.post(url, form)  # the checkbox unticked
    assert response.status_code == 302, response.content
    assert state(org, "d2") == (Status.SUCCESS, False, None)
    assert state(org, "d3")[2] is None
    send("d4", "b", 4)
    assert state(org, "d4")[2] is None
    response = staff_client.post(url, {**form, "detect_rollbacks": "on"})
    assert response.status_code == 302
    assert state(org, "d3")[2] == "d2"
    assert state(org, "d4")[2] == "d3"
    assert state(org, "d3")[0] == Status.ROLLED_BACK
    check_rollups()


def test_an_import_detects_the_rollbacks_it_brings(org):
    make_service(org, "shop")
    lines = [
        json.dumps(payload(ident, commit, hour))
        for ident, commit, hour in (("i1", "a", 1), ("i2", "b", 2), ("i3", "a", 3))
    ]
    import_lines(organization=org, fmt="periscope", lines=lines)
    assert state(org, "i3")[2] == "i2"
    assert state(org, "i2") == (Status.ROLLED_BACK, True, None)
    check_rollups()


def test_deleting_the_rollback_restores_what_it_replaced(send, org, admin_client):
    send("d1", "a", 1)
    send("d2", "b", 2)
    send("d3", "a", 3)
    d3 = Deployment.objects.get(organization=org, external_id="d3")
    url = f"/admin/deployments/deployment/{d3.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert state(org, "d2") == (Status.SUCCESS, False, None)
    check_rollups()


def test_other_organizations_are_untouched(send, api, org, other_org, other_key):
    for ident, commit, hour in (("o1", "a", 1), ("o2", "b", 2)):
        check_webhook(api, "periscope", payload(ident, commit, hour), 201, key=other_key)
    send("d1", "b", 3)
    send("d2", "a", 4)  # a was deployed only in the other organization
    assert state(org, "d2")[2] is None
    assert state(other_org, "o2") == (Status.SUCCESS, False, None)


def test_the_command_detects_what_was_stored_before(org, other_org):
    from io import StringIO

    from django.core.management import call_command

    from deployments.models import Deployment
    from tests.factories import DeploymentFactory

    for ident, commit, hour in (("h1", "a", 1), ("h2", "b", 2), ("h3", "a", 3)):
        DeploymentFactory(
            organization=org,
            external_id=ident,
            service_name="shop",
            service_key="shop",
            commit_sha=sha(commit),
            status="success",
            started_at=f"2026-01-01T{hour:02d}:00:00Z",
            completed_at=f"2026-01-01T{hour:02d}:30:00Z",
        )
    Deployment.objects.filter(organization=org).update(rollback_of=None)
    out = StringIO()
    call_command("detect_rollbacks", org=["acme"], stdout=out)
    assert out.getvalue() == "acme: 1 detected rollback(s)\n"
    assert state(org, "h3")[2] == "h2"
    check_rollups()


def test_a_delivery_with_nothing_to_link_is_checked_on_its_fast_path(api, org, key):
    # No repository anywhere: the deliveries take the recorder's fast path, where the
    # candidate check rides in the insert's pipeline under the group's lock (PostgreSQL).
    make_service(org, "shop")

    def send(ident, commit, hour, status="success"):
        check_webhook(api, "periscope", payload(ident, commit, hour, status), 201, key=key)

    send("d1", "a", 1)
    send("d2", "b", 2)
    send("d3", "c", 3, status="rolled_back")  # reached production, takes no lock
    send("d4", "a", 4)
    assert state(org, "d4") == (Status.SUCCESS, False, "d3")
    send("d5", "b", 5)  # back to b: replaces d4, which redeployed a
    assert state(org, "d5") == (Status.SUCCESS, False, "d4")
    assert state(org, "d4") == (Status.ROLLED_BACK, True, "d3")
    send("d6", "e", 6)
    send("d7", "f", 7)
    assert [state(org, d)[2] for d in ("d6", "d7")] == [None, None]
    assert_api_matches_reference(api, key, organization=org, params=RANGE)
    check_rollups()
