"""Histories built by hand for the linking, lead-time and recovery tests.

Commit graphs and deployments of the service "shop" in one repository (REPO_URL), on a clock
of hours after T0 (`at_hour`); and the recovery invariant checked against a history.
"""

from datetime import UTC, datetime, timedelta

from deployments.changes.commits import CommitData, record_commits
from deployments.changes.repositories import get_or_create_repository
from deployments.ingest.forge import PullRequestData, store_pull_request
from deployments.models import Deployment, Source, Status
from deployments.recording.events import DeploymentEvent
from deployments.recording.recorder import record_deployment
from tests.factories import make_service

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REPO_URL = "https://github.com/acme/shop"
# a - b - c - d - e
LINEAR = {"a": (), "b": ("a",), "c": ("b",), "d": ("c",), "e": ("d",)}


def at_hour(hours: float) -> datetime:
    """The moment `hours` after T0."""
    return T0 + timedelta(hours=hours)


def sha(name: str) -> str:
    """The 40-hex sha of a commit named by a short string: the name's bytes, padded."""
    return name.encode().hex().ljust(40, "0")[:40]


def graph(org, edges: dict[str, tuple[str, ...]], times: dict[str, float] | None = None):
    """Commits named by short strings; sha = name padded, parents exact; times in hours."""
    repo = get_or_create_repository(organization=org, url=REPO_URL)
    times = times or {}
    record_commits(
        repository=repo,
        commits=[
            CommitData(
                sha=sha(name),
                parents=tuple(sha(p) for p in parents),
                parents_exact=True,
                authored_at=at_hour(times.get(name, 0)),
                committed_at=at_hour(times.get(name, 0)),
            )
            for name, parents in edges.items()
        ],
    )
    return repo


def deploy(
    org,
    ident,
    commit,
    hours,
    *,
    service="shop",
    previous="",
    status="success",
    env="production",
    metadata=None,
):
    """Record a Periscope deployment of commit `commit` completed at `hours`."""
    result = record_deployment(
        organization=org,
        event=DeploymentEvent(
            source=Source.PERISCOPE,
            external_id=ident,
            environment=env,
            status=status,
            service_name=service,
            commit_sha=sha(commit),
            previous_commit_sha=sha(previous) if previous else "",
            started_at=at_hour(hours),
            completed_at=at_hour(hours),
            metadata=metadata or {},
        ),
        body="{}",
    )
    return result


def build_history(org):
    """main: a - b ---- m, feature a - f1 - f2 merged as PR #7 into m, plus a direct commit c."""
    make_service(org, "shop", repository_url=REPO_URL)
    graph(
        org,
        {"a": (), "b": ("a",), "f1": ("a",), "f2": ("f1",), "m": ("b", "f2"), "c": ("m",)},
        {"a": 1, "b": 2, "f1": 3, "f2": 4, "m": 6, "c": 7},
    )
    deploy(org, "d1", "b", 5)
    store_pull_request(
        organization=org,
        url=REPO_URL,
        data=PullRequestData(
            number=7,
            title="Checkout v2",
            created_at=at_hour(4.5),
            merged_at=at_hour(6),
            merge_commit_sha=sha("m"),
            head_sha=sha("f2"),
        ),
    )
    deploy(org, "d2", "c", 8)


# --- recovery: a stored `recovered_at` is the next success, or NULL, never wrong ----------

# Spelled out here rather than taken from the code under test.
FAILED = (Status.FAILURE, Status.ROLLED_BACK)


def recovery_truth(org) -> dict[int, datetime | None]:
    """The next success of every failed production deployment, computed in Python."""
    rows = list(
        Deployment.objects.filter(organization=org, environment="production").values(
            "pk", "status", "service_id", "service_key", "completed_at"
        )
    )

    def group(row):
        return ("s", row["service_id"]) if row["service_id"] else ("k", row["service_key"])

    result = {}
    for row in rows:
        if row["status"] in FAILED:
            later = [
                r["completed_at"]
                for r in rows
                if r["status"] == Status.SUCCESS
                and group(r) == group(row)
                and r["completed_at"] > row["completed_at"]
            ]
            result[row["pk"]] = min(later, default=None)
    return result


def assert_never_wrong(org) -> int:
    """Every stored value is the next success; returns how many are stored."""
    expected = recovery_truth(org)
    values = dict(Deployment.objects.filter(pk__in=expected).values_list("pk", "recovered_at"))
    wrong = {
        pk: (v, expected[pk]) for pk, v in values.items() if v is not None and v != expected[pk]
    }
    assert wrong == {}
    # Only failed production deployments ever carry a value.
    assert (
        not Deployment.objects.filter(organization=org, recovered_at__isnull=False)
        .exclude(pk__in=expected)
        .exists()
    )
    return sum(v is not None for v in values.values())
