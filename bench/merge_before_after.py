"""The duration-percentile merge of the rollups (metrics/rollup_queries.py `percentiles`),
before and after a change, alternated in one process on an existing bench database (read
only: it runs SELECTs and transaction-local settings, nothing else).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchm1 \\
        .venv/bin/python bench/merge_before_after.py [--before main] [--alternations 5]
    DEBUG=1 ... bench/merge_before_after.py --pages   # and the dashboard page

"before" is `percentiles` of metrics/rollup_queries.py at the git ref --before, loaded as a
module of its own and swapped in for the calls; "sql" and "python" are this checkout's with
the merge forced into the database or into Python; "after" is this checkout's default. Each
case (dora_by_service over 30, 90 and 365 days and over 30 days with raw edges; dora_report
summary + weekly series over 90 days and 2 years, all services and one; daily over 30 days)
is timed per variant in turn, the order rotated each round (A B C D, B C D A, ...), with the
time spent inside `percentiles` apart; every variant's result must equal the before one's
(floats within 1e-9 relative). The window ends at 2026-01-01 00:00 UTC (bench/metrics.py's
END). Medians, ratios over before and the load average go to stdout and --output
(bench/results/merge-before-after-<database>.json).
"""

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-merge-secret-key-0123456789-abcdefghijklmnopq")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from metrics import dora  # noqa: E402
from metrics import rollup_queries as rq  # noqa: E402
from periscope.models import Organization  # noqa: E402
from services.selection import select_service  # noqa: E402

END = datetime(2026, 1, 1, tzinfo=UTC)
CURRENT = rq.percentiles


