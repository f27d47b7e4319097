"""Lead time statistics in SQL, checked against numbers worked out by hand."""

import pytest

from deployments.ingest.forge import PullRequestData, store_pull_request
from deployments.models import Deployment
from metrics.lead_time import lead_time_series, lead_time_stats
from tests.builders import LINEAR, REPO_URL, at_hour, deploy, graph, sha
from tests.factories import make_service

H = 3600.0


@pytest.fixture
def shop(org):
    return make_service(org, "shop", repository_url=REPO_URL)


def production(org):
    return Deployment.objects.filter(organization=org, environment="production")


@pytest.fixture
def history(org, other_org, shop):
    # a..e authored at 1, 2, 3, 14, 19 h
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 14, "e": 19})
    deploy(org, "d1", "b", 10)  # ships a, b: 9 h, 8 h
    deploy(org, "d2", "e", 20)  # ships c, d, e: 17 h, 6 h, 1 h
    deploy(org, "s1", "e", 21, env="staging")  # not production
    deploy(org, "d3", "e", 25)  # redeploy: ships nothing
    # The other organization's identical history must not count.
    make_service(other_org, "shop", repository_url=REPO_URL)
    graph(other_org, LINEAR, {"a": 0, "b": 0, "c": 0, "d": 0, "e": 0})
    deploy(other_org, "d1", "e", 100)


def test_median_p90_mean_and_counts(org, history):
    stats = lead_time_stats(deployments=production(org))
    # Leads 1, 6, 8, 9, 17 h: median the 3rd, p90 rank ceil(4.5) = 5th, mean 41/5.
    assert stats.changes == 5
    assert stats.median_seconds == 8 * H
    assert stats.p90_seconds == 17 * H
    assert stats.mean_seconds == pytest.approx(8.2 * H)
    assert stats.deployments_without_changes == 1  # d3
    assert stats.coding_mean_seconds is None  # no pull requests


def test_even_count_median_is_the_mean_of_the_middle_two(org, history):
    stats = lead_time_stats(deployments=production(org).filter(completed_at__lt=at_hour(15)))
    assert (stats.changes, stats.median_seconds, stats.p90_seconds) == (2, 8.5 * H, 9 * H)


def test_series_by_completion_bucket(org, history):
    first, second, empty = lead_time_series(
        deployments=production(org),
        buckets=[(at_hour(0), at_hour(15)), (at_hour(15), at_hour(30)), (at_hour(30), at_hour(40))],
    )
    assert (first.changes, first.mean_seconds) == (2, 8.5 * H)
    assert (second.changes, second.median_seconds, second.deployments_without_changes) == (
        3,
        6 * H,
        1,
    )
    assert (empty.changes, empty.median_seconds, empty.deployments_without_changes) == (0, None, 0)


def test_a_change_counts_once_at_its_first_shipping_deployment(org, shop):
    graph(org, LINEAR, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    deploy(org, "d1", "d", 10)  # a, b, c, d
    deploy(org, "d2", "b", 11)  # rollback: nothing
    deploy(org, "d3", "e", 12)  # c, d again, and e
    everything = lead_time_stats(deployments=production(org))
    assert everything.changes == 5
    late = lead_time_stats(deployments=production(org).filter(completed_at__gte=at_hour(11)))
    assert (late.changes, late.median_seconds, late.deployments_without_changes) == (1, 7 * H, 1)


def test_pull_requests_are_one_change_with_stage_split(org, shop):
    graph(
        org,
        {"a": (), "b": ("a",), "f1": ("a",), "f2": ("f1",), "m": ("b", "f2"), "x": ("m",)},
        {"a": 1, "b": 2, "f1": 3, "f2": 4, "m": 6, "x": 7},
    )
    deploy(org, "d1", "b", 5)
    store_pull_request(
        organization=org,
        url=REPO_URL,
        data=PullRequestData(
            number=7,
            created_at=at_hour(4.5),
            merged_at=at_hour(6),
            merge_commit_sha="",
            head_sha="",
        ),
    )
    store_pull_request(
        organization=org,
        url=REPO_URL,
        data=PullRequestData(number=7, merge_commit_sha=sha("m"), head_sha=sha("f2")),
    )
    deploy(org, "d2", "x", 9)
    stats = lead_time_stats(deployments=production(org).filter(completed_at__gte=at_hour(8)))
    # The PR (f1 at 3 h -> 9 h = 6 h) and the direct commit x (7 h -> 9 h = 2 h).
    assert stats.changes == 2
    assert stats.median_seconds == 4 * H
    assert stats.coding_mean_seconds == 1.5 * H
    assert stats.review_mean_seconds == 1.5 * H
    assert stats.waiting_mean_seconds == 3 * H


def test_unknown_start_is_not_counted(org, shop):
    deploy(org, "d1", "zz", 10)  # a bare sha, no commit data
    stats = lead_time_stats(deployments=production(org))
    assert (stats.changes, stats.median_seconds, stats.deployments_without_changes) == (0, None, 1)
