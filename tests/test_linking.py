"""Linking rules on hand-built commit graphs."""

import itertools

import pytest
from django.test import override_settings

from deployments.changes.commits import CommitData
from deployments.ingest.forge import PullRequestData, store_pull_request, store_push
from deployments.models import Deployment, DeploymentCommit, DeploymentPullRequest, Source
from deployments.recording.events import DeploymentEvent
from deployments.recording.recorder import record_deployment
from tests.builders import LINEAR, REPO_URL, at_hour, deploy, graph, sha
from tests.factories import make_service


def shipped_shas(org, ident) -> set[str]:
    return set(
        DeploymentCommit.objects.filter(
            deployment__organization=org, deployment__external_id=ident
        ).values_list("sha", flat=True)
    )


def names(*ns):
    return {sha(n) for n in ns}


@pytest.fixture
def shop(org):
    return make_service(org, "shop", repository_url=REPO_URL)


def test_linear_history_ships_commits_since_previous_deployment(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "d1", "b", 10)
    deploy(org, "d2", "e", 20)
    assert shipped_shas(org, "d1") == names("a", "b")  # within the 30-day horizon
    assert shipped_shas(org, "d2") == names("c", "d", "e")


def test_merge_commit_links_both_sides_and_the_pr(org, shop):
    # main: a - b ---- m ; feature: a - f1 - f2 merged into m
    repo = graph(
        org,
        {"a": (), "b": ("a",), "f1": ("a",), "f2": ("f1",), "m": ("b", "f2")},
        {"a": 1, "b": 2, "f1": 3, "f2": 4, "m": 6},
    )
    deploy(org, "d1", "b", 5)
    store_pull_request(
        organization=org,
        url=REPO_URL,
        data=PullRequestData(
            number=7,
            created_at=at_hour(4.5),
            merged_at=at_hour(6),
            merge_commit_sha=sha("m"),
            head_sha=sha("f2"),
        ),
    )
    result = deploy(org, "d2", "m", 8)
    assert shipped_shas(org, "d2") == names("f1", "f2", "m")
    assert result.linked_prs == 1
    link = DeploymentPullRequest.objects.get(deployment__external_id="d2")
    assert link.pull_request.first_commit_at == at_hour(3)  # f1, not the merge commit
    assert link.lead_seconds == 5 * 3600  # f1 at 3h -> deployed at 8h
    assert link.coding_seconds == 1.5 * 3600
    assert link.review_seconds == 1.5 * 3600
    assert link.waiting_seconds == 2 * 3600
    # Every commit of the PR belongs to it: none is a separate change.
    assert (
        set(
            DeploymentCommit.objects.filter(deployment__external_id="d2", pull_request__isnull=True)
        )
        == set()
    )
    assert repo.pull_requests.count() == 1


def test_squash_merge_links_pr_by_merge_commit(org, shop):
    # The PR's head h never lands on main; the squash commit s does.
    graph(org, {"a": (), "h": ("a",), "s": ("a",)}, {"a": 1, "h": 2, "s": 3})
    store_pull_request(
        organization=org,
        url=REPO_URL,
        data=PullRequestData(
            number=9,
            created_at=at_hour(2),
            merged_at=at_hour(3),
            merge_commit_sha=sha("s"),
            head_sha=sha("h"),
        ),
    )
    deploy(org, "d0", "a", 1.5)
    result = deploy(org, "d1", "s", 4)
    assert shipped_shas(org, "d1") == names("s")
    assert result.linked_prs == 1
    # The squash commit is the PR's only shipped commit: its authored time (3h) is the start.
    assert DeploymentPullRequest.objects.get().lead_seconds == 3600


def test_deploying_an_older_commit_ships_nothing(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "d1", "d", 10)
    deploy(org, "d2", "b", 11)  # rollback
    assert shipped_shas(org, "d2") == set()
    deploy(org, "d3", "e", 12)
    assert shipped_shas(org, "d3") == names("c", "d", "e")


def test_previous_commit_sha_bounds_the_change(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "d1", "e", 10, previous="c")
    assert shipped_shas(org, "d1") == names("d", "e")


def test_two_services_in_one_repository_are_bounded_separately(org, shop):
    api = make_service(org, "shop-api", repository_url=REPO_URL)
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "web1", "c", 10, service="shop")
    deploy(org, "api1", "b", 11, service="shop-api")
    deploy(org, "web2", "e", 12, service="shop")
    deploy(org, "api2", "d", 13, service="shop-api")
    assert shipped_shas(org, "web2") == names("d", "e")
    assert shipped_shas(org, "api2") == names("c", "d")
    assert api.pk != shop.pk


@override_settings(LEAD_TIME_FIRST_DEPLOYMENT_HORIZON_DAYS=1)
def test_first_deployment_reaches_back_only_to_the_horizon(org, shop):
    graph(org, LINEAR, {"a": 0, "b": 1, "c": 30, "d": 40, "e": 50})
    deploy(org, "d1", "e", 51)
    assert shipped_shas(org, "d1") == names("c", "d", "e")


def test_only_successful_production_deployments_are_linked(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "s1", "e", 10, env="staging")
    deploy(org, "f1", "e", 10, status="failure")
    assert DeploymentCommit.objects.count() == 0


def test_other_organizations_graph_is_invisible(org, other_org, shop):
    make_service(other_org, "shop", repository_url=REPO_URL)
    graph(other_org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "d1", "e", 10)
    assert shipped_shas(org, "d1") == names("e")  # only the bare deployed sha


