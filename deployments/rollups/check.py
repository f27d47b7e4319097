"""Comparing the stored rollups with a recomputation from the raw rows (`check_rollups`)."""

import math

from deployments.models import DailyRollup, OrganizationRollup
from deployments.rollups import sketch
from deployments.rollups.cells import NUMBERS, SKETCHES, Cell, compute
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
    return (
        problems
        + _compare(_stored_totals(organization_id), totals)
        + _stats_drift(organization_id, totals)
    )


def _stats_drift(organization_id: int, totals: dict) -> list[str]:
    """Totals rows whose stored [n, sum, median, p90] are not those of the raw rows."""
    problems = []
    for row in OrganizationRollup.objects.filter(organization_id=organization_id):
        key = (row.environment, f"all services {row.level}", row.day)
        want = stats_of(totals[key]) if key in totals else {}
        have = row.stats or {}
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
