"""Scale-out proof: two gunicorn servers, one PostgreSQL, the same deliveries sent to both at once.

    .venv/bin/python bench/scaleout.py [--database-url postgres://postgres@127.0.0.1:5432/periscope_scaleout]

Creates a fresh database (dropped afterwards unless --keep), migrates it, issues a key, starts
two gunicorn servers on different ports, and sends every deployment id several times
(in_progress, success, and a repeat of success), spread over both servers, from many threads at
once. Then checks in the database that every deployment exists exactly once, in its final
state, that every acknowledged delivery is in the delivery log (each carries a unique nonce in
an ignored field), that no request failed, and that the rate-limit counter, shared by both
servers, counted every request. Prints a summary and writes bench/results/scaleout.json.
"""

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.live_servers import drop_database, gunicorn, prepare_database  # noqa: E402

RESULTS = REPO / "bench" / "results" / "scaleout.json"
URL = "/api/webhooks/deployments"


def deliveries(count: int) -> list[dict]:
    """Each id three times: in_progress, success, and success again (a retry)."""
    sends = []
    for n in range(count):
        base = {
            "deploymentId": f"scaleout-{n}",
            "commitSha": f"{n:012x}",
            "environment": "production",
            "startedAt": "2024-01-15T10:30:00Z",
            "service": f"service-{n % 7}",
        }
        sends.append({**base, "status": "in_progress"})
        for _ in range(2):
            sends.append({**base, "status": "success", "completedAt": "2024-01-15T10:35:00Z"})
    for i, payload in enumerate(sends):
        payload["deliveryNonce"] = f"nonce-{i}"  # unknown field: ignored, but kept in the log
    random.Random(42).shuffle(sends)
    return sends


def send_all(servers: list[str], key: str, sends: list[dict], concurrency: int) -> list[dict]:
    clients = [httpx.Client(base_url=base, timeout=30) for base in servers]
    headers = {"Authorization": f"Bearer {key}"}
    outcomes = []
    lock = threading.Lock()

    def send(index: int) -> None:
        payload = sends[index]
        server = index % len(servers)
        started = time.perf_counter()
        try:
            response = clients[server].post(URL, json=payload, headers=headers)
            outcome = {"status": response.status_code, "body": response.json()}
        except Exception as exc:  # a failed request is a result to report, not a crash
            outcome = {"status": None, "body": repr(exc)}
        outcome.update(
            nonce=payload["deliveryNonce"],
            id=payload["deploymentId"],
            server=server,
            seconds=time.perf_counter() - started,
        )
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, range(len(sends))))
    for client in clients:
        client.close()
    return outcomes


def database_state(database_url: str) -> dict:
    with psycopg.connect(database_url) as conn:
        deployments = conn.execute(
            "SELECT external_id, status FROM deployments_deployment"
        ).fetchall()
        logged = conn.execute("SELECT body, action FROM deployments_delivery").fetchall()
        counted = conn.execute(
            "SELECT COALESCE(SUM(count), 0) FROM periscope_ratelimitcounter WHERE key LIKE %s",
            ["ratelimit:ingest:%"],
        ).fetchone()[0]
    return {"deployments": deployments, "deliveries": logged, "rate_limit_count": counted}


def check(outcomes: list[dict], state: dict, ids: int) -> dict:
    ok = [o for o in outcomes if o["status"] in (200, 201)]
    failed = [o for o in outcomes if o["status"] not in (200, 201)]
    per_id = Counter(external_id for external_id, _ in state["deployments"])
    logged_nonces = Counter(json.loads(body)["deliveryNonce"] for body, _ in state["deliveries"])
    created = Counter(o["id"] for o in ok if o["body"].get("action") == "created")
    checks = {
        "no request failed": not failed,
        "every deployment exists exactly once": len(per_id) == ids and set(per_id.values()) == {1},
        "exactly one 'created' answer per deployment": len(created) == ids
        and set(created.values()) == {1},
        "every deployment ends in success": {s for _, s in state["deployments"]} == {"success"},
        "every acknowledged delivery is logged once": all(
            logged_nonces[o["nonce"]] == 1 for o in ok
        )
        and len(state["deliveries"]) == len(ok),
        "the shared rate-limit counter saw every request": state["rate_limit_count"]
        == len(outcomes),
    }
    return {"checks": checks, "failed": failed[:10]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SCALEOUT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/periscope_scaleout"
        ),
        help="a database to create from scratch (it is dropped first)",
    )
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    key = prepare_database(args.database_url, org="scaleout")
    sends = deliveries(args.deployments)
    # The database counter (the default), with a day-long window so one row holds the whole
    # run and a limit high enough not to bite.
    limits = {"PERISCOPE_RATE_LIMIT_INGEST": "1000000/day", "REDIS_URL": ""}
    try:
        with (
            gunicorn(args.database_url, workers=args.workers, **limits) as first,
            gunicorn(args.database_url, workers=args.workers, **limits) as second,
        ):
            started = time.perf_counter()
            outcomes = send_all([first, second], key, sends, args.concurrency)
            elapsed = time.perf_counter() - started
        state = database_state(args.database_url)
    finally:
        if not args.keep:
            drop_database(args.database_url)

    verdict = check(outcomes, state, args.deployments)
    latencies = sorted(o["seconds"] for o in outcomes)
    result = {
        "servers": 2,
        "workers_per_server": args.workers,
        "client_threads": args.concurrency,
        "deployments": args.deployments,
        "requests": len(outcomes),
        "requests_per_server": dict(Counter(str(o["server"]) for o in outcomes)),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(outcomes) / elapsed, 1),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "statuses": dict(Counter(str(o["status"]) for o in outcomes)),
        "delivery_log_actions": dict(Counter(action for _, action in state["deliveries"])),
        "deployments_stored": len(state["deployments"]),
        "deliveries_logged": len(state["deliveries"]),
        "checks": verdict["checks"],
        "failed_examples": verdict["failed"],
        "passed": all(verdict["checks"].values()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"2 servers x {args.workers} workers, {args.concurrency} client threads: "
        f"{len(outcomes)} deliveries of {args.deployments} deployments in {elapsed:.1f} s "
        f"({result['requests_per_second']} req/s, p50 {result['latency_ms_p50']} ms, "
        f"p99 {result['latency_ms_p99']} ms)"
    )
    print(f"statuses {result['statuses']}; delivery log {result['delivery_log_actions']}")
    for name, passed in verdict["checks"].items():
        print(f"  {'ok  ' if passed else 'FAIL'} {name}")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
