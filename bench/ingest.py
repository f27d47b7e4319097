"""Ingest benchmark: the Periscope webhook under load, against this machine's HTTP ceiling.

    .venv/bin/python bench/ingest.py [--requests N] [--rounds R] [--database-url URL]

Creates a fresh PostgreSQL database (dropped and re-created: default `bench_ingest` on
127.0.0.1), migrates it, creates an organization, an ingest key and a service (through the
management commands), starts gunicorn on 127.0.0.1, and drives it with `wrk` (a separate
C process; `apt-get install wrk`) through `bench/ingest.lua`.

For every concurrency (one connection per wrk thread) and round it loads, back to back:
  healthz          GET /healthz: Django and gunicorn with no database work, the HTTP ceiling
  webhook          POST /api/webhooks/deployments, every delivery a new deployment id
  webhook+10%rep   the same, every 10th delivery re-sends an earlier id (half identical)
  raw-upsert       bench-only view: JSON body -> one INSERT ... ON CONFLICT (no auth, no log)
  orm-upsert       bench-only view: JSON body -> Deployment.objects.update_or_create
and then checks the database: deployments stored == `created` answers, delivery log rows ==
all acknowledged deliveries. Throughput divided by the healthz ceiling of the same round is
the figure that carries across machines. Figures go to stdout and bench/results/ingest.json.

gunicorn runs 4 gthread workers x 4 threads: on 2 cores, 4 processes gave the highest healthz
ceiling (2 x 8 left it GIL-bound, so ratios looked better than they are), and 16 threads
cover concurrency 16. Sync workers close the connection after every answer, and wrk's
reconnects then stalled workers until their timeout, so they are not the default.
"""

import argparse
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dj_database_url
import psycopg
from backend_cpu import DatabaseBackendsCpu

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "bench" / "ingest.lua"
RESULTS = REPO / "bench" / "results" / "ingest.json"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SECRET_KEY = "bench-only-secret-key-not-for-production"

# (name, wrk mode, every Nth delivery is a repeat)
SCENARIOS = (
    ("healthz", "healthz", 0),
    ("webhook", "webhook", 0),
    ("webhook+10%rep", "webhook", 10),
    ("raw-upsert", "raw", 0),
    ("orm-upsert", "orm", 0),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="repeat every run this often")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_ingest")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--max-seconds", type=int, default=180, help="time limit of each run")
    parser.add_argument("--only", nargs="+", choices=[s[0] for s in SCENARIOS], help="subset")
    parser.add_argument(
        "--rollback-detection",
        choices=["on", "off"],
        default="on",
        help="off: the bench organization's rollback detection is switched off (code that has"
        " it), to tell its cost from the rest of the write path's",
    )
    parser.add_argument(
        "--services",
        type=int,
        default=1,
        help="spread webhook deliveries over this many catalogued services (1: all 'Checkout')",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--repo",
        type=Path,
        default=REPO,
        help="checkout whose code is measured (manage.py and gunicorn run there; default: this"
        " one). The bench itself (wrk script, counts) stays this checkout's, so two checkouts"
        " can be compared with the same harness: see bench/write_before_after.py",
    )
    args = parser.parse_args()
    args.repo = args.repo.resolve()
    return args


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        # One key sends everything: raise its limit far above the load, so every request
        # still pays for the shared rate-limit counter but none is refused.
        "PERISCOPE_RATE_LIMIT_INGEST": "100000000/minute",
        "PERISCOPE_RATE_LIMIT_READ": "100000000/minute",
        **extra,
    }