def test_hivel_pr_numbers_link_prs(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    result = deploy(org, "d1", "e", 10, metadata={"pr_numbers": "12, 13"})
    assert result.linked_prs == 2


EVENTS = ("deploy1", "deploy2", "push1", "push2", "pr")


def _replay(org, order):
    for name in order:
        if name == "deploy1":
            deploy(org, "d1", "b", 10)
        elif name == "deploy2":
            deploy(org, "d2", "f", 20)
        elif name == "push1":
            store_push(
                organization=org,
                url=REPO_URL,
                before="",
                after=sha("b"),
                commits=[
                    CommitData(sha=sha("a"), authored_at=at_hour(1)),
                    CommitData(sha=sha("b"), authored_at=at_hour(2)),
                ],
            )
        elif name == "push2":
            store_push(
                organization=org,
                url=REPO_URL,
                before=sha("b"),
                after=sha("f"),
                commits=[
                    CommitData(sha=sha(n), authored_at=at_hour(h))
                    for n, h in (("c", 3), ("e", 4), ("f", 5))
                ],
            )
        else:
            store_pull_request(
                organization=org,
                url=REPO_URL,
                data=PullRequestData(
                    number=1,
                    created_at=at_hour(3.5),
                    merged_at=at_hour(5),
                    merge_commit_sha=sha("f"),
                    head_sha=sha("e"),
                ),
            )
    return {
        ident: (
            shipped_shas(org, ident),
            sorted(
                DeploymentPullRequest.objects.filter(deployment__external_id=ident).values_list(
                    "pull_request__number", "lead_seconds"
                )
            ),
        )
        for ident in ("d1", "d2")
    }


@pytest.mark.parametrize("order", list(itertools.permutations(EVENTS))[::5])
def test_webhook_order_does_not_change_links(org, shop, order):
    result = _replay(org, order)
    assert result == {
        "d1": (names("a", "b"), []),
        "d2": (names("c", "e", "f"), [(1, 17 * 3600.0)]),
    }
    assert Deployment.objects.filter(organization=org).count() == 2


def test_a_cycle_from_inconsistent_pushes_does_not_hang(org, shop):
    store_push(
        organization=org,
        url=REPO_URL,
        before=sha("a"),
        after=sha("b"),
        commits=[CommitData(sha=sha("b"), authored_at=at_hour(2))],
    )
    store_push(
        organization=org,
        url=REPO_URL,
        before=sha("b"),
        after=sha("a"),
        commits=[CommitData(sha=sha("a"), authored_at=at_hour(1))],
    )
    deploy(org, "d1", "b", 10)
    assert shipped_shas(org, "d1") == names("a", "b")


def test_opslevel_commit_object_in_metadata_feeds_the_commit(org, shop):
    commit = {
        "sha": sha("z"),
        "message": "Fix checkout\n\nlong",
        "author_name": "Ada",
        "date": "2026-01-01T02:00:00Z",
    }
    deploy(org, "d1", "z", 10, metadata={"commit": commit})
    row = DeploymentCommit.objects.get(deployment__external_id="d1")
    assert row.sha == sha("z") and row.lead_seconds == 8 * 3600
    from deployments.models import Commit

    stored = Commit.objects.get(organization=org, sha=sha("z"))
    assert (stored.message, stored.author) == ("Fix checkout", "Ada")


def test_late_opened_redelivery_keeps_the_merge(org, shop):
    merged = PullRequestData(
        number=4, created_at=at_hour(1), merged_at=at_hour(2), merge_commit_sha=sha("m")
    )
    store_pull_request(organization=org, url=REPO_URL, data=merged)
    store_pull_request(
        organization=org,
        url=REPO_URL,
        data=PullRequestData(number=4, state="open", created_at=at_hour(1)),
    )
    from deployments.models import PullRequest

    pr = PullRequest.objects.get(organization=org, number=4)
    assert (pr.state, pr.merged_at, pr.merge_commit_sha) == ("merged", at_hour(2), sha("m"))


def test_short_shas_resolve_to_the_commit_they_abbreviate(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    record_deployment(
        organization=org,
        event=DeploymentEvent(
            source=Source.PERISCOPE,
            external_id="short",
            environment="production",
            status="success",
            service_name="shop",
            commit_sha=sha("e")[:4] + "00",  # "650000": e's sha is 65 then zeros
            previous_commit_sha=sha("c")[:7],
            started_at=at_hour(10),
            completed_at=at_hour(10),
        ),
        body="{}",
    )
    assert shipped_shas(org, "short") == names("d", "e")


def test_payload_pr_numbers_are_capped_and_created_in_one_batch(
    org, other_org, shop, django_assert_max_num_queries
):
    """A payload's PR numbers are work its sender controls: at most 100, in a few statements.

    (Hivel refuses more with a 400; other formats' metadata, such as a GitHub deployment's
    payload, is cut here.) 1,000 numbers once ran 4,031 queries and made 1,000 placeholders.
    """
    from deployments.models import PullRequest

    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    store_pull_request(organization=org, url=REPO_URL, data=PullRequestData(number=7, state="open"))
    numbers = ",".join(str(n) for n in range(1, 1001))
    # Constant in the PR count; ~10 of them refresh the metrics rollups (deployments/rollups).
    with django_assert_max_num_queries(40):
        result = deploy(org, "d1", "e", 10, metadata={"pr_numbers": numbers, "pr_number": "999"})
    assert result.linked_prs == 100
    assert PullRequest.objects.filter(organization=org).count() == 100
    linked = set(
        DeploymentPullRequest.objects.values_list("pull_request__number", flat=True).distinct()
    )
    assert 999 in linked and 7 in linked  # pr_number first, then the list in order
    assert not PullRequest.objects.filter(organization=other_org).exists()
