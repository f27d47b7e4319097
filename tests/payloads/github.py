"""GitHub deliveries: the captures and documented examples under tests/fixtures/github/."""

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github"
# PR #3's merge commit, the head of the captured push after the merge.
MERGE_SHA = "a21683865c088b5fe1906cf6552d15a285a4986d"


def fixture(name: str) -> bytes:
    """A delivery's body, byte for byte as GitHub sent it (what the signature covers)."""
    return (FIXTURES / name).read_bytes()


def real_headers(name: str) -> dict[str, str]:
    """The tab-separated request headers GitHub sent with a captured delivery."""
    headers = {}
    for line in (FIXTURES / name).read_text().splitlines():
        key, _, value = line.partition("\t")
        headers[key.strip().lower()] = value.strip()
    return headers


def deployment_status_of_merge(completed: str = "2019-11-26T08:00:00Z") -> bytes:
    """The real deployment_status delivery, pointed at PR #3's repository and merge commit."""
    payload = json.loads(fixture("deployment_status.created.success.json"))
    push = json.loads(fixture("push.after-merge.real-capture.json"))
    payload["repository"] = push["repository"]
    payload["deployment"]["sha"] = MERGE_SHA
    payload["deployment"]["created_at"] = "2019-11-26T07:50:00Z"
    payload["deployment_status"]["created_at"] = completed
    payload["deployment_status"]["updated_at"] = completed
    return json.dumps(payload).encode()