def manage_in(database_url: str, *args: str, repo: Path = REPO) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=repo,
        env=django_env(database_url),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def fresh_database(database_url: str) -> dict:
    db = dj_database_url.parse(database_url)
    if db["ENGINE"] != "django.db.backends.postgresql" or db["HOST"] not in LOCAL_HOSTS:
        sys.exit("--database-url must be a PostgreSQL database on 127.0.0.1")
    params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    if db["PASSWORD"]:
        params["password"] = db["PASSWORD"]
    name = db["NAME"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        # FORCE: a server left running by an interrupted run still holds connections.
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return {**params, "dbname": name}


def set_up_tenant(
    database_url: str, services: int = 1, repo: Path = REPO, *, detect_rollbacks: bool = True
) -> tuple[str, int]:
    """Migrate, then an organization, an ingest key and a service known as "Checkout" (with
    `services` > 1, services known as "Svc0", "Svc1", ... as well)."""

    def manage(*args: str) -> str:
        return manage_in(database_url, *args, repo=repo)

    manage("migrate", "--noinput", "-v", "0")
    manage("create_organization", "bench", "--name", "Bench")
    key = manage("create_api_key", "bench", "--name", "bench", "--scope", "ingest")
    manage(
        "shell",
        "-c",
        "from periscope.models import Organization; from services.catalog import create_service;"
        "org = Organization.objects.get(slug='bench');"
        "create_service(organization=org, name='checkout-service', aliases=['Checkout']);"
        f"[create_service(organization=org, name=f'service-{{n}}', aliases=[f'Svc{{n}}'])"
        f" for n in range({services if services > 1 else 0})]",
    )
    if not detect_rollbacks:
        manage(
            "shell",
            "-c",
            "from periscope.models import Organization;"
            "fields = {f.name for f in Organization._meta.get_fields()};"
            "'detect_rollbacks' in fields and"
            " Organization.objects.filter(slug='bench').update(detect_rollbacks=False)",
        )
    organization_id = manage(
        "shell",
        "-c",
        "from periscope.models import Organization;"
        "print(Organization.objects.get(slug='bench').pk)",
    )
    return key.strip().splitlines()[-1], int(organization_id.strip().splitlines()[-1])


def _commit(repo: Path) -> str:
    """The checkout's commit, with "+dirty" when its tracked or new files differ from it."""
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(master_pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by gunicorn's master and workers."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == master_pid or ppid == master_pid:
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(args: argparse.Namespace, port: int, organization_id: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "periscope.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ]
    env = django_env(
        args.database_url,
        DJANGO_SETTINGS_MODULE="bench.baseline_settings",
        BENCH_ORGANIZATION_ID=str(organization_id),
    )
    server = subprocess.Popen(command, cwd=args.repo, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not become ready within 30 s")


def run_wrk(
    *,
    port: int,
    mode: str,
    key: str,
    tag: str,
    concurrency: int,
    quota: int,
    repeat: int,
    limit: int,
    services: int = 1,
) -> dict:
    command = [
        "wrk",
        f"-t{concurrency}",
        f"-c{concurrency}",
        f"-d{limit}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        key,
        tag,
        str(quota),
        str(repeat),
        str(services),
    ]
    # wrk runs for its whole -d limit; interrupt it once every thread has its answers.
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines, done = [], 0
    for line in wrk.stdout:
        lines.append(line)
        if line.startswith("THREAD-DONE"):
            done += 1
            if done == concurrency:
                wrk.send_signal(signal.SIGINT)
    if wrk.wait() != 0:
        sys.exit(f"wrk failed: {''.join(lines)}")
    line = next(line for line in lines if line.startswith("WRK-RESULT "))
    return json.loads(line.removeprefix("WRK-RESULT "))


def stored(conn: psycopg.Connection, tag: str) -> tuple[int, int]:
    """(deployments, delivery log rows) whose deployment id carries this run's tag."""
    row = conn.execute(
        """
        SELECT count(DISTINCT d.id), count(l.id)
        FROM deployments_deployment d LEFT JOIN deployments_delivery l ON l.deployment_id = d.id
        WHERE d.external_id LIKE %s
        """,
        [f"{tag}-%"],
    ).fetchone()
    return row[0], row[1]


def count_check(conn: psycopg.Connection, *, mode: str, tag: str, wrk: dict) -> dict:
    acknowledged = wrk["created"] + wrk["updated"]
    complete = wrk["failed"] == 0 and sum(wrk["errors"].values()) == 0
    if mode == "healthz":
        return {"ok": complete}
    deployments, deliveries = stored(conn, tag)
    check = {
        "acknowledged": acknowledged,
        "created_answers": wrk["created"],
        "deployments_stored": deployments,
        "ok": complete and deployments == wrk["created"],
    }
    if mode == "webhook":
        check["delivery_log_rows"] = deliveries
        check["ok"] = check["ok"] and deliveries == acknowledged
    return check


def one_run(
    args, conn, *, port, server_pid, key, name, mode, repeat, concurrency, round_no
) -> dict:
    tag = f"r{round_no}c{concurrency}{mode}{repeat}"
    quota = math.ceil(args.requests / concurrency)
    # CPU of gunicorn (all workers) and of the database's PostgreSQL backends over the run:
    # steadier than throughput on a shared machine (wrk's own CPU is not counted).
    backends = DatabaseBackendsCpu(args.database_url)
    server_before = server_cpu_seconds(server_pid)
    wrk = run_wrk(
        port=port,
        mode=mode,
        key=key,
        tag=tag,
        concurrency=concurrency,
        quota=quota,
        repeat=repeat,
        limit=args.max_seconds,
        services=args.services,
    )
    gunicorn_cpu = server_cpu_seconds(server_pid) - server_before
    postgres_cpu = backends.seconds()
    backends.close()
    seconds = wrk["duration_us"] / 1e6
    answered = wrk["created"] + wrk["updated"]
    return {
        "scenario": name,
        "concurrency": concurrency,
        "round": round_no,
        "requests": answered,
        "seconds": round(seconds, 3),
        "per_second": round(answered / seconds, 1),
        "p50_ms": wrk["p50_us"] / 1000,
        "p99_ms": wrk["p99_us"] / 1000,
        "max_ms": wrk["max_us"] / 1000,
        "gunicorn_cpu_ms": round(gunicorn_cpu * 1000 / max(answered, 1), 3),
        "postgres_cpu_ms": round(postgres_cpu * 1000 / max(answered, 1), 3),
        "count_check": count_check(conn, mode=mode, tag=tag, wrk=wrk),
        "wrk": wrk,
        "loadavg_after": os.getloadavg()[0],
    }


def summarize(runs: list[dict]) -> list[dict]:
    ceiling = {
        (r["round"], r["concurrency"]): r["per_second"] for r in runs if r["scenario"] == "healthz"
    }
    for run in runs:
        base = ceiling.get((run["round"], run["concurrency"]))
        run["ratio"] = round(run["per_second"] / base, 3) if base else None
    rows = []
    for concurrency in sorted({r["concurrency"] for r in runs}):
        for name, *_ in SCENARIOS:
            group = [r for r in runs if r["scenario"] == name and r["concurrency"] == concurrency]
            if not group:
                continue
            rate = [r["per_second"] for r in group]
            ratio = [r["ratio"] for r in group if r["ratio"] is not None]
            rows.append(
                {
                    "scenario": name,
                    "concurrency": concurrency,
                    "runs": len(group),
                    "per_second": statistics.median(rate),
                    "per_second_range": [min(rate), max(rate)],
                    "ratio": statistics.median(ratio) if ratio else None,
                    "ratio_range": [min(ratio), max(ratio)] if ratio else None,
                    "p50_ms": statistics.median(r["p50_ms"] for r in group),
                    "p99_ms": statistics.median(r["p99_ms"] for r in group),
                    "p99_ms_max": max(r["p99_ms"] for r in group),
                    # CPU ms per answered request: gunicorn (all workers), PostgreSQL backends.
                    "gunicorn_cpu_ms": statistics.median(r["gunicorn_cpu_ms"] for r in group),
                    "postgres_cpu_ms": statistics.median(r["postgres_cpu_ms"] for r in group),
                    "count_check_ok": all(r["count_check"]["ok"] for r in group),
                }
            )
    return rows


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'scenario':<16}{'conc':>5}{'req/s median':>14}{'(min-max)':>16}"
        f"{'x healthz':>11}{'(min-max)':>14}{'p50 ms':>8}{'p99 ms':>8}{'(max)':>8}"
        f"{'cpu gu+pg ms':>14}  counts"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        low, high = row["per_second_range"]
        ratio = f"{row['ratio']:.3f}" if row["ratio"] is not None else "-"
        spread = "{:.3f}-{:.3f}".format(*row["ratio_range"]) if row["ratio_range"] else ""
        print(
            f"{row['scenario']:<16}{row['concurrency']:>5}{row['per_second']:>14.0f}"
            f"{f'{low:.0f}-{high:.0f}':>16}{ratio:>11}{spread:>14}"
            f"{row['p50_ms']:>8.1f}{row['p99_ms']:>8.1f}{row['p99_ms_max']:>8.1f}"
            f"{row['gunicorn_cpu_ms']:>7.2f}+{row['postgres_cpu_ms']:<6.2f}"
            f"  {'ok' if row['count_check_ok'] else 'MISMATCH'}"
        )


def main() -> None:
    args = parse_args()
    scenarios = [s for s in SCENARIOS if not args.only or s[0] in args.only or s[0] == "healthz"]
    conninfo = fresh_database(args.database_url)
    key, organization_id = set_up_tenant(
        args.database_url,
        args.services,
        args.repo,
        detect_rollbacks=args.rollback_detection == "on",
    )
    port = free_port()
    loadavg_before = os.getloadavg()
    server = start_gunicorn(args, port, organization_id)
    runs = []
    try:
        with psycopg.connect(autocommit=True, **conninfo) as conn:
            # Warm every worker (imports, connections) before anything is measured.
            for mode in ("healthz", "webhook", "raw", "orm"):
                run_wrk(
                    port=port, mode=mode, key=key, tag=f"warm{mode}", concurrency=8,
                    quota=25, repeat=0, limit=60,
                )  # fmt: skip
            # A live database has statistics: autovacuum analyzes a table within a minute of
            # its first 50 changes. A database created for the run has none yet, and its
            # planner then read a lookup by commit (rollback detection) through the
            # organization's history: every earlier row, each delivery slower than the last.
            conn.execute("ANALYZE")
            for round_no in range(1, args.rounds + 1):
                for concurrency in args.concurrency:
                    for name, mode, repeat in scenarios:
                        run = one_run(
                            args, conn, port=port, server_pid=server.pid, key=key,
                            name=name, mode=mode,
                            repeat=repeat, concurrency=concurrency, round_no=round_no,
                        )  # fmt: skip
                        runs.append(run)
                        print(
                            f"round {round_no} c={concurrency:<3} {name:<16}"
                            f"{run['per_second']:>8.0f}/s  p50 {run['p50_ms']:.1f} ms"
                            f"  p99 {run['p99_ms']:.1f} ms"
                            f"  cpu/req {run['gunicorn_cpu_ms']:.2f}+{run['postgres_cpu_ms']:.2f} ms"
                            f"  counts {'ok' if run['count_check']['ok'] else run['count_check']}",
                            flush=True,
                        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    rows = summarize(runs)
    print()
    print(
        f"gunicorn {args.workers} x {args.worker_class}"
        f"{f' ({args.threads} threads)' if args.worker_class == 'gthread' else ''},"
        f" {args.requests} requests per run, {args.rounds} rounds, {os.cpu_count()} CPUs,"
        f" {args.services} service{'s' if args.services > 1 else ''},"
        f" load average {loadavg_before[0]:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    print_table(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "loadavg_before": loadavg_before,
                    "loadavg_after": os.getloadavg(),
                },
                "config": {
                    "repo": str(args.repo),
                    "commit": _commit(args.repo),
                    "requests_per_run": args.requests,
                    "rounds": args.rounds,
                    "concurrency": args.concurrency,
                    "services": args.services,
                    "gunicorn": {
                        "workers": args.workers,
                        "worker_class": args.worker_class,
                        "threads": args.threads,
                    },
                    "client": "wrk, one connection per thread, bench/ingest.lua",
                },
                "summary": rows,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nraw figures: {args.output}")
    if not all(row["count_check_ok"] for row in rows):
        sys.exit("count check failed: see the runs in the JSON file")


if __name__ == "__main__":
    main()
