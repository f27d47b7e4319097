"""Shared by the rollup tests: the reference report serialized as the API serializes it, the
comparison rules of issue 17, and `check_rollups` / `rebuild_rollups` called when they exist.

Medians and p90s read from the rollups come from a log-bucketed histogram: within 1 % of the
reference. Means within float rounding (1e-9 relative). Everything else equal, except a
lead-time or recovery level whose reference median sits within 1 % of a level threshold.
"""

import io
import json
import math

from django.core.management import call_command, get_commands

from metrics import benchmarks, reference
from metrics.api import parse_dora_query
from metrics.serializers import DoraReportSerializer

URL = "/api/metrics/dora"
PERCENTILES = {"medianSeconds", "p90Seconds"}
MEANS = {"meanSeconds", "codingMeanSeconds", "reviewMeanSeconds", "waitingMeanSeconds"}
# The level of a metric and the table row bounds its median is compared with.
MEDIAN_LEVELS = {
    "leadTime": "lead_time_seconds",
    "failedDeploymentRecoveryTime": "recovery_seconds",
}


def command_exists(name: str) -> bool:
    return name in get_commands()


def check_rollups(**options) -> str | None:
    """Run `check_rollups` (a hard failure on drift: it raises); None before it exists."""
    if not command_exists("check_rollups"):
        return None
    out = io.StringIO()
    call_command("check_rollups", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def rebuild_rollups(**options) -> None:
    """Rebuild after rows were written around the write paths (bulk_create); no-op before
    the command exists."""
    if command_exists("rebuild_rollups"):
        call_command("rebuild_rollups", stdout=io.StringIO(), stderr=io.StringIO(), **options)


def reference_json(*, organization, params: dict) -> dict:
    """What /api/metrics/dora would answer if it computed from the raw rows: the same query
    parsing (metrics.api.parse_dora_query), reference.dora_report, DoraReportSerializer."""
    scope, interval, echoed = parse_dora_query(params=params, organization=organization)
    report = reference.dora_report(scope=scope, interval=interval)
    return DoraReportSerializer(
        {
            "range": echoed,
            "benchmarks": report.benchmarks,
            "summary": report.summary,
            "series": report.series,
        }
    ).data


def _near_threshold(metric: str, median) -> bool:
    if median is None:
        return False
    for bound in benchmarks.TABLES[benchmarks.CURRENT][MEDIAN_LEVELS[metric]]:
        edge = bound.below if bound.below is not None else bound.at_most
        if edge is not None and abs(median - edge) <= 0.01 * edge:
            return True
    return False


def differences(got, want, path: str = "") -> list[str]:
    """Every field where the API (`got`) departs from the reference (`want`) beyond the rules."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [
                f"{path}: keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}"
            ]
        found = []
        for name in want:
            if name == "level" and path.rsplit(".", 1)[-1] in MEDIAN_LEVELS:
                metric = path.rsplit(".", 1)[-1]
                if got[name] != want[name] and not _near_threshold(
                    metric, want.get("medianSeconds")
                ):
                    found.append(f"{path}.level: {got[name]!r} != {want[name]!r}")
                continue
            found += differences(got[name], want[name], f"{path}.{name}")
        return found
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: {len(got) if isinstance(got, list) else got!r} items != {len(want)}"]
        found = []
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            found += differences(g, w, f"{path}[{index}]")
        return found
    name = path.rsplit(".", 1)[-1]
    if name in PERCENTILES | MEANS and want is not None and got is not None:
        tolerance = 0.01 if name in PERCENTILES else 1e-9
        if math.isclose(got, want, rel_tol=tolerance, abs_tol=0.0):
            return []
        return [f"{path}: {got!r} != {want!r} (relative tolerance {tolerance})"]
    if (
        got != want
        or type(got) is not type(want)
        and not (isinstance(got, int | float) and isinstance(want, int | float) and got == want)
    ):
        return [f"{path}: {got!r} != {want!r}"]
    return []


def assert_api_matches_reference(api, key: str, *, organization, params: dict) -> dict:
    """GET /api/metrics/dora with a real key; every field against the reference."""
    response = api.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    got = response.json()
    want = reference_json(organization=organization, params=params)
    # Through JSON as the API's answer went (datetimes are already strings).
    want = json.loads(json.dumps(want))
    problems = differences(got, want)
    assert problems == [], f"{params}:\n" + "\n".join(problems[:40])
    return got
