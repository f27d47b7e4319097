"""Write path, before and after a change, in one run: the ingest webhook and the importer of two
checkouts, alternated (A B B A A B ...), each figure with its after/before ratio.

    .venv/bin/python bench/write_before_after.py BEFORE AFTER [--alternations 2]
        [--ingest-requests 2000] [--import-count 100000] [--skip-ingest] [--skip-import]

BEFORE and AFTER are each a git ref of this repository (checked out, detached, in a worktree
under --worktrees, reused on later runs) or the path of a checkout (its working files are
measured as they are, uncommitted changes included). The harness is always this checkout's
bench/ingest.py and bench/import.py (`--repo` points them at the measured code; manage.py,
gunicorn and the importer run from that checkout, with this venv's packages unless
--before-python / --after-python name another interpreter).

Per side and alternation:
  ingest   bench/ingest.py --only webhook webhook+10%rep --concurrency 16 --rounds 1:
           throughput over the healthz ceiling of the same round (the figure that carries
           across loads), p99, and CPU ms per delivery of gunicorn and of PostgreSQL
  import   bench/import.py --skip-sqlite --count N on PostgreSQL: deployments/s of the import
           and of the re-import, CPU us per deployment of the importer and of the backends
Each side has its own databases (benchh_wba_ingest_<side>, benchh_wba_import_<side>_bench),
re-created per run; the last migration each side applied is printed, as a check that the
intended code ran. Figures go to stdout and --output (bench/results/write-before-after.json).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

HARNESS = Path(__file__).resolve().parents[1]
BENCH = HARNESS / "bench"
SERVER = "postgres://postgres@127.0.0.1:5432"

# (key, label, higher is better, judged). Only judged figures get a "within 10 %" verdict:
# raw req/s, p99 and the ceiling itself move with the machine's load (a checkout against
# itself showed 14 %, 38 % and 12 % apart), the ratio to the ceiling and CPU much less.
INGEST_FIGURES = (
    ("webhook_x_healthz", "webhook / healthz", True, True),
    ("webhook_gunicorn_cpu_ms", "webhook gunicorn CPU ms/req", False, True),
    ("webhook_postgres_cpu_ms", "webhook PostgreSQL CPU ms/req", False, True),
    ("webhook_rep_x_healthz", "webhook+10%rep / healthz", True, True),
    ("webhook_per_second", "webhook req/s", True, False),
    ("webhook_p99_ms", "webhook p99 ms", False, False),
    ("healthz_per_second", "healthz req/s (ceiling)", True, False),
)
IMPORT_FIGURES = (
    ("import_per_second", "import deployments/s", True, True),
    ("import_importer_cpu_us", "import importer CPU us/dep", False, True),
    ("import_server_cpu_us", "import server CPU us/dep", False, True),
    ("reimport_per_second", "re-import deployments/s", True, True),
    ("reimport_server_cpu_us", "re-import server CPU us/dep", False, True),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="git ref or checkout path")
    parser.add_argument("after", help="git ref or checkout path")
    parser.add_argument("--alternations", type=int, default=2, help="runs of each side")
    parser.add_argument("--ingest-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--import-count", type=int, default=100_000)
    parser.add_argument(
        "--rollback-detection",
        choices=["on", "off"],
        default="on",
        help="passed to bench/ingest.py: off measures the write path without it",
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--before-python", default=sys.executable)
    parser.add_argument("--after-python", default=sys.executable)
    parser.add_argument(
        "--worktrees",
        type=Path,
        default=Path(tempfile.gettempdir()) / "periscope-bench-refs",
        help="where refs are checked out",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH / "results" / "write-before-after.json"
    )
    return parser.parse_args()


def checkout(ref: str, worktrees: Path) -> tuple[Path, str]:
    """(directory, description) of a checkout path or of a git ref's detached worktree."""
    path = Path(ref).expanduser()
    if path.is_dir():
        path = path.resolve()
        head = git(path, "rev-parse", "--short=12", "HEAD")
        dirty = git(path, "status", "--porcelain")
        return path, f"{path} @ {head}{' + uncommitted changes' if dirty else ''}"
    sha = git(HARNESS, "rev-parse", "--verify", f"{ref}^{{commit}}")
    target = worktrees / sha[:12]
    if not target.is_dir():
        worktrees.mkdir(parents=True, exist_ok=True)
        git(HARNESS, "worktree", "add", "--detach", str(target), sha)
    return target, f"{ref} = {sha[:12]} (worktree {target})"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def run(command: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, cwd=HARNESS, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}; see {log}")


