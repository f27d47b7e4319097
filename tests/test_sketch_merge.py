"""The duration-percentile merge of the rollups (metrics/rollup_queries.py `percentiles`)
gives the same answers in Python (orjson + sketch.stats_of_pieces) as in SQL and as
`sketch.stats` of the merged sketch: negative (clock skew) bins, the zero bin, empty
sketches, float sums, bins split over many rows, edge sketches (`extra`) and, from the
all-services totals, buckets answered from their stored stats."""

import math
import random
from datetime import date, timedelta

import pytest
from django.db.models import Q
from hypothesis import given, settings
from hypothesis import strategies as st

from deployments.models import DailyRollup, GroupRollup, OrganizationRollup
from deployments.rollups import sketch
from deployments.rollups.groups import refresh_groups
from metrics import rollup_queries as rq

durations = st.one_of(
    st.sampled_from([0.0, 0, 1, 60, 3600, -5, -0.5, 86400.0]),
    st.floats(min_value=-1e6, max_value=1e7, allow_nan=False, allow_infinity=False),
)


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _assert_same(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for key, values in expected.items():
        assert all(_close(a, b) for a, b in zip(found[key], values, strict=True)), (
            key,
            found[key],
            values,
        )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.lists(durations, max_size=12), max_size=8))
def test_pieces_rank_like_the_merged_sketch(groups):
    """Sketches laid end to end, their orders as stored strings or ints, rank like their
    merge: n, sum, median, p90 and mean of `sketch.stats`."""
    parts = [sketch.of(values) for values in groups]
    merged: sketch.Sketch = {}
    orders, bins = [], []
    for index, part in enumerate(parts):
        sketch.merge(merged, part)
        stored = sketch.to_json(part) if index % 2 else part
        orders.extend(stored)
        bins.extend([list(b) for b in stored.values()])
    n, median, p90, mean = sketch.stats(merged)
    found = sketch.stats_of_pieces(orders, bins)
    if not n:
        assert found is None
        return
    assert found[0] == n
    for a, b in zip(found[1:], (sketch.total(merged), median, p90, mean), strict=True):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(durations, max_size=40))
def test_pages_hold_every_bin_once_in_order(values):
    """A sketch by page: each bin in the page of its order, pages' counts and sums their
    bins', and the pages in the bins' order."""
    bins = sketch.of(values)
    counts, pages = sketch.paged(bins)
    assert counts.keys() == pages.keys()
    found = {int(order): bin_ for page in pages.values() for order, bin_ in page.items()}
    assert found == {order: bin_ for order, bin_ in bins.items() if bin_[0]}
    for page, page_bins in pages.items():
        assert all(sketch.page_of(int(order)) == int(page) for order in page_bins)
        assert counts[page][0] == sum(c for c, _s in page_bins.values())
        assert math.isclose(counts[page][1], sum(s for _c, s in page_bins.values()), abs_tol=1e-6)
    ordered = sorted(map(int, pages))
    assert [max(map(int, pages[str(p)])) for p in ordered] == sorted(
        max(map(int, pages[str(p)])) for p in ordered
    )


def test_pieces_skip_empty_bins_and_answer_none_when_empty():
    assert sketch.stats_of_pieces([], []) is None
    assert sketch.stats_of_pieces(["1000005"], [[0, 0.0]]) is None
    # A zero-count bin between the ranks is never an answer.
    found = sketch.stats_of_pieces(["-1000010", "0", "1000002"], [[1, -3.0], [0, 0.0], [1, 2.0]])
    assert found == (2, -1.0, (-3.0 + 2.0) / 2, 2.0, -0.5)


DAY = date(2024, 2, 5)  # a Monday
GROUPS = ["name:one", "name:two", "name:loose"]


def _random_sketch(rng: random.Random) -> dict:
    values = [
        rng.choice([0, -rng.uniform(0.1, 600), rng.uniform(1, 1e6), 3600, 60.5])
        for _ in range(rng.choice([0, 0, 1, 3, 8]))
    ]
    return sketch.to_json(sketch.of(values))


def _row(organization, *, model, rng, day, **fields):
    return model(
        organization=organization,
        environment="production",
        day=day,
        week=day - timedelta(days=day.weekday()),
        month=day.replace(day=1),
        lead=_random_sketch(rng),
        recovery=_random_sketch(rng),
        restore=_random_sketch(rng),
        **fields,
    )


@pytest.fixture
def rollups(org):
    """Ten weeks of random service-day sketches (February 5 to April 14, 2024), their per-group week and month rows (by the
    fold's own code) and their all-services totals per day, ISO week and month with each
    row's stats."""
    rng = random.Random(17)
    daily = [
        _row(org, model=DailyRollup, rng=rng, day=DAY + timedelta(days=offset), group=group)
        for offset in range(70)
        for group in GROUPS
        if rng.random() < 0.8
    ]
    DailyRollup.objects.bulk_create(daily)
    refresh_groups(
        organization_id=org.pk, cells={(row.environment, row.group, row.day) for row in daily}
    )
    totals: dict[tuple, dict] = {}
    for row in daily:
        for level, day in (("day", row.day), ("week", row.week), ("month", row.month)):
            cell = totals.setdefault((level, day), {name: {} for name in rq.SKETCHES})
            for name in rq.SKETCHES:
                sketch.merge(cell[name], getattr(row, name))
    OrganizationRollup.objects.bulk_create(
        OrganizationRollup(
            organization=org,
            environment="production",
            level=level,
            day=day,
            week=day - timedelta(days=day.weekday()),
            month=day.replace(day=1),
            stats={name: sketch.summary(bins) for name, bins in cell.items() if sketch.count(bins)},
            **{name: sketch.to_json(bins) for name, bins in cell.items()},
        )
        for (level, day), cell in totals.items()
    )
    return daily


