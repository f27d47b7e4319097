"""Duration percentiles over many stored rollup rows, reading only the bins that hold the
ranks (deployments/rollups/sketch.py, "pages").

`merge_by_pages` answers what `rollup_queries._merge_in_python` answers, with the same
definitions, in two queries: the first reads each per-group week or month row's page counts
(GroupRollup.page_counts) and every other row's bins (service-days, few and small); adding
the counts per page finds, for each key and sketch, the page holding each rank (the median's
two and the p90's). The second reads, from the week and month rows, only those pages' bins.
The rank is then answered by its bin's mean inside the page, as from the merged sketch.

A year of 100 services reads ~25 page counts and two or three pages of bins per month row
instead of its ~230 bins: fewer JSON values decoded and added, which is where the merge's
time went (bench/merge_before_after.py).
"""

import math

import orjson
from django.db import connection
from django.db.models import F, QuerySet

from deployments.models import GroupRollup
from deployments.rollups import sketch
from deployments.rollups.cells import SKETCHES

Stats = tuple[int, float, float, float, float]
# The histograms read by page. Recovery and restore times hold a bin or two per failure or
# incident (a month of one service: a few dozen), fewer than the pages a rank would fetch
# (the pages of all three cost a year of 100 services 5,400 page reads, of lead times alone
# 2,200); they are read whole.
PAGED = ("lead",)


def _add_bins(into: dict, bins: dict) -> None:
    """Add stored bins {order: [count, sum]} into `into`, by their stored (string) order.
    Inline rather than a call per bin: this runs once per bin read."""
    get = into.get
    for order, bin_ in bins.items():
        found = get(order)
        if found is None:
            into[order] = [bin_[0], bin_[1]]
        else:
            found[0] += bin_[0]
            found[1] += bin_[1]


def _add_bin(into: dict, key, count: int, total: float) -> None:
    found = into.get(key)
    if found is None:
        into[key] = [count, total]
    else:
        found[0] += count
        found[1] += total