def _before_module(ref: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{ref}:metrics/rollup_queries.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("rollup_queries_before")
    module.__file__ = f"{ref}:metrics/rollup_queries.py"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _same(a, b, path="") -> list[str]:
    """Where two results differ (floats within 1e-9 relative)."""
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return _same(dataclasses.asdict(a), dataclasses.asdict(b), path)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys(), key=str)[:5]}"]
        return [d for k in a for d in _same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _same(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) else [f"{path}: {a!r} {b!r}"]
    return [] if a == b else [f"{path}: {a!r} {b!r}"]


def _page(organization, *, days: int, interval: str) -> int:
    """The dashboard rendered for a superuser: a signed-cookie session, so nothing is
    written to the database. Its status (the HTML carries a fresh CSRF token each time)."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.test import RequestFactory
    from django.urls import resolve

    query = {
        "org": organization.slug,
        "range": "custom",
        "from": (END - timedelta(days=days)).date().isoformat(),
        "to": (END - timedelta(days=1)).date().isoformat(),
        "interval": interval,
        "service": "",
    }
    request = RequestFactory().get("/admin/metrics/dora/", query)
    request.user = get_user_model().objects.filter(is_superuser=True, is_active=True).first()
    request.session = SessionStore()
    response = resolve("/admin/metrics/dora/").func(request)
    if hasattr(response, "render"):
        response.render()
    assert response.status_code == 200, response.status_code
    return response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git ref of the before code")
    parser.add_argument("--alternations", type=int, default=5)
    parser.add_argument("--organization", default="bench-metrics")
    parser.add_argument("--only", nargs="*", help="case names to run")
    parser.add_argument(
        "--pages",
        action="store_true",
        help="also the dashboard page (/admin/metrics/dora/, a superuser, no session write; "
        "DEBUG=1), 30 days per day and 365 days per week, checked for a 200 only",
    )
    parser.add_argument("--output")
    args = parser.parse_args()

    before = _before_module(args.before)
    organization = Organization.objects.get(slug=args.organization)
    one = select_service(organization=organization, value="service-007")

    def window(days: int, *, end: datetime = END, service=None) -> dora.Window:
        return dora.Window(
            organization_id=organization.pk,
            start=end - timedelta(days=days),
            end=end,
            service=service,
        )

    cases = {
        "by_service_30d": lambda: dora.dora_by_service(scope=window(30)),
        "by_service_90d": lambda: dora.dora_by_service(scope=window(90)),
        "by_service_365d": lambda: dora.dora_by_service(scope=window(365)),
        "by_service_30d_edges": lambda: dora.dora_by_service(
            scope=window(30, end=END - timedelta(hours=5))
        ),
        "report_weekly_2y_all": lambda: dora.dora_report(scope=window(730), interval="week"),
        "report_weekly_90d_all": lambda: dora.dora_report(scope=window(90), interval="week"),
        "report_weekly_2y_one": lambda: dora.dora_report(
            scope=window(730, service=one), interval="week"
        ),
        "report_weekly_90d_one": lambda: dora.dora_report(
            scope=window(90, service=one), interval="week"
        ),
        "report_daily_30d_all": lambda: dora.dora_report(scope=window(30), interval="day"),
    }
    if args.pages:
        cases.update(
            dashboard_30d_day=lambda: _page(organization, days=30, interval="day"),
            dashboard_365d_week=lambda: _page(organization, days=365, interval="week"),
        )
    if args.only:
        cases = {name: run for name, run in cases.items() if name in args.only}
    variants = {
        "before": before.percentiles,
        "sql": lambda *a, **k: CURRENT(*a, **k, method="sql"),
        "python": lambda *a, **k: CURRENT(*a, **k, method="python"),
        "after": CURRENT,
    }
    merge_seconds: list[float] = []

    def timed_merge(function):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                merge_seconds.append(time.perf_counter() - started)

        return wrapper

    load_before = os.getloadavg()
    figures: dict = {}
    mismatches: list[str] = []
    for name, run in cases.items():
        reference = None
        times = {v: {"total": [], "merge": []} for v in variants}
        for alternation in range(args.alternations + 1):  # the first round warms up
            # Rotated each round, so no variant always follows the same one.
            order = list(variants)[alternation % len(variants) :]
            order += list(variants)[: alternation % len(variants)]
            for variant in order:
                function = variants[variant]
                rq.percentiles = timed_merge(function)
                merge_seconds.clear()
                try:
                    started = time.perf_counter()
                    found = run()
                    total = time.perf_counter() - started
                finally:
                    rq.percentiles = CURRENT
                if variant == "before":
                    reference = found
                elif alternation == 0:  # "before" runs first in the first round
                    mismatches += [f"{name} {variant} {d}" for d in _same(reference, found)[:5]]
                if alternation:
                    times[variant]["total"].append(total * 1000)
                    times[variant]["merge"].append(sum(merge_seconds) * 1000)
        row = {
            variant: {
                "total_ms": round(statistics.median(t["total"]), 1),
                "merge_ms": round(statistics.median(t["merge"]), 1),
            }
            for variant, t in times.items()
        }
        for variant in variants:
            if variant != "before":
                for part in ("total", "merge"):
                    row[variant][f"{part}_over_before"] = round(
                        row[variant][f"{part}_ms"] / row["before"][f"{part}_ms"], 3
                    )
        figures[name] = row
        print(
            f"{name:24} "
            + "  ".join(
                f"{v} {r['total_ms']:7.1f} ms (merge {r['merge_ms']:6.1f})" for v, r in row.items()
            ),
            flush=True,
        )
    load_after = os.getloadavg()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "database": connection.vendor,
        "organization": args.organization,
        "before": args.before,
        "after": commit,
        "alternations": args.alternations,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "mismatches": mismatches,
        "cases": figures,
    }
    print(f"load average {load_before} -> {load_after}")
    print("results identical" if not mismatches else "MISMATCHES:\n" + "\n".join(mismatches))
    output = Path(
        args.output or ROOT / f"bench/results/merge-before-after-{connection.vendor}.json"
    )
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {output}")


if __name__ == "__main__":
    main()