def _edges() -> dict:
    return {
        ("name:one", "lead"): sketch.of([-2.0, 0, 45.5, 45.5]),
        ("name:new", "restore"): sketch.of([7200.0]),
        ("name:two", "recovery"): {1000001: [0, 0.0]},
    }


def _filter(org, rows: str) -> rq.Filter:
    if rows == "one group":
        one = Q(group="name:two")
        return rq.Filter(
            organization_id=org.pk,
            environment="production",
            deployments=one,
            incidents=one,
            one_group=True,
        )
    return rq.Filter(organization_id=org.pk, environment="production", totals=rows == "totals")


@pytest.mark.parametrize("by", ["group", None, "day", "week", "month"])
@pytest.mark.parametrize("rows", ["every group", "one group", "totals"])
def test_python_and_sql_merges_agree(rollups, org, by, rows):
    if rows == "totals" and by == "group":
        pytest.skip("the totals have no groups")
    window_filter = _filter(org, rows)
    days = rq.Days(
        first=DAY + timedelta(days=3), last=DAY + timedelta(days=40), edges=(), before=None
    )
    extra = (
        _edges()
        if by == "group"
        else {("" if by is None else "2024-02-12", "lead"): sketch.of([-1.0, 0, 9.0])}
    )
    expected = rq.percentiles(window_filter, days, by=by, extra=extra, method="sql")
    assert expected
    # Every bin added in Python, and (from the per-group weeks) only the pages that hold
    # the ranks.
    for method in ("python", "pages"):
        found = rq.percentiles(window_filter, days, by=by, extra=extra, method=method)
        _assert_same(found, expected)


def _stats_of(merged: dict) -> dict:
    """{key: (n, sum, median, p90, mean)} of merged sketches, the empty ones left out."""
    expected = {}
    for key, bins in merged.items():
        n, median, p90, mean = sketch.stats(bins)
        if n:
            expected[key] = (n, sketch.total(bins), median, p90, mean)
    return expected


def test_python_merge_matches_the_merged_sketches(rollups, org):
    """Per service: the stats of each group's sketches merged in Python by `sketch.merge`,
    empty sketches absent, edges included."""
    window_filter = rq.Filter(organization_id=org.pk, environment="production")
    days = rq.Days(first=DAY, last=DAY + timedelta(days=42), edges=(), before=None)
    edges = _edges()
    merged: dict = {}
    for row in rollups:
        if row.day >= days.last:
            continue
        for name in rq.SKETCHES:
            sketch.merge(merged.setdefault((row.group, name), {}), getattr(row, name))
    for key, bins in edges.items():
        sketch.merge(merged.setdefault(key, {}), bins)
    expected = _stats_of(merged)
    for method in ("python", "pages"):
        found = rq.percentiles(window_filter, days, by="group", extra=edges, method=method)
        _assert_same(found, expected)
        assert ("name:new", "restore") in found


def test_an_empty_window_merges_to_nothing(org):
    window_filter = rq.Filter(organization_id=org.pk, environment="production")
    days = rq.Days(first=DAY, last=DAY + timedelta(days=7), edges=(), before=None)
    assert rq.percentiles(window_filter, days, by="group", extra={}, method="python") == {}
    assert rq.percentiles(window_filter, days, by=None, extra={}, method="python") == {}


@pytest.mark.parametrize("last", [40, 65])
@pytest.mark.parametrize("by", ["week", "month", None])
def test_one_group_reads_its_weeks_and_months_like_its_days(rollups, org, by, last):
    """A one-service window read from the group's week and month rows (whole buckets from
    their stats, a summary from the fewest rows and their pages) gives the stats of its
    service-days merged: from the Wednesday of the first week to the 40th day (weeks) or the
    65th (March whole), edges included."""
    assert GroupRollup.objects.filter(organization=org, group="name:two", level="week").exists()
    days = rq.Days(
        first=DAY + timedelta(days=2), last=DAY + timedelta(days=last), edges=(), before=None
    )
    if last == 65:
        assert ("month", date(2024, 3, 1), date(2024, 4, 1)) in rq.ladder(days)
    edge_key = "" if by is None else DAY.isoformat()
    merged: dict = {(edge_key, "lead"): sketch.of([-1.0, 0, 9.0])}
    for row in rollups:
        if row.group != "name:two" or not days.first <= row.day < days.last:
            continue
        key = "" if by is None else getattr(row, by).isoformat()
        for name in rq.SKETCHES:
            sketch.merge(merged.setdefault((key, name), {}), getattr(row, name))
    expected = _stats_of(merged)
    for method in ("python", "pages"):
        found = rq.percentiles(
            _filter(org, "one group"),
            days,
            by=by,
            extra={(edge_key, "lead"): sketch.of([-1.0, 0, 9.0])},
            method=method,
        )
        _assert_same(found, expected)
