"""Mergeable duration summaries: a log-bucketed histogram whose bins keep their sum.

A duration v > 0 falls in bin k = ceil(log_γ v), covering (γ^(k-1), γ^k], as in DDSketch
(Masson, Rim & Lee, VLDB 2019, the sketch behind Datadog's percentiles); zero has a bin of its
own and a negative duration (clock skew) mirrors the positive bins. Each bin keeps its count
and the sum of its values, so:

- two summaries merge by adding counts and sums bin by bin (days add up to weeks, months and
  ranges, services to teams and organizations) in SQL or in Python;
- the mean is exact (the sum of the sums over the sum of the counts);
- a rank is answered by its bin's mean: exact when the values in that bin are equal (the common
  case for small populations), else within γ - 1 = 0.99 % of the true value, because the mean
  and the true value lie in the same bin (γ^(k-1), γ^k]. The median of an even count, the mean
  of two such answers, is within the same bound.

γ = 1.0099 gives about 1,740 bins from one second to one year; a day of one service uses one
bin per distinct duration at most.

Stored as JSON objects {"<order>": [count, sum]}: `order` is an integer whose numeric order is
the values' order (negative bins, zero, positive bins), so SQL can rank bins without decoding.
"""

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
from operator import itemgetter

GAMMA = 1.0099
_LOG_GAMMA = math.log(GAMMA)
# Orders: positive bin k -> OFFSET + k; zero -> 0; negative bin k -> -(OFFSET + k).
# k stays within +-OFFSET for any duration between 1e-300 s and 1e300 s.
OFFSET = 1_000_000

Sketch = dict[int, list]  # order -> [count, sum]


def order_of(value: float) -> int:
    if value == 0:
        return 0
    k = math.ceil(math.log(abs(value)) / _LOG_GAMMA)
    return OFFSET + k if value > 0 else -(OFFSET + k)


def add(sketch: Sketch, value: float) -> None:
    bin_ = sketch.setdefault(order_of(value), [0, 0.0])
    bin_[0] += 1
    bin_[1] += value


def merge(into: Sketch, other: Mapping) -> None:
    for order, (count, total) in other.items():
        bin_ = into.setdefault(int(order), [0, 0.0])
        bin_[0] += count
        bin_[1] += total


def of(values: Iterable[float]) -> Sketch:
    sketch: Sketch = {}
    for value in values:
        add(sketch, value)
    return sketch


def to_json(sketch: Sketch) -> dict[str, list]:
    return {str(order): [count, total] for order, (count, total) in sorted(sketch.items()) if count}


def from_json(data: Mapping | None) -> Sketch:
    return {int(order): [count, total] for order, (count, total) in (data or {}).items()}


def count(sketch: Sketch) -> int:
    return sum(c for c, _ in sketch.values())


def total(sketch: Sketch) -> float:
    return math.fsum(s for _, s in sketch.values())


def _at_rank(ordered: list[tuple[int, list]], rank: int) -> float:
    seen = 0
    for _order, (count, total) in ordered:
        seen += count
        if seen >= rank:
            return total / count
    raise ValueError(rank)


def stats(sketch: Sketch) -> tuple[int, float | None, float | None, float | None]:
    """(n, median, p90, mean) with the definitions of docs/metrics.md: the median of an even
    count is the mean of the two middle values; p90 is the value at rank ceil(0.9 n)."""
    ordered = sorted((o, b) for o, b in sketch.items() if b[0])
    n = sum(b[0] for _o, b in ordered)
    if not n:
        return 0, None, None, None
    median = (_at_rank(ordered, (n + 1) // 2) + _at_rank(ordered, (n + 2) // 2)) / 2
    p90 = _at_rank(ordered, (9 * n + 9) // 10)
    return n, median, p90, total(sketch) / n


def summary(sketch: Sketch) -> list | None:
    """[n, sum, median, p90] of a non-empty sketch (None if empty): what a reader of one
    stored row needs, so a bucket that is one row is answered without its bins."""
    n, median, p90, _mean = stats(sketch)
    return [n, total(sketch), median, p90] if n else None


def stats_of_pieces(
    orders: Sequence[str | int], bins: Sequence[Sequence]
) -> tuple[int, float, float, float, float] | None:
    """(n, sum, median, p90, mean) of a sketch given as parallel lists of orders (ints, or
    the stored strings) and [count, sum] bins; None if empty. An order may repeat (sketches
    laid end to end, unmerged): its bins count as one. The definitions of `stats`: the
    median of an even count is the mean of the bins at ranks (n + 1) // 2 and (n + 2) // 2,
    p90 the bin at rank (9n + 9) // 10, each answered by its (merged) bin's mean.

    Every pass over the bins is a builtin (int, sort, accumulate, bisect); only the bins at
    the ranks are added up in Python."""
    numeric = list(map(int, orders))
    counts = list(map(itemgetter(0), bins))
    ranked = sorted(range(len(numeric)), key=numeric.__getitem__)
    upto = list(accumulate(map(counts.__getitem__, ranked)))
    n = upto[-1] if upto else 0
    if n <= 0:
        return None

    def at(rank: int) -> float:
        # The first piece whose running count reaches the rank; its order's pieces lie next to
        # it (sorted by order), and those before it end below the rank, so the merged bin of
        # that order holds the rank.
        found = bisect_left(upto, rank)
        order = numeric[ranked[found]]
        low, high = found, found + 1
        while low > 0 and numeric[ranked[low - 1]] == order:
            low -= 1
        while high < len(ranked) and numeric[ranked[high]] == order:
            high += 1
        same = ranked[low:high]
        return math.fsum(bins[i][1] for i in same) / sum(counts[i] for i in same)

    low_rank, high_rank = (n + 1) // 2, (n + 2) // 2
    low = at(low_rank)
    median = (low + (at(high_rank) if high_rank != low_rank else low)) / 2
    whole = math.fsum(map(itemgetter(1), bins))
    return n, whole, median, at((9 * n + 9) // 10), whole / n


# --- pages: ranks without every bin -------------------------------------------------------
#
# A rank over many stored sketches needs only the bins of the page that holds it: the rows
# that sum many days (GroupRollup) also store their bins by page (PAGE consecutive orders, a
# factor of GAMMA^32 = 1.37 in duration) and each page's [count, sum]. A reader adds the
# pages' counts to find the page holding each rank, then reads only those pages' bins: a
# month row of a year-long question gives ~25 page counts and the bins of two or three pages
# instead of its ~230 bins. 32 is about the square root of the ~800 orders a month of lead
# times spans, which keeps both reads small.
PAGE = 32


def page_of(order: int) -> int:
    # Floor division keeps the pages in the orders' order, negative ones included.
    return order // PAGE


def paged(sketch: Sketch) -> tuple[dict[str, list], dict[str, dict[str, list]]]:
    """({page: [count, sum]}, {page: {order: [count, sum]}}) of a sketch, as stored."""
    counts: dict[str, list] = {}
    pages: dict[str, dict[str, list]] = {}
    for order, (count, total) in sorted(sketch.items()):
        if not count:
            continue
        page = str(page_of(order))
        found = counts.setdefault(page, [0, 0.0])
        found[0] += count
        found[1] += total
        pages.setdefault(page, {})[str(order)] = [count, total]
    return counts, pages
