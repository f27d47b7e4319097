"""A repeat that moves a deployment to another day, service or status leaves the cell it came
from: the rollups note the stored state before the repeat changes it."""

from tests.rollup_checks import assert_api_matches_reference, check_rollups
from tests.webhooks import check_webhook

RANGE = {"from": "2025-05-01", "to": "2025-05-08", "interval": "day"}


def payload(**changes):
    return {
        "deploymentId": "run-1",
        "commitSha": "abcdef1",
        "environment": "production",
        "status": "success",
        "service": "shop",
        "startedAt": "2025-05-02T09:00:00Z",
        "completedAt": "2025-05-02T10:00:00Z",
        **changes,
    }


def per_day(api, key) -> list[int]:
    response = api.get("/api/metrics/dora", RANGE, HTTP_AUTHORIZATION=f"Bearer {key}")
    return [item["deploymentFrequency"]["deployments"] for item in response.json()["series"]]


def test_a_repeat_moved_to_another_day_leaves_its_first_day(api, org, key, other_key):
    check_webhook(api, "periscope", payload(), 201, key=key)
    check_webhook(api, "periscope", payload(), 201, key=other_key)
    assert per_day(api, key) == [0, 1, 0, 0, 0, 0, 0]  # read: the first cell is stored
    later = {"startedAt": "2025-05-04T09:00:00Z", "completedAt": "2025-05-04T10:00:00Z"}
    check_webhook(api, "periscope", payload(**later), 200, key=key)
    assert per_day(api, key) == [0, 0, 0, 1, 0, 0, 0]
    check_webhook(api, "periscope", payload(**later, service="cart"), 200, key=key)
    check_webhook(api, "periscope", payload(**later, environment="staging"), 200, key=key)
    assert per_day(api, key) == [0] * 7
    assert per_day(api, other_key) == [0, 1, 0, 0, 0, 0, 0]
    assert_api_matches_reference(api, key, organization=org, params=RANGE)
    check_rollups()
