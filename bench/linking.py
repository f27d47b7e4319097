"""Linking benchmark: a repository of 100,000 commits and 10,000 production deployments.

Prints the time to record the history, to link one deployment (median of repeats, and the
first deployment bounded by the horizon) and to link all of them in order, and writes the
figures to bench/results/linking-<database>.json.

    .venv/bin/python bench/linking.py                       # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/linking.py
    .venv/bin/python bench/linking.py --commits 10000 --deployments 1000   # quick run
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
os.environ.setdefault("DEBUG", "1")  # a local measurement, not a deployment
if "DATABASE_URL" not in os.environ:
    _tmp = tempfile.mkdtemp(prefix="periscope-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_history(total: int) -> tuple[list, list[str]]:
    """Commits in topological order: a main line where every fifth step merges a three-commit
    branch with a merge commit. Returns (CommitData list, main-line shas)."""
    from deployments.changes.commits import CommitData

    commits, main = [], []
    counter = 0

    def add(parents: tuple[str, ...]) -> str:
        nonlocal counter
        sha = f"{counter:040x}"
        when = T0 + timedelta(minutes=counter)
        commits.append(
            CommitData(
                sha=sha,
                parents=parents,
                parents_exact=True,
                authored_at=when,
                committed_at=when,
                author="bench",
                message=f"change {counter}",
            )
        )
        counter += 1
        return sha

    head = add(())
    main.append(head)
    step = 0
    while counter < total:
        step += 1
        if step % 5 == 0 and counter + 5 <= total:
            tip = head
            for _ in range(3):
                tip = add((tip,))
            head = add((head,))
            head = add((head, tip))
        else:
            head = add((head,))
        main.append(head)
    return commits, main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    from deployments.changes.commits import record_commits
    from deployments.changes.linking import link_deployment
    from deployments.changes.repositories import get_or_create_repository
    from deployments.models import Deployment, DeploymentCommit
    from periscope.models import Organization
    from services.catalog import create_service

    call_command("migrate", verbosity=0)
    organization, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    Deployment.objects.filter(organization=organization).delete()
    url = "https://github.com/bench/monolith"
    service = organization.services.filter(slug="monolith").first() or create_service(
        organization=organization, name="monolith", repository_url=url
    )
    repository = get_or_create_repository(organization=organization, url=url)
    repository.commits.all().delete()

    commits, main_line = build_history(args.commits)
    started = time.perf_counter()
    with transaction.atomic():
        record_commits(repository=repository, commits=commits)
    record_seconds = time.perf_counter() - started
    print(f"recorded {len(commits):,} commits in {record_seconds:.1f} s")

    stride = max(1, len(main_line) // args.deployments)
    deployed = main_line[stride - 1 :: stride][: args.deployments]
    times = {c.sha: c.committed_at for c in commits}
    Deployment.objects.bulk_create(
        [
            Deployment(
                organization=organization,
                external_id=f"bench-{i}",
                service=service,
                service_name="monolith",
                service_key="monolith",
                environment="production",
                environment_raw="production",
                status="success",
                commit_sha=sha,
                started_at=times[sha] + timedelta(minutes=1),
                completed_at=times[sha] + timedelta(minutes=5),
            )
            for i, sha in enumerate(deployed)
        ],
        batch_size=1000,
    )
    deployments = list(
        Deployment.objects.filter(organization=organization)
        .select_related("service", "organization")
        .order_by("completed_at", "id")
    )

    started = time.perf_counter()
    for deployment in deployments:
        with transaction.atomic():
            link_deployment(deployment)
    link_all_seconds = time.perf_counter() - started
    linked = DeploymentCommit.objects.filter(organization=organization).count()
    print(
        f"linked all {len(deployments):,} deployments in {link_all_seconds:.1f} s "
        f"({link_all_seconds / len(deployments) * 1000:.1f} ms each; {linked:,} commit links)"
    )

    middle = deployments[len(deployments) // 2]
    samples = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        with transaction.atomic():
            link_deployment(middle)
        samples.append(time.perf_counter() - started)
    one_ms = statistics.median(samples) * 1000
    first = deployments[0]
    started = time.perf_counter()
    with transaction.atomic():
        link_deployment(first)
    first_ms = (time.perf_counter() - started) * 1000
    shipped = DeploymentCommit.objects.filter(deployment=middle).count()
    print(f"link one deployment ({shipped} commits): median {one_ms:.1f} ms of {args.repeats}")
    print(f"link the first deployment (30-day horizon walk): {first_ms:.1f} ms")

    results = {
        "database": connection.vendor,
        "commits": len(commits),
        "deployments": len(deployments),
        "record_history_seconds": round(record_seconds, 2),
        "link_all_seconds": round(link_all_seconds, 2),
        "link_all_ms_per_deployment": round(link_all_seconds / len(deployments) * 1000, 2),
        "link_one_median_ms": round(one_ms, 2),
        "link_first_deployment_ms": round(first_ms, 2),
        "commit_links": linked,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = ROOT / "bench" / "results" / f"linking-{connection.vendor}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
