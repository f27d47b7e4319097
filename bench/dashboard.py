"""Benchmark of the DORA dashboard page (/admin/metrics/dora/) on the metrics bench data.

Loads the data of bench/metrics.py (1,000,000 deployments with their changes and incidents by
default, and the 10,000-deployment organization, into the database of DATABASE_URL, reused
when already there), then for both organizations in the same run:

  - whole page loads through Django's test client as a superuser (the page's dora_report
    calls, the per-service table, the open items and the template), with the queries of each;
  - the same pages through a live gunicorn server with a logged-in staff session cookie,
    interleaved with the admin index /admin/, printing page / admin index and big / small.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dashboard_bench .venv/bin/python bench/dashboard.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dashboard_bench .venv/bin/python bench/dashboard.py --size 10000000

Figures go to bench/results/dashboard-<database>-<size>.json (or --output).
"""

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.metrics import (  # noqa: E402  (sets Django up)
    END,
    _peak_rss_mb,
    count_queries,
    live_server,
    load_both,
    ratio,
    run_info,
    time_http,
    timed,
)

ADMIN_INDEX = "admin index"


def cases_for(organization) -> list[tuple[str, dict]]:
    from services.models import Service

    one = Service.objects.get(organization=organization, name="service-007")
    last_day = (END - timedelta(days=1)).date()
    cases = []
    for days, interval in ((30, "day"), (90, "week"), (365, "week")):
        first_day = (END - timedelta(days=days)).date()
        for who, service in (("all services", ""), ("one service", str(one.pk))):
            query = {
                "org": organization.slug,
                "range": "custom",
                "from": first_day.isoformat(),
                "to": last_day.isoformat(),
                "interval": interval,
                "service": service,
            }
            cases.append((f"{days} days per {interval}, {who}", query))
    return cases


def main() -> None:
    import httpx
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument(
        "--small-size", type=int, default=10_000, help="the second organization's (0: none)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="test-client page loads per case")
    parser.add_argument("--http-repeat", type=int, default=3, help="live page loads per case")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()
    call_command("migrate", verbosity=0)
    big, small = load_both(args.size, args.small_size)
    organizations = {"big": big, **({"small": small} if small else {})}
    user, _ = get_user_model().objects.get_or_create(
        username="bench-dashboard", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)

    print("test client, whole page loads:", flush=True)
    results = []
    for label, organization in organizations.items():
        for case, query in cases_for(organization):

            def page(query=query):
                response = client.get("/admin/metrics/dora/", query)
                assert response.status_code == 200, response.status_code

            figures = timed(page, args.repeat)
            queries = count_queries("/admin/metrics/dora/", query, client=client)
            results.append({"organization": label, "case": case, **figures, "queries": queries})
            print(
                f"  {connection.vendor:10} {label:5} {case:34} median {figures['median_ms']:8.1f}"
                f" min {figures['min_ms']:8.1f} ms   {queries:>4} queries",
                flush=True,
            )
    admin_queries = count_queries("/admin/", {}, client=client)
    print(f"  admin index: {admin_queries} queries")
    if small:
        by = {(r["organization"], r["case"]): r for r in results}
        for case, _ in cases_for(big):
            value = ratio(by[("big", case)]["median_ms"], by[("small", case)]["median_ms"])
            by[("big", case)]["big_over_small"] = value
            print(f"  ratio {case}: big / small {value}")

    http = None
    if not args.skip_http:
        # A staff session in the database, as a browser login leaves it; the server shares
        # SECRET_KEY, so the cookie is valid there.
        cookie = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
        requests = [(ADMIN_INDEX, "/admin/", {}, {})]
        for label, organization in organizations.items():
            requests += [
                (f"{label}: {case}", "/admin/metrics/dora/", query, {})
                for case, query in cases_for(organization)
            ]
        print("through gunicorn, logged-in staff (interleaved with the admin index):", flush=True)
        with (
            live_server() as base,
            httpx.Client(base_url=base, timeout=1800, cookies=cookie) as browser,
        ):
            timings = time_http(browser, requests, args.http_repeat)
        index = timings[ADMIN_INDEX]["median_ms"]
        rows = []
        for name, path, query, _ in requests:
            row = {"request": name, "path": path, "params": query, **timings[name]}
            if name != ADMIN_INDEX:
                row["over_admin_index"] = ratio(row["median_ms"], index)
                label, case = name.split(": ", 1)
                if label == "big" and f"small: {case}" in timings:
                    row["big_over_small"] = ratio(
                        row["median_ms"], timings[f"small: {case}"]["median_ms"]
                    )
            rows.append(row)
            print(
                f"  {name:<42} median {row['median_ms']:9.1f} min {row['min_ms']:9.1f} ms"
                + (
                    f"   x admin index {row['over_admin_index']}"
                    if "over_admin_index" in row
                    else ""
                )
                + (f"   big / small {row['big_over_small']}" if "big_over_small" in row else ""),
                flush=True,
            )
        http = {"requests": rows, "admin_index_queries": admin_queries}
    out = (
        args.output
        or ROOT / "bench" / "results" / f"dashboard-{connection.vendor}-{args.size}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                **run_info(args),
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "peak_rss_mb": round(_peak_rss_mb()),
                "results": results,
                "admin_index_queries": admin_queries,
                "http": http,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
