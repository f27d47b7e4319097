"""Fixed-window request counters shared by every app server.

Each hit is one atomic increment, so concurrent requests on several servers never lose a count:
an `INSERT … ON CONFLICT DO UPDATE … RETURNING` on the database (PostgreSQL and SQLite alike),
or `cache.add` + `cache.incr` on Redis. Django's own DatabaseCache is not used because its
`incr` is a get followed by a set, which loses counts under concurrency.
"""

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from periscope import rows
from periscope.models import RateLimitCounter

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$", re.IGNORECASE)
_DISABLED = {"", "0", "off", "none", "unlimited"}


@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    retry_after: float


def parse_rate(text: str | None) -> Rate | None:
    """`"1200/minute"`, `"20/s"`, `"100/10s"`; None for `off`/`0`/empty (no limit)."""
    if text is None or text.strip().lower() in _DISABLED:
        return None
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"not a rate: {text!r} (expected e.g. '1200/minute')")
    requests, multiplier, unit = match.groups()
    seconds = int(multiplier or 1) * _PERIODS[unit.lower()]
    return Rate(requests=int(requests), seconds=seconds)


_HIT = rows.Statement(
    "INSERT INTO {table} ({key}, count, window_end) VALUES (%s, 1, %s)"
    " ON CONFLICT ({key}) DO UPDATE SET count = {table}.count + 1 RETURNING count",
    table=RateLimitCounter,
    key="key",
)


def _database_hit(*, key: str, window_end: int, now: float) -> int:
    (count,) = rows.fetchone(_HIT, [key, window_end])
    if count == 1:
        # The first hit of a new window sweeps ended windows, so the table stays small.
        RateLimitCounter.objects.filter(window_end__lt=int(now)).delete()
    return count


def _cache_hit(*, key: str, timeout: int) -> int:
    cache = caches[settings.RATE_LIMIT_CACHE]
    for _ in range(2):
        cache.add(key, 0, timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: start the window again
            continue
    return cache.incr(key)


def hit(*, name: str, rate: Rate, now: float | None = None) -> Decision:
    """Count one request against `name` under `rate` and say whether it is allowed."""
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    window_end = (window + 1) * rate.seconds
    key = f"ratelimit:{name}:{rate.seconds}:{window}"
    if settings.RATE_LIMIT_STORE == "cache":
        count = _cache_hit(key=key, timeout=rate.seconds + 1)
    else:
        count = _database_hit(key=key, window_end=window_end, now=now)
    return Decision(allowed=count <= rate.requests, count=count, retry_after=window_end - now)