class _Merge:
    """Per (key, sketch name): the bins of the rows read whole (service-days, edges), the
    page counts of the rows read by page, then those bins by page and the pages read."""

    def __init__(self) -> None:
        self.whole: dict[tuple, dict[str, list]] = {}
        self.counts: dict[tuple, dict[int, list]] = {}
        self.bins: dict[tuple, dict[int, dict[str, list]]] = {}

    def add_counts(self, found_key: tuple, counts: dict) -> None:
        into = self.counts.setdefault(found_key, {})
        for page, (count, total) in counts.items():
            _add_bin(into, int(page), count, total)

    def add_whole(self, found_key: tuple, bins: dict) -> None:
        _add_bins(self.whole.setdefault(found_key, {}), bins)

    def split_whole(self) -> None:
        """The whole rows' merged bins into pages: counted, and kept as their pages' bins."""
        for found_key, bins in self.whole.items():
            counts = self.counts.setdefault(found_key, {})
            pages = self.bins.setdefault(found_key, {})
            for order, (count, total) in bins.items():
                if count <= 0:
                    continue
                page = sketch.page_of(int(order))
                _add_bin(counts, page, count, total)
                pages.setdefault(page, {})[order] = [count, total]
        self.whole = {}

    def add_page(self, found_key: tuple, page: int, bins: dict) -> None:
        _add_bins(self.bins.setdefault(found_key, {}).setdefault(page, {}), bins)

    def wanted(self) -> dict[tuple, list[tuple[int, int]]]:
        """{(key, name): [(rank, page)]}: the page holding each rank."""
        found = {}
        for found_key, counts in self.counts.items():
            n = sum(count for count, _total in counts.values())
            if n <= 0:
                continue
            ranks = sorted({(n + 1) // 2, (n + 2) // 2, (9 * n + 9) // 10})
            upto, places = 0, []
            for page in sorted(counts):
                count = counts[page][0]
                while ranks and ranks[0] <= upto + count:
                    places.append((ranks.pop(0), page))
                upto += count
            found[found_key] = places
        return found

    def stats(self, found_key: tuple, places: list[tuple[int, int]]) -> Stats:
        counts = self.counts[found_key]
        n = sum(count for count, _total in counts.values())
        total = math.fsum(total for _count, total in counts.values())
        below, upto = {}, 0
        for page in sorted(counts):
            below[page] = upto
            upto += counts[page][0]
        value = {}
        for rank, page in places:
            # The rank's bin inside its page: the page's bins in order, counted on from the
            # ranks of the pages before it.
            seen = below[page]
            page_bins = self.bins[found_key][page]
            for order in sorted(page_bins, key=int):
                count, bin_total = page_bins[order]
                if count <= 0:
                    continue
                seen += count
                if seen >= rank:
                    value[rank] = bin_total / count
                    break
        median = (value[(n + 1) // 2] + value[(n + 2) // 2]) / 2
        return n, total, median, value[(9 * n + 9) // 10], total / n


def _key_sql(by: str | None) -> str:
    return "CAST(r.bucket AS TEXT)" if by else "''"


def _columns(by: str | None) -> dict:
    return {"bucket": F(by)} if by else {}


def _each_page() -> str:
    """A FROM item expanding a row's `pages` into (key "<name>:<page>", bins)."""
    if connection.vendor == "postgresql":
        return "jsonb_each(r.pages) e"
    return "json_each(r.pages) e"


def _wanted_sql(rows: list[tuple[str, str]]) -> tuple[str, list]:
    one = "(%s::text, %s::text)" if connection.vendor == "postgresql" else "(%s, %s)"
    return (
        f"wanted(k, page) AS (VALUES {', '.join([one] * len(rows))})",
        [value for row in rows for value in row],
    )


def merge_by_pages(
    sources: list[tuple[QuerySet, tuple]], *, by: str | None, extra: dict
) -> dict[tuple, Stats]:
    """{(key, sketch name): (n, sum, median, p90, mean)} of the sources' sketches merged per
    `by` (a rollup column; None: all) with `extra` {(key, name): Sketch}; two queries."""
    merge = _Merge()
    key_sql = _key_sql(by)
    parts, params, paged = [], [], []
    for index, (rows, read) in enumerate(sources):
        by_page = rows.model is GroupRollup and any(name in PAGED for name in read)
        whole = [name for name in read if not (by_page and name in PAGED)]
        columns = [*whole, "page_counts"] if by_page else whole
        inner_sql, inner_params = (
            rows.values(*columns, **_columns(by)).order_by().query.sql_with_params()
        )
        texts = ", ".join(
            f"CAST(r.{name} AS TEXT)" if name in whole else "NULL" for name in SKETCHES
        )
        counts = "CAST(r.page_counts AS TEXT)" if by_page else "NULL"
        if by_page:
            paged.append((rows, read))
        parts.append(f"SELECT {key_sql}, {index}, {counts}, {texts} FROM ({inner_sql}) r")
        params += inner_params
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            found_rows = cursor.fetchall()
        loads = orjson.loads
        for key, index, counts_text, *texts in found_rows:
            if counts_text:
                read = sources[index][1]
                for name, counts in loads(counts_text).items():
                    if name in read and name in PAGED:
                        merge.add_counts((key, name), counts)
            for name, text in zip(SKETCHES, texts, strict=True):
                if text and text != "{}":
                    merge.add_whole((key, name), loads(text))
    for (key, name), bins in extra.items():
        merge.add_whole((str(key), name), {str(order): bin_ for order, bin_ in bins.items()})
    # The histograms read whole are ranked as rollup_queries._merge_in_python ranks them.
    result = {}
    for found_key in [found_key for found_key in merge.whole if found_key[1] not in PAGED]:
        bins = merge.whole.pop(found_key)
        stats = sketch.stats_of_pieces(list(bins), list(bins.values()))
        if stats is not None:
            result[found_key] = stats
    merge.split_whole()
    wanted = merge.wanted()
    _read_pages(merge, wanted, paged, by=by)
    result.update(
        (found_key, merge.stats(found_key, places)) for found_key, places in wanted.items()
    )
    return result


def _read_pages(
    merge: _Merge,
    wanted: dict[tuple, list[tuple[int, int]]],
    paged: list[tuple[QuerySet, tuple]],
    *,
    by: str | None,
) -> None:
    """The bins of the wanted pages from the week and month rows, one query."""
    pairs = sorted(
        {
            (key, f"{name}:{page}")
            for (key, name), places in wanted.items()
            if name in PAGED
            for _r, page in places
        }
    )
    if not (pairs and paged):
        return
    wanted_sql, params = _wanted_sql(pairs)
    parts = []
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    for index, (rows, _read) in enumerate(paged):
        inner_sql, inner_params = (
            rows.values("pages", **_columns(by)).order_by().query.sql_with_params()
        )
        # OFFSET 0 keeps the expansion a subquery of its own, run once per row: joined to
        # the wanted pages first, PostgreSQL expanded (and decompressed) a row once per
        # wanted page of its key (100 ms for a year of 100 services).
        parts.append(
            f"SELECT {index}, w.k, w.page, CAST(x.bins AS TEXT) FROM ("
            f"SELECT {_key_sql(by)} AS k, e.key AS page, e.value AS bins "
            f"FROM ({inner_sql}) r, {_each_page()}{fence}"
            f") x JOIN wanted w ON w.k = x.k AND w.page = x.page"
        )
        params += inner_params
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {wanted_sql} {' UNION ALL '.join(parts)}", params)
        for index, key, name_page, text in cursor.fetchall():
            name, page = name_page.split(":")
            # A source reads its own sketches only (deployments' or incidents' groups), and
            # only those it counted by page.
            if text and name in PAGED and name in paged[index][1]:
                merge.add_page((key, name), int(page), orjson.loads(text))
