"""deployments/changes/commits.py: recording a push costs statements independent of its length."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.changes.commits import CommitData, chained, record_commits
from deployments.changes.repositories import get_or_create_repository
from deployments.models import Commit, CommitParent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sha(n: int) -> str:
    return f"{n:040x}"


def push(n: int, *, start: int = 1) -> list[CommitData]:
    commits = [
        CommitData(sha=sha(i), authored_at=T0 + timedelta(minutes=i), message=f"c{i}")
        for i in range(start, start + n)
    ]
    return chained(commits, before="")


def statements(repository, commits) -> int:
    with CaptureQueriesContext(connection) as captured:
        record_commits(repository=repository, commits=commits)
    return len(captured.captured_queries)


@pytest.fixture
def repository(org, other_org):
    get_or_create_repository(organization=other_org, url="https://github.com/globex/shop")
    return get_or_create_repository(organization=org, url="https://github.com/acme/shop")


@pytest.mark.parametrize("again", [False, True], ids=["new", "delivered-again"])
def test_statements_do_not_grow_with_the_push(repository, again):
    """100 and 400 commits cost about the same number of statements (bulk inserts come in batches),
    new or already recorded (a redelivery, a push to a second branch listing them again)."""
    counts = []
    for n, start in ((100, 1), (400, 1000)):
        commits = push(n, start=start)
        if again:
            record_commits(repository=repository, commits=commits)
        counts.append(statements(repository, commits))
    assert counts[1] <= counts[0] + 6, counts
    assert counts[1] < 40, counts


def test_a_rewritten_history_still_never_closes_a_cycle(repository):
    record_commits(repository=repository, commits=push(5))  # 1 ← 2 ← 3 ← 4 ← 5
    # A force-push listing old commits in another order: 5 as the parent of 1 would close a
    # cycle, and is left out; the others are the stored edges again.
    rewritten = chained(
        [CommitData(sha=sha(i)) for i in (1, 2, 3, 4, 5)],
        before=sha(5),
    )
    record_commits(repository=repository, commits=rewritten)
    assert not CommitParent.objects.filter(child_sha=sha(1), parent_sha=sha(5)).exists()
    generations = dict(Commit.objects.values_list("sha", "generation"))
    assert [generations[sha(i)] for i in range(1, 6)] == [0, 1, 2, 3, 4]


def test_a_self_edge_is_never_recorded(repository):
    record_commits(repository=repository, commits=chained([CommitData(sha=sha(7))], before=sha(7)))
    assert not CommitParent.objects.exists()
