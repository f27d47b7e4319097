"""GitLab deliveries: the captures and documented examples under tests/fixtures/gitlab/, and
the merged MR's life built from them."""

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gitlab"
MERGE_SHA = "5bcfb805534d13224e8fa7698a2819bf0d055f29"
LAST_COMMIT = "f423fe3fedbc09f64ef438bedbde12caa161ee14"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def merged_mr() -> dict:
    return fixture("merge_request.merged.real-capture.json")


def deployment_of_merge() -> dict:
    """The real Deployment Hook capture, as a success of the merged MR's project and commit."""
    payload = fixture("deployment.failed.real-capture.json")
    payload["status"] = "success"
    payload["project"] = merged_mr()["project"]
    payload["commit_url"] = (
        f"https://gitlab.com/tomaszkolek0/my-awesome-project/-/commit/{MERGE_SHA}"
    )
    payload["status_changed_at"] = "2016-08-22 21:00:00 UTC"
    return payload


def push_of_merge() -> dict:
    """The documented Push Hook, carrying the MR's last commit and its merge commit."""
    payload = fixture("push.json")
    payload["project"] = merged_mr()["project"]
    payload["before"] = "95790bf891e76fee5e1747ab589903a6a1f80f22"
    payload["after"] = MERGE_SHA
    payload["commits"] = [
        dict(payload["commits"][0], id=LAST_COMMIT, timestamp="2016-08-22T22:34:57+02:00"),
        dict(payload["commits"][1], id=MERGE_SHA, timestamp="2016-08-22T20:41:06+00:00"),
    ]
    return payload
