"""The per-service-group week and month rollups (GroupRollup): a group's service-day rows of
an environment summed per ISO week and calendar month. Recomputed for the weeks and months
of the cells a fold or a rebuild touched, from the rows they sum, in the same transaction
(as the all-services totals are: deployments/rollups/totals.py)."""

from collections.abc import Iterable
from datetime import date, timedelta

from django.db.models import Q

from deployments.models import DailyRollup, GroupRollup
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import sketch
from deployments.rollups.cells import SKETCHES, Cell
from deployments.rollups.totals import cell_of, values_of, week_of

Level = GroupRollup.Level


def _month_of(day: date) -> date:
    return day.replace(day=1)


def pages_of(cell: Cell) -> dict:
    """GroupRollup.page_counts and .pages of a cell (sketch.paged of each non-empty sketch):
    the counts by sketch name and page, the bins keyed "<sketch name>:<page>"."""
    counts, pages = {}, {}
    for name in SKETCHES:
        found_counts, found_pages = sketch.paged(getattr(cell, name))
        if found_counts:
            counts[name] = found_counts
            pages.update({f"{name}:{page}": bins for page, bins in found_pages.items()})
    return {"page_counts": counts, "pages": pages}


def day_bit(start: date, day: date) -> int:
    """`day`'s bit in GroupRollup.active_days of the row starting at `start`."""
    return 1 << (day - start).days


# Per byte value: the offsets of its set bits.
_BITS = tuple(tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256))


def days_of(start: date, active: int) -> list[date]:
    """The days whose bits are set in GroupRollup.active_days of the row starting at `start`
    (a byte at a time: a year of 100 services decodes ~1,100 rows per page view)."""
    ordinal = start.toordinal()
    found = []
    base = 0
    while active:
        found.extend(date.fromordinal(ordinal + base + bit) for bit in _BITS[active & 0xFF])
        active >>= 8
        base += 8
    return found


def _bucket_keys(cells: Iterable[tuple[str, str, date]]) -> dict[tuple[str, str], dict]:
    """{(environment, group): {level: {bucket starts}}} of the touched cells."""
    found: dict[tuple[str, str], dict] = {}
    for environment, group, day in cells:
        levels = found.setdefault((environment, group), {Level.WEEK: set(), Level.MONTH: set()})
        levels[Level.WEEK].add(week_of(day))
        levels[Level.MONTH].add(_month_of(day))
    return found


def refresh_groups(*, organization_id: int, cells: set[tuple[str, str, date]]) -> None:
    """Recompute the week and month rows containing these (environment, encoded group, day)
    cells from their service-day rows (two reads, one per level; one delete and one insert
    each)."""
    if not cells:
        return
    touched = _bucket_keys(cells)
    for level, column, first_of, longest in (
        (Level.WEEK, "week", week_of, 7),
        (Level.MONTH, "month", _month_of, 31),
    ):
        daily_where, stored_where = Q(pk__in=[]), Q(pk__in=[])
        for (environment, group), levels in touched.items():
            starts = sorted(levels[level])
            # The day bounds let the unique index (organization, environment, group, day)
            # read only the touched span of the group's days.
            daily_where |= Q(
                environment=environment,
                group=group,
                day__gte=starts[0],
                day__lt=starts[-1] + timedelta(days=longest),
                **{f"{column}__in": starts},
            )
            stored_where |= Q(environment=environment, group=group, day__in=starts)
        sums: dict[tuple[str, str, date], Cell] = {}
        active: dict[tuple[str, str, date], int] = {}
        for row in DailyRollup.objects.filter(daily_where, organization_id=organization_id):
            start = first_of(row.day)
            key = (row.environment, row.group, start)
            sums.setdefault(key, Cell()).merge(cell_of(row))
            if row.reached:
                active[key] = active.get(key, 0) | day_bit(start, row.day)
        GroupRollup.objects.filter(
            stored_where, organization_id=organization_id, level=level
        ).delete()
        GroupRollup.objects.bulk_create(
            [
                GroupRollup(
                    organization_id=organization_id,
                    environment=environment,
                    group=group,
                    service_id=ServiceGroup.decode(group).service_id,
                    level=level,
                    day=start,
                    week=week_of(start),
                    month=_month_of(start),
                    active_days=active.get((environment, group, start), 0),
                    **values_of(cell),
                    **pages_of(cell),
                )
                for (environment, group, start), cell in sums.items()
                if not cell.is_empty()
            ],
            batch_size=1000,
        )
