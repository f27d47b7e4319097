"""The all-services rollups (OrganizationRollup): the service-day rows of an environment
summed per day, and the days summed per ISO week and calendar month. Recomputed for the days
a fold or a rebuild touched, from the rows they sum, in the same transaction."""

from collections.abc import Iterable
from datetime import date, timedelta

from django.db.models import Q

from deployments.models import DailyRollup, OrganizationRollup
from deployments.rollups import sketch
from deployments.rollups.cells import NUMBERS, SKETCHES, Cell

Level = OrganizationRollup.Level


def cell_of(row) -> Cell:
    """A stored rollup row as a Cell."""
    return Cell(
        **{name: getattr(row, name) for name in NUMBERS},
        **{name: sketch.from_json(getattr(row, name)) for name in SKETCHES},
    )


def values_of(cell: Cell) -> dict:
    values = {name: getattr(cell, name) for name in NUMBERS}
    values.update({name: sketch.to_json(getattr(cell, name)) for name in SKETCHES})
    values["stats"] = stats_of(cell)
    return values


def stats_of(cell: Cell) -> dict:
    """OrganizationRollup.stats of a cell: each non-empty sketch's [n, sum, median, p90]."""
    found = {name: sketch.summary(getattr(cell, name)) for name in SKETCHES}
    return {name: value for name, value in found.items() if value}


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _replace(
    organization_id: int, level: str, keys: set[tuple[str, date]], sums: dict[tuple, Cell]
) -> None:
    if not keys:
        return
    where = Q(pk__in=[])
    for environment, start in keys:
        where |= Q(environment=environment, day=start)
    OrganizationRollup.objects.filter(where, organization_id=organization_id, level=level).delete()
    OrganizationRollup.objects.bulk_create(
        [
            OrganizationRollup(
                organization_id=organization_id,
                environment=environment,
                level=level,
                day=start,
                week=week_of(start),
                month=start.replace(day=1),
                **values_of(cell),
            )
            for (environment, start), cell in sums.items()
            if not cell.is_empty()
        ],
        batch_size=1000,
    )


def _sum(rows: Iterable, key_of) -> dict[tuple, Cell]:
    sums: dict[tuple, Cell] = {}
    for row in rows:
        sums.setdefault(key_of(row), Cell()).merge(cell_of(row))
    return sums


def refresh_totals(*, organization_id: int, days: set[tuple[str, date]]) -> None:
    """Recompute the day, week and month totals containing these (environment, day)s."""
    if not days:
        return
    by_env: dict[str, list[date]] = {}
    for environment, day in days:
        by_env.setdefault(environment, []).append(day)

    def spans(first_of, end_of) -> tuple[set[tuple[str, date]], Q]:
        keys = {(env, first_of(day)) for env, day in days}
        where = Q(pk__in=[])
        for env, start in keys:
            where |= Q(environment=env, day__gte=start, day__lt=end_of(start))
        return keys, where

    day_keys, day_where = spans(lambda d: d, lambda d: d + timedelta(days=1))
    daily = DailyRollup.objects.filter(day_where, organization_id=organization_id)
    _replace(
        organization_id,
        Level.DAY,
        day_keys,
        _sum(daily, lambda row: (row.environment, row.day)),
    )
    for level, first_of, end_of in (
        (Level.WEEK, week_of, lambda d: d + timedelta(days=7)),
        (Level.MONTH, lambda d: d.replace(day=1), _next_month),
    ):
        keys, where = spans(first_of, end_of)
        rows = OrganizationRollup.objects.filter(
            where, organization_id=organization_id, level=Level.DAY
        )
        _replace(
            organization_id,
            level,
            keys,
            _sum(rows, lambda row, f=first_of: (row.environment, f(row.day))),
        )
