"""Comparing the stored rollups with a recomputation from the raw rows (`check_rollups`)."""

import math

from deployments.models import DailyRollup, GroupRollup, OrganizationRollup
from deployments.rollups import sketch
from deployments.rollups.cells import NUMBERS, SKETCHES, Cell, compute
from deployments.rollups.groups import day_bit, pages_of
from deployments.rollups.maintain import fold, months
from deployments.rollups.totals import cell_of, stats_of, week_of


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _sketch_drift(stored: sketch.Sketch, computed: sketch.Sketch) -> bool:
    if {o for o, (c, _s) in stored.items() if c} != {o for o, (c, _s) in computed.items() if c}:
        return True
    return any(
        stored[o][0] != c or not _close(stored[o][1], s) for o, (c, s) in computed.items() if c
    )


def drift(*, organization_id: int) -> list[str]:
    """One line per cell whose stored values differ from the raw rows' (empty: no drift),
    once the writes noted so far are folded in (what any metrics read would do first)."""
    fold(organization_id=organization_id)
    computed: dict = {}
    for month in months(organization_id):  # a month at a time: memory follows a month
        computed.update(compute(organization_id=organization_id, slices=[month]))
    stored: dict = {}
    for row in DailyRollup.objects.filter(organization_id=organization_id):
        stored[(row.environment, row.group, row.day)] = cell_of(row)
    problems = _compare(stored, computed)
    totals = _totals(computed)
    groups = _group_sums(computed)
    return (
        problems
        + _compare(_stored_groups(organization_id), groups)
        + _stats_drift(_stored_group_stats(organization_id), groups)
        + _active_drift(organization_id, computed)
        + _pages_drift(organization_id)
        + _compare(_stored_totals(organization_id), totals)
        + _stats_drift(_stored_total_stats(organization_id), totals)
    )


def _group_sums(computed: dict) -> dict:
    """The per-group week and month sums of the computed cells, keyed like GroupRollup rows."""
    sums: dict = {}
    for (environment, group, day), cell in computed.items():
        for level, start in (("week", week_of(day)), ("month", day.replace(day=1))):
            sums.setdefault((environment, f"{group} {level}", start), Cell()).merge(cell)
    return sums


def _group_key(row) -> tuple:
    return (row.environment, f"{row.group} {row.level}", row.day)


def _stored_groups(organization_id: int) -> dict:
    return {
        _group_key(row): cell_of(row)
        for row in GroupRollup.objects.filter(organization_id=organization_id)
    }


def _stored_group_stats(organization_id: int) -> dict:
    return {
        _group_key(row): row.stats
        for row in GroupRollup.objects.filter(organization_id=organization_id).only(
            "environment", "group", "level", "day", "stats"
        )
    }


def _active_drift(organization_id: int, computed: dict) -> list[str]:
    """Week and month rows whose days with a deployment that reached are not the raw rows'."""
    want: dict = {}
    for (environment, group, day), cell in computed.items():
        if cell.reached:
            for level, start in (("week", week_of(day)), ("month", day.replace(day=1))):
                key = (environment, f"{group} {level}", start)
                want[key] = want.get(key, 0) | day_bit(start, day)
    have = {
        _group_key(row): row.active_days
        for row in GroupRollup.objects.filter(organization_id=organization_id).only(
            "environment", "group", "level", "day", "active_days"
        )
    }
    return [
        f"{key[0]} {key[1]} {key[2]}: days with deployments differ"
        for key in sorted(set(have) | set(want), key=str)
        if have.get(key, 0) != want.get(key, 0)
    ]


def _same(have, want) -> bool:
    """Equal JSON values, numbers within _close."""
    if isinstance(want, dict):
        return (
            isinstance(have, dict)
            and have.keys() == want.keys()
            and all(_same(have[key], value) for key, value in want.items())
        )
    if isinstance(want, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(want)
            and all(_same(a, b) for a, b in zip(have, want, strict=True))
        )
    return _close(float(have), float(want))


def _pages_drift(organization_id: int) -> list[str]:
    """Week and month rows whose pages (what a rank over many rows reads) are not their own
    bins by page; the bins themselves are compared with the raw rows above."""
    problems = []
    for row in GroupRollup.objects.filter(organization_id=organization_id):
        want = pages_of(cell_of(row))
        if not (_same(row.page_counts, want["page_counts"]) and _same(row.pages, want["pages"])):
            key = _group_key(row)
            problems.append(f"{key[0]} {key[1]} {key[2]}: pages differ")
    return problems


def _stored_total_stats(organization_id: int) -> dict:
    return {
        (row.environment, f"all services {row.level}", row.day): row.stats
        for row in OrganizationRollup.objects.filter(organization_id=organization_id).only(
            "environment", "level", "day", "stats"
        )
    }


def _stats_drift(stored: dict, sums: dict) -> list[str]:
    """Week, month or totals rows whose stored [n, sum, median, p90] are not those of the
    raw rows."""
    problems = []
    for key, have_stats in stored.items():
        want = stats_of(sums[key]) if key in sums else {}
        have = have_stats or {}
        if set(have) != set(want) or any(
            not all(_close(float(a), float(b)) for a, b in zip(have[name], want[name], strict=True))
            for name in want
        ):
            problems.append(f"{key[0]} {key[1]} {key[2]}: stats differ")
    return problems


def _totals(computed: dict) -> dict:
    """The all-services totals the computed cells sum to, keyed like OrganizationRollup rows."""
    sums: dict = {}
    for (environment, _group, day), cell in computed.items():
        for level, start in (
            ("day", day),
            ("week", week_of(day)),
            ("month", day.replace(day=1)),
        ):
            sums.setdefault((environment, f"all services {level}", start), Cell()).merge(cell)
    return sums


def _stored_totals(organization_id: int) -> dict:
    return {
        (row.environment, f"all services {row.level}", row.day): cell_of(row)
        for row in OrganizationRollup.objects.filter(organization_id=organization_id)
    }


def _compare(stored: dict, computed: dict) -> list[str]:
    problems = []
    for key in sorted(set(stored) | set(computed), key=str):
        have, want = stored.get(key), computed.get(key)
        label = f"{key[0]} {key[1]} {key[2]}"
        if have is None:
            problems.append(f"{label}: missing")
            continue
        if want is None:
            problems.append(f"{label}: stored but the raw rows have nothing")
            continue
        wrong = [
            name
            for name in NUMBERS
            if not _close(float(getattr(have, name)), float(getattr(want, name)))
        ]
        wrong += [
            name for name in SKETCHES if _sketch_drift(getattr(have, name), getattr(want, name))
        ]
        if wrong:
            problems.append(f"{label}: {', '.join(wrong)} differ")
    return problems