def last_migration(database: str) -> str:
    with psycopg.connect(f"{SERVER}/{database}") as conn:
        row = conn.execute(
            "SELECT name FROM django_migrations WHERE app = 'deployments' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return row[0] if row else "?"


def ingest(args, side: str, repo: Path, python: str, tmp: Path, log: Path) -> dict:
    database = f"benchh_wba_ingest_{side}"
    out = tmp / f"ingest-{side}.json"
    run(
        [
            python, str(BENCH / "ingest.py"), "--repo", str(repo),
            "--database-url", f"{SERVER}/{database}", "--output", str(out),
            "--only", "webhook", "webhook+10%rep", "--concurrency", str(args.concurrency),
            "--rounds", "1", "--requests", str(args.ingest_requests),
            "--rollback-detection", args.rollback_detection,
        ],
        log,
    )  # fmt: skip
    rows = {row["scenario"]: row for row in json.loads(out.read_text())["summary"]}
    webhook, repeat = rows["webhook"], rows["webhook+10%rep"]
    return {
        "webhook_x_healthz": webhook["ratio"],
        "webhook_per_second": webhook["per_second"],
        "webhook_p99_ms": webhook["p99_ms"],
        "webhook_gunicorn_cpu_ms": webhook.get("gunicorn_cpu_ms"),
        "webhook_postgres_cpu_ms": webhook.get("postgres_cpu_ms"),
        "webhook_rep_x_healthz": repeat["ratio"],
        "healthz_per_second": rows["healthz"]["per_second"],
        "ingest_last_migration": last_migration(database),
    }


def import_(args, side: str, repo: Path, python: str, tmp: Path, log: Path) -> dict:
    out = tmp / f"import-{side}.json"
    run(
        [
            python, str(BENCH / "import.py"), "--repo", str(repo), "--skip-sqlite",
            "--postgres", f"{SERVER}/benchh_wba_import_{side}", "--count",
            str(args.import_count), "--output", str(out),
        ],
        log,
    )  # fmt: skip
    figures = json.loads(out.read_text())["postgresql"]
    first, again = figures["import"], figures["re-import"]
    return {
        "import_per_second": first["deployments_per_second"],
        "import_importer_cpu_us": first["importer_cpu_us_per_deployment"],
        "import_server_cpu_us": first["server_cpu_us_per_deployment"],
        "reimport_per_second": again["deployments_per_second"],
        "reimport_server_cpu_us": again["server_cpu_us_per_deployment"],
        "import_code": figures.get("code"),
    }


def main() -> None:
    args = parse_args()
    sides = {}
    for side, ref, python in (
        ("before", args.before, args.before_python),
        ("after", args.after, args.after_python),
    ):
        repo, description = checkout(ref, args.worktrees)
        sides[side] = {"repo": repo, "description": description, "python": python}
        print(f"{side:<7}{description}", flush=True)
    log = args.output.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.alternations):
            # A B, then B A: a drift of the machine's load during the run falls on both sides.
            order = ("before", "after") if n % 2 == 0 else ("after", "before")
            for side in order:
                repo, python = sides[side]["repo"], sides[side]["python"]
                began = time.perf_counter()
                figures = {"side": side, "alternation": n + 1, "load_1m": os.getloadavg()[0]}
                if not args.skip_ingest:
                    figures.update(ingest(args, side, repo, python, Path(tmp), log))
                if not args.skip_import:
                    figures.update(import_(args, side, repo, python, Path(tmp), log))
                figures["seconds"] = round(time.perf_counter() - began, 1)
                runs.append(figures)
                print(
                    f"[{n + 1}/{args.alternations}] {side:<6}"
                    + "".join(
                        f"  {key}={figures[key]}"
                        for key, *_ in INGEST_FIGURES[:3] + IMPORT_FIGURES[:3]
                        if key in figures
                    )
                    + f"  load {figures['load_1m']:.1f}",
                    flush=True,
                )
    summary = summarize(args, runs)
    print()
    print(
        f"{'figure':<32}{'before (median; runs)':>34}{'after (median; runs)':>34}{'after/before':>14}"
    )
    for row in summary:
        print(
            f"{row['label']:<32}{row['before_median']:>12g} {fmt(row['before']):>21}"
            f"{row['after_median']:>12g} {fmt(row['after']):>21}{row['ratio']:>10.3f} {row['verdict']}"
        )
    for side in ("before", "after"):
        migrations = {r.get("ingest_last_migration") for r in runs if r["side"] == side} - {None}
        code = {r.get("import_code") for r in runs if r["side"] == side} - {None}
        print(
            f"{side}: last deployments migration {sorted(migrations)}, importer code {sorted(code)}"
        )
    args.output.write_text(
        json.dumps(
            {
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "cpus": os.cpu_count(),
                "sides": {k: {**v, "repo": str(v["repo"])} for k, v in sides.items()},
                "config": {
                    "alternations": args.alternations,
                    "ingest_requests": None if args.skip_ingest else args.ingest_requests,
                    "concurrency": args.concurrency,
                    "import_count": None if args.skip_import else args.import_count,
                },
                "summary": summary,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nfigures: {args.output}\nlog of every command: {log}")


def fmt(values: list) -> str:
    return "/".join(f"{v:g}" for v in values)


def summarize(args, runs: list[dict]) -> list[dict]:
    figures = (() if args.skip_ingest else INGEST_FIGURES) + (
        () if args.skip_import else IMPORT_FIGURES
    )
    rows = []
    for key, label, higher_better, judged in figures:
        before = [r[key] for r in runs if r["side"] == "before" and r.get(key) is not None]
        after = [r[key] for r in runs if r["side"] == "after" and r.get(key) is not None]
        if not before or not after:
            continue
        ratio = statistics.median(after) / statistics.median(before)
        # "Within 10 %": no more than 10 % worse in the figure's own direction.
        worse = (1 - ratio) if higher_better else (ratio - 1)
        rows.append(
            {
                "figure": key,
                "label": label,
                "before": before,
                "after": after,
                "before_median": statistics.median(before),
                "after_median": statistics.median(after),
                "ratio": round(ratio, 3),
                "verdict": (
                    "(not judged)"
                    if not judged
                    else "ok"
                    if worse <= 0.10
                    else f"WORSE by {worse:.0%}"
                ),
            }
        )
    return rows


if __name__ == "__main__":
    main()
