"""Reading the rollups (deployments/rollups/) for a metrics window: sums per UTC day or per
service group, and duration percentiles merged from the per-day sketches, all in SQL.

A window's whole UTC days come from the stored rows; the parts of days at its edges (a range
that starts or ends inside a day) are computed from the raw rows by the same definition
(`cells.compute`) and merged in, so any range is exact. The cost follows the days and groups
read, never the deployments behind them: a constant number of queries per request.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import orjson
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from deployments.models import DailyRollup, GroupRollup, OrganizationRollup
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import sketch
from deployments.rollups.cells import NUMBERS, SKETCHES, Cell, Slice, compute, midnight
from deployments.rollups.groups import days_of
from metrics.page_merge import merge_by_pages

DEPLOYMENT_NUMBERS = tuple(n for n in NUMBERS if not n.startswith("incidents_"))
INCIDENT_NUMBERS = ("incidents_opened", "incidents_closed")
# Sketches read from the deployment groups, and from the incident groups.
DEPLOYMENT_SKETCHES = ("lead", "recovery")
INCIDENT_SKETCHES = ("restore",)
# Where `percentiles` merges the bins. Python (orjson and dict additions) was faster in
# every case measured by bench/merge_before_after.py at 1,000,000 deployments on PostgreSQL:
# 2.2x for 30 days of 100 services (2,700 service-days, 39,000 bins), 2x for 365 days,
# 1.4 to 1.8x for the all-services totals; expanding the JSON into rows (jsonb_each) cost
# more than decoding it, before the grouping, sort and window sums. SQL stays for comparison.
MERGE_IN = "python"
# From this many whole months of per-group rows, the merge reads their lead times by page
# (page_merge): at 1,000,000 deployments on PostgreSQL, per service over 100 services, a
# year took 0.5 of the time of reading every bin, 90 days (two whole months) 0.6 to 0.9;
# 60 days (one month) about the same, 30 days (weeks and days) 1.2 times longer (the bins of
# a few weeks and days cost less to add than a second query).
PAGES_FROM_MONTHS = 2
# A one-service question reads its stored weeks and months from this many whole days.
ONE_SERVICE_LEVELS_FROM_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class Filter:
    """Which rollup rows a window reads: the organization and environment, and the groups of
    its service/team filter, for deployments and (with alias names) for incidents."""

    organization_id: int
    environment: str
    deployments: Q = field(default_factory=Q)
    incidents: Q = field(default_factory=Q)
    # The same filters on the raw rows, for the edges.
    raw_deployments: Q = field(default_factory=Q)
    raw_incidents: Q = field(default_factory=Q)
    # No service or team filter: read the all-services totals (OrganizationRollup) instead of
    # every service's rows.
    totals: bool = False

    # The service filter selects one group, for incidents as for deployments: a series bucket
    # that is one of its week or month rows is answered from the row's stats.
    one_group: bool = False
    # Deployments and incidents read the same rows (every service, or one group without
    # alias names): their sums and sketches are read once. Compared once here: comparing
    # Q objects resolves their expressions every time.
    same_rows: bool = field(init=False)
    # One service (and its alias names' incidents): few rows, so stored weeks and months are
    # read only for long ranges (`reads_levels`).
    one_service: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "same_rows", self.deployments == self.incidents)

    def reads_levels(self, days: "Days") -> bool:
        """Whether week and month rows are read for these days: always for the totals and for
        several services; for one service from ONE_SERVICE_LEVELS_FROM_DAYS, below which its
        service-days cost less to read than the extra levels' queries cost to build (a
        one-service 90-day page took 1.2 to 1.4 times as long with them)."""
        return (
            self.totals
            or not self.one_service
            or (days.last - days.first).days >= ONE_SERVICE_LEVELS_FROM_DAYS
        )

    def rows(self, *, incidents: bool = False, level: str = "day", where: Q | None = None):
        """The stored rows of one level: the all-services totals, or the service-day rows
        (`day`) or per-group week and month rows of the filter's groups; with `where`.
        Built by one filter() call: a page builds ~35 of these, and each further filter()
        clones the query (a fifth of a one-service page's time in Python)."""
        conditions = [] if where is None else [where]
        scope = {"organization_id": self.organization_id, "environment": self.environment}
        if self.totals:
            return OrganizationRollup.objects.filter(*conditions, level=level, **scope)
        conditions.append(self.incidents if incidents else self.deployments)
        if level == "day":
            return DailyRollup.objects.filter(*conditions, **scope)
        return GroupRollup.objects.filter(*conditions, level=level, **scope)

    def rows_in(
        self,
        spans: Iterable[tuple[str, date, date]],
        *,
        incidents: bool = False,
        skip: tuple[str, set[date]] | None = None,
    ) -> list[QuerySet]:
        """The rows of these (level, first, end) spans, one queryset per level read (each a
        range of its rows' `day`); with `skip` (level, days), not those rows of that level."""
        ranges: dict[str, Q] = {}
        for level, first, end in spans:
            span = Q(day__gte=first, day__lt=end)
            if skip and skip[0] == level and skip[1]:
                span &= ~Q(day__in=skip[1])
            ranges[level] = ranges[level] | span if level in ranges else span
        return [
            self.rows(incidents=incidents, level=level, where=where)
            for level, where in ranges.items()
        ]


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def spans(days: "Days", *, interval: str | None) -> list[tuple[str, date, date]]:
    """The whole days [first, last) as (level, first, end) spans of stored totals: whole ISO
    weeks (a weekly series) or whole months (a monthly series or a summary) in the middle,
    days at the edges, so each span lies inside one bucket."""
    first, last = days.first, days.last
    if interval == "week":
        big_first = first + timedelta(days=(7 - first.weekday()) % 7)
        big_last = last - timedelta(days=last.weekday())
        level = "week"
    elif interval in ("month", None):
        big_first = first if first.day == 1 else _next_month(first)
        big_last = last.replace(day=1)
        level = "month"
    else:
        return [("day", first, last)]
    if big_first >= big_last:
        return [("day", first, last)]
    found = [("day", first, big_first), (level, big_first, big_last), ("day", big_last, last)]
    return [span for span in found if span[1] < span[2]]


def _weeks_and_days(first: date, last: date) -> list[tuple[str, date, date]]:
    week_first = first + timedelta(days=(7 - first.weekday()) % 7)
    week_last = last - timedelta(days=last.weekday())
    if week_first >= week_last:
        return [("day", first, last)] if first < last else []
    found = [("day", first, week_first), ("week", week_first, week_last), ("day", week_last, last)]
    return [span for span in found if span[1] < span[2]]


def ladder(days: "Days") -> list[tuple[str, date, date]]:
    """The whole days [first, last) as the fewest stored rows, for a sum over the whole range
    (a summary, or per service): whole months in the middle, whole ISO weeks on either side
    of them and days at the ends, so a year is 11 months, up to 8 weeks and 12 days."""
    first, last = days.first, days.last
    month_first = first if first.day == 1 else _next_month(first)
    month_last = last.replace(day=1)
    if month_first >= month_last:
        return _weeks_and_days(first, last)
    return [
        *_weeks_and_days(first, month_first),
        ("month", month_first, month_last),
        *_weeks_and_days(month_last, last),
    ]


@dataclass(frozen=True)
class Days:
    """A window split into whole stored days [first, last) and raw edges."""

    first: date
    last: date  # exclusive
    edges: tuple[tuple[datetime, datetime], ...]
    # Before the window's start, inside its first day: counted only for open incidents.
    before: tuple[datetime, datetime] | None

    @classmethod
    def of(cls, start: datetime, end: datetime) -> "Days":
        first = start.date() if start == midnight(start.date()) else start.date() + timedelta(1)
        last = end.date()
        if first >= last:  # no whole day: one edge
            edges = ((start, end),)
            first = last = start.date()
        else:
            edges = tuple(
                edge
                for edge in ((start, midnight(first)), (midnight(last), end))
                if edge[0] < edge[1]
            )
        opening = midnight(start.date())
        return cls(first, last, edges, (opening, start) if opening < start else None)


def edge_cells(window_filter: Filter, days: Days) -> tuple[dict, dict]:
    """(cells of the edges keyed like the stored ones, cells before the start), raw."""

    def slices(ranges):
        return [
            Slice(
                environment=window_filter.environment,
                start=start,
                end=end,
                deployments=window_filter.raw_deployments,
                incidents=window_filter.raw_incidents,
            )
            for start, end in ranges
        ]

    inside = compute(organization_id=window_filter.organization_id, slices=slices(days.edges))
    before = (
        compute(organization_id=window_filter.organization_id, slices=slices([days.before]))
        if days.before
        else {}
    )
    return inside, before


def _sums(names: Iterable[str]) -> dict:
    return {name: Sum(name, default=0) for name in names}


def _union(querysets: list[QuerySet]) -> QuerySet:
    """One query for the rows of several levels (tables): UNION ALL of same-shaped reads."""
    first, *rest = querysets
    return first.union(*rest, all=True) if rest else first


def numbers(window_filter: Filter, days: Days, *, by: str) -> dict:
    """{day or group: {number: sum}} over the whole days, deployments' numbers from the
    deployment groups and incidents' from the incident groups (one query when they are the
    same rows, two otherwise). Per group, read from the fewest week, month and day rows
    (`ladder`), their levels' sums in one UNION ALL and added here."""
    result: dict = {}
    levels = by == "group" and window_filter.reads_levels(days)
    read = ladder(days) if levels else [("day", days.first, days.last)]
    if not read:
        return result
    if window_filter.same_rows:
        reads = ((False, NUMBERS),)
    else:
        reads = ((False, DEPLOYMENT_NUMBERS), (True, INCIDENT_NUMBERS))
    for incidents, names in reads:
        rows = _union(
            [
                level_rows.values(by).order_by().annotate(**_sums(names))
                for level_rows in window_filter.rows_in(read, incidents=incidents)
            ]
        )
        for row in rows:
            target = result.setdefault(row[by], dict.fromkeys(NUMBERS, 0))
            for name in names:
                target[name] += row[name]
    return result


def open_before(window_filter: Filter, day: date) -> int:
    """Incidents open at `day`'s midnight: opened before it minus closed before it."""
    totals = (
        window_filter.rows(incidents=True)
        .filter(day__lt=day)
        .aggregate(
            opened=Coalesce(Sum("incidents_opened"), 0), closed=Coalesce(Sum("incidents_closed"), 0)
        )
    )
    return totals["opened"] - totals["closed"]


def active_days(window_filter: Filter, days: Days) -> dict[str, set[date]]:
    """{group: {days with a deployment that reached}} over the whole days, from the fewest
    rows (`ladder`) in one query: the service-days at the ends (each its own day's bit), the
    week and month rows' day bits (GroupRollup.active_days) in the middle."""
    result: dict[str, set[date]] = {}
    read = ladder(days) if window_filter.reads_levels(days) else [("day", days.first, days.last)]
    if days.first >= days.last:
        return result
    reads = []
    for rows in window_filter.rows_in(read):
        if rows.model is DailyRollup:
            reads.append(rows.filter(reached__gt=0).values_list("group", "day", Value(1)))
        else:
            reads.append(rows.filter(active_days__gt=0).values_list("group", "day", "active_days"))
    for group, start, active in _union([found.order_by() for found in reads]):
        result.setdefault(group, set()).update(days_of(_day(start), active))
    return result


def _day(value) -> date | None:
    # SQLite returns a raw SQL aggregate of a date column as its text.
    return date.fromisoformat(value) if isinstance(value, str) else value


def success_days(window_filter: Filter) -> dict[str, tuple[date | None, date | None]]:
    """{group: (its last day with a success, its first day with a failure if it never
    succeeded)} of the scope's deployment groups, over all their history. One query.

    Every service: a loose index scan (a recursive query hopping from group to group on the
    rollup's unique index, then one index probe per group), so the cost follows the groups,
    not their 73,000 service-days (a grouped scan of them took 196 ms at 1,000,000)."""
    if window_filter.deployments != Q():
        rows = (
            window_filter.rows()
            .values("group")
            .order_by()
            .annotate(
                last=Max("day", filter=Q(successful__gt=0)),
                first=Min("day", filter=Q(failed__gt=0) | Q(rolled_back__gt=0)),
            )
            .values_list("group", "last", "first")
        )
        return {group: (last, None if last else first) for group, last, first in rows}
    quote = connection.ops.quote_name
    table, group = quote(DailyRollup._meta.db_table), quote("group")
    rows_of = f"FROM {table} WHERE organization_id = %s AND environment = %s"
    sql = f"""
        WITH RECURSIVE groups(name) AS (
            SELECT MIN({group}) {rows_of}
            UNION ALL
            SELECT (SELECT MIN({group}) {rows_of} AND {group} > groups.name)
            FROM groups WHERE groups.name IS NOT NULL
        )
        SELECT name, last, CASE WHEN last IS NULL THEN (
            SELECT MIN(day) {rows_of} AND {group} = name AND (failed > 0 OR rolled_back > 0)
        ) END
        FROM (
            SELECT name, (
                SELECT MAX(day) {rows_of} AND {group} = groups.name AND successful > 0
            ) AS last
            FROM groups WHERE name IS NOT NULL
        ) found
    """
    scope = [window_filter.organization_id, window_filter.environment]
    with connection.cursor() as cursor:
        cursor.execute(sql, scope * 4)
        return {name: (_day(last), _day(first)) for name, last, first in cursor.fetchall()}


# --- percentiles from the sketches ---------------------------------------------------------


def _each_bin(column: str) -> tuple[str, str, str]:
    """(FROM clause item, count expression, sum expression) over the bins of a sketch column
    of the subquery `r`."""
    if connection.vendor == "postgresql":
        return (
            f"jsonb_each(r.{column}) e",
            "(e.value->>0)::bigint",
            "(e.value->>1)::float8",
        )
    return (
        f"json_each(r.{column}) e",
        "CAST(json_extract(e.value, '$[0]') AS INTEGER)",
        "CAST(json_extract(e.value, '$[1]') AS REAL)",
    )


def _values_sql(rows: list[tuple]) -> tuple[str, list]:
    """Edge bins as a VALUES relation (key, kind, order, count, sum)."""
    if connection.vendor == "postgresql":
        one = "(%s::text, %s::text, %s::bigint, %s::bigint, %s::float8)"
    else:
        one = "(%s, %s, %s, %s, %s)"
    params = [value for row in rows for value in row]
    return f"SELECT * FROM (VALUES {', '.join([one] * len(rows))}) v", params


def _read_spans(
    window_filter: Filter, days: Days, *, by: str | None
) -> list[tuple[str, date, date]]:
    if by == "day" or not window_filter.reads_levels(days):
        return [("day", days.first, days.last)]
    if by in ("week", "month"):
        return spans(days, interval=by)
    if by == "day":
        return [("day", days.first, days.last)]
    return ladder(days)


def _whole_months(window_filter: Filter, days: Days, *, by: str | None) -> int:
    return sum(
        (end.year - first.year) * 12 + end.month - first.month
        for level, first, end in _read_spans(window_filter, days, by=by)
        if level == "month"
    )


def _sources(
    window_filter: Filter, days: Days, *, by: str | None, whole: set[date] | None
) -> list[tuple[QuerySet, tuple]]:
    """The rows whose sketches a merge reads, with the sketch names each contributes: for a
    series, whole weeks or months of stored rows in the middle and days at the edges, so
    that each row lies inside one bucket; for a summary or per group, the fewest rows
    (`ladder`). Rows that are buckets of their own answered from their stats (`whole`) are
    left out."""
    read = _read_spans(window_filter, days, by=by)
    skip = (by, whole) if whole else None
    if window_filter.same_rows:
        # The same rows (every service, or one group): read once for all three sketches.
        names = DEPLOYMENT_SKETCHES + INCIDENT_SKETCHES
        return [(rows, names) for rows in window_filter.rows_in(read, skip=skip)]
    return [
        (rows, names)
        for incidents, names in ((False, DEPLOYMENT_SKETCHES), (True, INCIDENT_SKETCHES))
        for rows in window_filter.rows_in(read, incidents=incidents, skip=skip)
    ]


def _whole_buckets(
    window_filter: Filter, days: Days, *, by: str | None, extra: dict
) -> tuple[dict, set[date] | None]:
    """(result entries, bucket days) of the series buckets that are exactly one stored row
    (of the totals: a whole week of a weekly series, month of a monthly one, day of a daily
    one; of one group: a whole week or month) and no edge: answered from the row's stats
    (OrganizationRollup.stats, GroupRollup.stats) in one small query, without reading its
    bins. Nothing for a summary or a filter of several groups (a team, a service's alias
    names' incidents)."""
    one_group = window_filter.one_group and by != "day" and window_filter.reads_levels(days)
    if not (by and (window_filter.totals or one_group)):
        return {}, None
    with_edges = {key for key, _name in extra}
    result, whole = {}, set()
    for level, start, end in spans(days, interval=by):
        if level != by:
            continue
        rows = window_filter.rows(level=level).filter(day__gte=start, day__lt=end)
        for day, stats in rows.values_list("day", "stats").order_by():
            key = day.isoformat()
            if key in with_edges:
                continue
            whole.add(day)
            for name, (n, total, median, p90) in (stats or {}).items():
                result[(key, name)] = (int(n), float(total), median, p90, total / n)
    return result, whole


def percentiles(
    window_filter: Filter, days: Days, *, by: str | None, extra: dict, method: str | None = None
) -> dict[tuple, tuple[int, float, float, float, float]]:
    """{(key, sketch name): (n, sum, median, p90, mean)} of the sketches merged per `by`
    (a rollup column: day, week, month or group; None: all), with `extra`
    {(key, sketch name): Sketch} (the edges) merged in. One query (two for a series from the
    all-services totals). From the totals, whole weeks or months are read as one row each,
    and a bucket that is one such row is answered from its stats without merging.

    `method` says where the bins are merged: "python" (the default, MERGE_IN; by pages from
    PAGES_FROM_MONTHS whole months of per-group rows), "pages" (by pages whenever per-group
    rows are read) or "sql"."""
    result, whole = _whole_buckets(window_filter, days, by=by, extra=extra)
    sources = _sources(window_filter, days, by=by, whole=whole)
    method = method or MERGE_IN
    if method == "python" and _whole_months(window_filter, days, by=by) >= PAGES_FROM_MONTHS:
        method = "pages"
    if method == "pages" and any(rows.model is GroupRollup for rows, _names in sources):
        result.update(merge_by_pages(sources, by=by, extra=extra))
    elif method in ("python", "pages"):
        result.update(_merge_in_python(sources, by=by, extra=extra))
    else:
        result.update(_merge_in_sql(sources, by=by, extra=extra))
    return result


def _merge_in_python(
    sources: list[tuple[QuerySet, tuple]], *, by: str | None, extra: dict
) -> dict[tuple, tuple[int, float, float, float, float]]:
    """The merge of `percentiles` done here: one query reads each row's key and its sketches
    as JSON text, orjson decodes them, the bins are added per (key, sketch name) by their
    stored string order (each distinct order converted to a number once, when ranked by
    sketch.stats_of_pieces). No savepoint or planner settings: a plain scan.

    Laying every row's bins end to end unmerged for stats_of_pieces was tried: holding the
    475,000 decoded bins of a year of 100 services cost more than adding them up here."""
    names = [name for name in SKETCHES if any(name in read for _rows, read in sources)]
    key_sql = "CAST(r.bucket AS TEXT)" if by else "''"
    parts, params = [], []
    for rows, read in sources:
        columns = {"bucket": F(by)} if by else {}
        inner_sql, inner_params = rows.values(*read, **columns).order_by().query.sql_with_params()
        texts = ", ".join(f"CAST(r.{name} AS TEXT)" if name in read else "NULL" for name in names)
        parts.append(f"SELECT {key_sql}, {texts} FROM ({inner_sql}) r")
        params += inner_params
    # Per (key, sketch name): {stored order: [count, sum]}, the first row's decoded sketch
    # taken over and the others added in.
    merged: dict[tuple, dict] = {}
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            found_rows = cursor.fetchall()
        loads = orjson.loads
        for key, *texts in found_rows:
            for name, text in zip(names, texts, strict=True):
                if not text or text == "{}":
                    continue
                stored = loads(text)
                into = merged.get((key, name))
                if into is None:
                    merged[(key, name)] = stored
                    continue
                # Inline, not sketch.merge: this loop runs once per stored bin (475,000 for a
                # year of 100 services).
                get = into.get
                for order, bin_ in stored.items():
                    found = get(order)
                    if found is None:
                        into[order] = bin_
                    else:
                        found[0] += bin_[0]
                        found[1] += bin_[1]
    for (key, name), edge in extra.items():
        into = merged.setdefault((str(key), name), {})
        for order, (count, total) in edge.items():
            found = into.setdefault(str(order), [0, 0.0])
            found[0] += count
            found[1] += total
    result = {}
    for found_key, bins in merged.items():
        stats = sketch.stats_of_pieces(list(bins), list(bins.values()))
        if stats is not None:
            result[found_key] = stats
    return result


def _merge_in_sql(
    sources: list[tuple[QuerySet, tuple]], *, by: str | None, extra: dict
) -> dict[tuple, tuple[int, float, float, float, float]]:
    """The merge of `percentiles` done by the database: the bins expanded into rows, summed
    per order and ranked with window sums."""
    result = {}
    key_sql = "CAST(r.bucket AS TEXT)" if by else "''"
    # Byte order for the grouping and window sorts: a locale's text collation cost a third of
    # a 104-week merge on PostgreSQL.
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    parts, params = [], []
    for rows, names in sources:
        columns = {"bucket": F(by)} if by else {}
        inner_sql, inner_params = rows.values(*names, **columns).order_by().query.sql_with_params()
        for name in names:
            each, count_sql, sum_sql = _each_bin(name)
            parts.append(
                f"SELECT {key_sql}{collate} AS k, '{name}'{collate} AS kind, "
                f"CAST(e.key AS BIGINT) AS o, "
                f"{count_sql} AS c, {sum_sql} AS s FROM ({inner_sql}) r, {each}"
            )
            params += inner_params
    edge_rows = [
        (str(key), name, order, count, total)
        for (key, name), bins in extra.items()
        for order, (count, total) in bins.items()
        if count
    ]
    if edge_rows:
        values_sql, values_params = _values_sql(edge_rows)
        parts.append(values_sql)
        params += values_params
    if not parts:
        return result
    sql = f"""
        WITH bins AS ({" UNION ALL ".join(parts)}),
        merged AS (
            SELECT k, kind, o, CAST(SUM(c) AS BIGINT) AS c, SUM(s) AS s
            FROM bins GROUP BY k, kind, o
        ),
        ranked AS (
            SELECT k, kind, c, s,
                   CAST(SUM(c) OVER (PARTITION BY k, kind ORDER BY o
                                     ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto,
                   CAST(SUM(c) OVER (PARTITION BY k, kind) AS BIGINT) AS n
            FROM merged
        )
        SELECT k, kind, MAX(n), SUM(s),
               MAX(CASE WHEN upto - c < (n + 1) / 2 AND (n + 1) / 2 <= upto THEN s / c END),
               MAX(CASE WHEN upto - c < (n + 2) / 2 AND (n + 2) / 2 <= upto THEN s / c END),
               MAX(CASE WHEN upto - c < (9 * n + 9) / 10 AND (9 * n + 9) / 10 <= upto
                        THEN s / c END)
        FROM ranked WHERE c > 0 GROUP BY k, kind
    """
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            # The JSON expansion inflates the plan's cost estimate past jit_above_cost, and
            # compiling it then cost more than running it (as in metrics/sql.py). The merged
            # bins of a long series (60,000 for 104 weeks) spilled to disk at the default
            # work_mem (4 MB): 135 of 193 ms.
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
            )
            cursor.execute(sql, params)
            found = cursor.fetchall()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
    for key, kind, n, total, low, high, p90 in found:
        n, total = int(n), float(total)
        result[(key, kind)] = (n, total, (float(low) + float(high)) / 2, float(p90), total / n)
    return result


def merge_cells(cells: Iterable[tuple[object, Cell]]) -> dict[object, Cell]:
    merged: dict[object, Cell] = {}
    for key, cell in cells:
        merged.setdefault(key, Cell()).merge(cell)
    return merged


def sketches_of(cells: dict[object, Cell], key_of) -> dict:
    """{(key, sketch name): Sketch} of edge cells, keyed for `percentiles(extra=)`."""
    extra: dict = {}
    for cell_key, cell in cells.items():
        for name in SKETCHES:
            bins = getattr(cell, name)
            if bins:
                sketch.merge(extra.setdefault((key_of(cell_key), name), {}), bins)
    return extra


def group_filter(group: ServiceGroup) -> Q:
    return Q(group=group.encode())
