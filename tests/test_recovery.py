"""deployments/recovery.py: the stored next success of failed production deployments.

The invariant under test everywhere: a stored `recovered_at` is the next success (NULL is
allowed, a wrong value never), and the metrics are the same whatever is stored.
"""

import json
import random
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from deployments.models import FAILED_STATUSES, Deployment, Status
from deployments.recording import recovery
from deployments.recording.events import DeploymentEvent
from deployments.recording.importing import import_lines
from deployments.recording.recorder import record_deployment
from deployments.rollups.cells import next_success
from metrics import dora
from services.catalog import attach_suggestion, create_service, delete_service
from services.models import ServiceSuggestion
from tests.builders import assert_never_wrong, recovery_truth
from tests.factories import OrganizationFactory

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def at_minute(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(org, ext, status, minutes, *, service="api", environment="production"):
    completed = at_minute(minutes)
    event = DeploymentEvent(
        source="periscope",
        external_id=ext,
        environment=environment,
        status=status,
        service_name=service,
        commit_sha="abcdef1",
        started_at=completed - timedelta(minutes=1),
        completed_at=completed,
    )
    return record_deployment(organization=org, event=event, body="{}")


def stored(org, ext):
    return Deployment.objects.get(organization=org, external_id=ext).recovered_at


def assert_complete(org) -> None:
    expected = recovery_truth(org)
    values = dict(Deployment.objects.filter(pk__in=expected).values_list("pk", "recovered_at"))
    assert values == expected


def recovery_numbers(org):
    scope = dora.Window(organization_id=org.pk, start=at_minute(-10_000), end=at_minute(100_000))
    report = dora.dora_report(scope=scope, series=False)
    by_service = [
        (row.name, row.failed_deployment_recovery_time) for row in dora.dora_by_service(scope=scope)
    ]
    return report.summary.failed_deployment_recovery_time, by_service


def test_a_success_stores_itself_on_the_failures_before_it(org):
    record(org, "f1", "failure", 0)
    record(org, "f2", "rolled_back", 5)
    assert stored(org, "f1") is None  # a failure is stored without a lookup
    record(org, "s1", "success", 10)
    assert (stored(org, "f1"), stored(org, "f2")) == (at_minute(10), at_minute(10))
    record(org, "f3", "failure", 20)
    record(org, "s2", "success", 30)
    # A later success leaves earlier recoveries alone.
    assert (stored(org, "f1"), stored(org, "f3")) == (at_minute(10), at_minute(30))
    assert_complete(org)


def test_out_of_order_arrivals(org):
    # The recovery arrives first: the failure stays unknown until a backfill.
    record(org, "s1", "success", 10)
    record(org, "f1", "failure", 0)
    assert stored(org, "f1") is None
    # An earlier success arriving after a later one lowers the value.
    record(org, "f2", "failure", 20)
    record(org, "s3", "success", 40)
    assert stored(org, "f2") == at_minute(40)
    record(org, "s2", "success", 30)
    assert stored(org, "f2") == at_minute(30)
    # A success before a failure does not recover it, nor does one at the same instant.
    record(org, "f3", "failure", 50)
    record(org, "s-tie", "success", 50)
    record(org, "s-before", "success", 45)
    assert stored(org, "f3") is None
    assert_never_wrong(org)
    assert recovery.backfill_recovery(organization_id=org.pk) == 1
    assert stored(org, "f1") == at_minute(10)
    assert_complete(org)


def test_status_change_of_a_success_recomputes_what_it_recovered(org):
    record(org, "f1", "failure", 0)
    record(org, "s1", "success", 10)
    record(org, "s2", "success", 20)
    assert stored(org, "f1") == at_minute(10)
    record(org, "s1", "failure", 10)  # the same id, now failed
    assert stored(org, "f1") == at_minute(20)
    assert stored(org, "s1") is None  # a changed failure starts unknown
    assert_never_wrong(org)
    record(org, "s2", "failure", 20)
    assert stored(org, "f1") is None  # no success left
    assert_never_wrong(org)
    record(org, "s2", "success", 25)  # back to success, later
    assert (stored(org, "f1"), stored(org, "s1")) == (at_minute(25), at_minute(25))
    assert_complete(org)


def test_a_failure_moved_in_time_or_service_forgets_its_value(org):
    record(org, "f1", "failure", 0)
    record(org, "s1", "success", 10)
    record(org, "s2", "success", 30)
    record(org, "f1", "failure", 15)  # completed_at corrected
    assert stored(org, "f1") is None
    assert_never_wrong(org)
    record(org, "f2", "failure", 40)
    record(org, "s3", "success", 50)
    record(org, "f2", "rolled_back", 40)  # still failed, same place: value kept
    assert stored(org, "f2") == at_minute(50)
    record(org, "f2", "rolled_back", 40, service="web")
    assert stored(org, "f2") is None
    assert_never_wrong(org)


def test_only_production_is_stored_and_other_environments_cost_nothing(org):
    record(org, "f1", "failure", 0, environment="staging")
    record(org, "s1", "success", 10, environment="staging")
    assert stored(org, "f1") is None
    with CaptureQueriesContext(connection) as staging_success:
        record(org, "s2", "success", 20, environment="staging")
    with CaptureQueriesContext(connection) as production_success:
        record(org, "s3", "success", 30)
    with CaptureQueriesContext(connection) as staging_failure:
        record(org, "f2", "failure", 40, environment="staging")
    with CaptureQueriesContext(connection) as production_failure:
        record(org, "f3", "failure", 50)

    # One round trip (lock and UPDATE) for a production success, none for anything else.
    def ours(captured):
        return [q["sql"] for q in captured if "SET recovered_at" in (q["sql"] or "")]

    assert len(ours(production_success)) == 1
    assert ours(staging_success) == ours(staging_failure) == ours(production_failure) == []
    assert len(production_failure) == len(staging_failure)
    # Staging metrics still find the staging recovery (by lookup).
    scope = dora.Window(
        organization_id=org.pk, start=at_minute(-10), end=at_minute(100), environment="staging"
    )
    rec = dora.dora_report(scope=scope, series=False).summary.failed_deployment_recovery_time
    assert (rec.recovered, rec.median_seconds) == (1, 600.0)


def test_unmatched_names_pair_by_name_and_accepting_a_suggestion_regroups(org, other_org):
    api = create_service(organization=org, name="api")
    record(org, "a-f1", "failure", 0, service="api")
    record(org, "x-f1", "failure", 5, service="api-legacy")
    record(org, "x-s1", "success", 20, service="api-legacy")
    record(org, "a-s1", "success", 10, service="api")
    record(org, "x-f2", "failure", 30, service="api-legacy")
    record(org, "a-s2", "success", 40, service="api")
    # The same names in another organization.
    record(other_org, "x-f1", "failure", 5, service="api-legacy")
    record(other_org, "x-s1", "success", 20, service="api-legacy")
    assert (stored(org, "x-f1"), stored(org, "a-f1")) == (at_minute(20), at_minute(10))
    assert stored(org, "x-f2") is None  # api-legacy has no success after it yet
    before_other = stored(other_org, "x-f1")
    suggestion = ServiceSuggestion.objects.get(organization=org, key="api-legacy")
    attach_suggestion(suggestion=suggestion, service=api)
    # One group now: x-f1 recovers at api's success at 10, x-f2 at 40.
    assert (stored(org, "x-f1"), stored(org, "x-f2")) == (at_minute(10), at_minute(40))
    assert_complete(org)
    assert stored(other_org, "x-f1") == before_other == at_minute(20)
    # Deleting the service sends its deployments back to their names.
    delete_service(service=api)
    assert (stored(org, "x-f1"), stored(org, "a-f1"), stored(org, "x-f2")) == (
        at_minute(20),
        at_minute(10),
        None,
    )
    assert_complete(org)
    assert_complete(other_org)


def test_import_recomputes_what_its_bulk_inserts_change(org):
    record(org, "f1", "failure", 0)
    record(org, "s2", "success", 30)
    assert stored(org, "f1") == at_minute(30)
    line = (
        '{"deploymentId": "s1", "commitSha": "abcdef1", "environment": "production", '
        '"status": "success", "service": "api", "startedAt": "2025-03-01T00:09:00Z", '
        '"completedAt": "2025-03-01T00:10:00Z"}'
    )
    failure = line.replace('"s1"', '"f0"').replace('"success"', '"failure"')
    failure = failure.replace("00:10:00Z", "00:05:00Z").replace("00:09:00Z", "00:04:00Z")
    report = import_lines(organization=org, fmt="periscope", lines=[line, failure])
    assert report.stored == 2
    assert (stored(org, "f1"), stored(org, "f0")) == (at_minute(10), at_minute(10))
    assert_complete(org)


def import_line(ext, status, minutes, *, service="api", environment="production") -> str:
    completed = at_minute(minutes)
    return json.dumps(
        {
            "deploymentId": ext,
            "commitSha": "abcdef1",
            "environment": environment,
            "status": status,
            "service": service,
            "startedAt": (completed - timedelta(minutes=1)).isoformat(),
            "completedAt": completed.isoformat(),
        }
    )


@pytest.mark.parametrize(
    ("seed", "batch_size", "shuffled"),
    [(1, 1, False), (2, 7, False), (3, 7, True), (4, 40, True), (5, 1000, True)],
)
def test_an_import_stores_exact_recovery_times_among_stored_history(
    org, other_org, seed, batch_size, shuffled
):
    """Imported failures get their next success in their own rows, from the lines of their
    batch and what is stored; stored failures an imported success now precedes are lowered.
    Any file order, any batch size, interleaved in time with webhook history."""
    rng = random.Random(seed)
    create_service(organization=org, name="api")
    create_service(organization=org, name="worker")
    for ext, status, minutes, name, environment in _random_history(org, rng, 60):
        record(org, f"hook-{ext}", status, minutes, service=name, environment=environment)
    # A failure recorded after its success is unknown until a backfill (not the import's).
    recovery.backfill_recovery(organization_id=org.pk)
    assert_complete(org)
    record(other_org, "o-f", "failure", 1)
    record(other_org, "o-s", "success", 700)
    history = _random_history(org, rng, 150)
    if not shuffled:
        history.sort(key=lambda event: event[2])
    lines = [
        import_line(ext, status, minutes, service=name, environment=environment)
        for ext, status, minutes, name, environment in history
    ]
    report = import_lines(organization=org, fmt="periscope", lines=lines, batch_size=batch_size)
    assert report.created == 150
    assert assert_never_wrong(org) > 40
    assert_complete(org)
    assert stored(other_org, "o-f") == at_minute(700)


def test_an_imported_failure_is_written_once(org, monkeypatch):
    """A failure whose next success is in its batch is stored with it; one whose next success
    comes in a later batch is written again then, once: no other row is updated."""
    written = []
    finish = recovery.finish_bulk_insert

    def spy(*, organization_id, recovery):
        written.extend(pk for pk, *_ in recovery.stored)
        finish(organization_id=organization_id, recovery=recovery)

    monkeypatch.setattr(recovery, "finish_bulk_insert", spy)
    statuses = ["failure", "success", "failure", "failure", "success", "rolled_back"]
    lines = [import_line(f"d{n}", status, n) for n, status in enumerate(statuses)]
    with CaptureQueriesContext(connection) as captured:
        import_lines(organization=org, fmt="periscope", lines=lines, batch_size=4)
    # d2 and d3 (batch 1) are recovered by d4 (batch 2); d0 in its own batch, d5 never.
    ids = dict(Deployment.objects.filter(organization=org).values_list("external_id", "pk"))
    assert sorted(written) == [ids["d2"], ids["d3"]]
    assert [stored(org, f"d{n}") for n in (0, 2, 3, 5)] == [
        at_minute(1),
        at_minute(4),
        at_minute(4),
        None,
    ]
    assert_complete(org)
    # One statement (executemany of the two rows) updated anything.
    updates = [q["sql"] for q in captured if re.search(r"\bUPDATE\s", q["sql"])]
    assert len(updates) == 1 and "SET recovered_at" in updates[0]


def test_deleting_a_success_recomputes_what_it_recovered(org):
    record(org, "f1", "failure", 0)
    record(org, "s1", "success", 10)
    record(org, "s2", "success", 20)
    doomed = Deployment.objects.filter(organization=org, external_id="s1")
    recovery.before_delete(
        organization_id=org.pk, deployment_ids=doomed.values_list("pk", flat=True)
    )
    doomed.delete()
    assert stored(org, "f1") == at_minute(20)


def _random_history(org, rng: random.Random, count: int) -> list[tuple]:
    names = ["api", "web", "worker", "legacy-a", "legacy-b"]
    events = []
    for n in range(count):
        roll = rng.random()
        status = "failure" if roll < 0.3 else "rolled_back" if roll < 0.4 else "success"
        if roll > 0.95:
            status = "cancelled"
        minutes = rng.randint(0, 600)  # ties on purpose
        environment = "production" if rng.random() < 0.85 else "staging"
        events.append((f"d{n}", status, minutes, rng.choice(names), environment))
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_are_the_same_stored_unknown_or_mixed(org, other_org, seed):
    rng = random.Random(seed)
    create_service(organization=org, name="api")
    create_service(organization=org, name="web")
    for ext, status, minutes, name, environment in _random_history(org, rng, 120):
        record(org, ext, status, minutes, service=name, environment=environment)
        if rng.random() < 0.15:  # some deliveries repeat with another status or time
            record(org, ext, rng.choice(["success", "failure"]), minutes + rng.randint(-5, 5),
                   service=name, environment=environment)  # fmt: skip
    for ext, status, minutes, name, environment in _random_history(other_org, rng, 30):
        record(other_org, ext, status, minutes, service=name, environment=environment)
    assert assert_never_wrong(org) > 10
    as_recorded = recovery_numbers(org)
    recovery.backfill_recovery(organization_id=org.pk)
    assert_complete(org)
    assert recovery_numbers(org) == as_recorded
    failures = Deployment.objects.filter(organization=org, recovered_at__isnull=False)
    ids = sorted(failures.values_list("pk", flat=True))
    Deployment.objects.filter(pk__in=ids[::2]).update(recovered_at=None)
    assert recovery_numbers(org) == as_recorded
    Deployment.objects.filter(organization=org).update(recovered_at=None)
    assert recovery_numbers(org) == as_recorded
    # Recompute fixes even a wrong value (what a bulk insert could leave).
    recovery.backfill_recovery(organization_id=org.pk)
    Deployment.objects.filter(pk=ids[0]).update(recovered_at=at_minute(99_999))
    recovery.backfill_recovery(organization_id=org.pk, recompute=True)
    assert_complete(org)
    assert_never_wrong(other_org)


def test_backfill_command(org, other_org):
    from io import StringIO

    from django.core.management import call_command

    record(org, "s1", "success", 10)
    record(org, "f1", "failure", 0)
    out = StringIO()
    call_command("backfill_recovery", "--org", "acme", stdout=out)
    assert "acme: 1 failed deployment(s) updated" in out.getvalue()
    assert stored(org, "f1") == at_minute(10)


@pytest.mark.postgres
def test_stored_values_skip_the_lookup(org):
    """EXPLAIN ANALYZE: the next-success subquery runs only for failures without a value."""
    for n in range(6):
        record(org, f"f{n}", "failure", n * 10)
        if n % 2:
            record(org, f"s{n}", "success", n * 10 + 5)
    record(org, "f-open", "failure", 100)
    record(org, "f-late", "failure", 12)  # after its recovery (15): unknown, looked up
    scope = dora.Window(organization_id=org.pk, start=at_minute(-10), end=at_minute(200))
    failed = dora.deployments_in(scope).filter(status__in=FAILED_STATUSES)
    query = failed.annotate(recovered=next_success()).values("recovered")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]

    def subplan_loops(node) -> list[int]:
        found = [node["Actual Loops"]] if node.get("Subplan Name") else []
        for child in node.get("Plans", []):
            found += subplan_loops(child)
        return found

    unknown = failed.filter(recovered_at__isnull=True).count()
    assert failed.count() == 8 and unknown == 2  # f-open and f-late
    # The CASE picks one of two subplans per row; together they run once per unknown row.
    assert sum(subplan_loops(plan[0]["Plan"])) == unknown


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_and_successes_never_store_a_wrong_value():
    org = OrganizationFactory(slug="race-recovery")
    try:
        for round_ in range(3):
            rng = random.Random(round_)
            events = [
                (
                    f"r{round_}-{n}",
                    rng.choice(["failure", "success", "failure"]),
                    rng.randint(0, 50),
                )
                for n in range(40)
            ]
            chunks = [events[n::8] for n in range(8)]
            barrier = threading.Barrier(len(chunks))

            def work(chunk, barrier=barrier, offset=round_ * 100):
                try:
                    barrier.wait()
                    for ext, status, minutes in chunk:
                        record(org, ext, status, offset + minutes)
                finally:
                    connections.close_all()

            threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert Deployment.objects.filter(organization=org).count() == 40 * (round_ + 1)
            assert_never_wrong(org)
        recovery.backfill_recovery(organization_id=org.pk)
        assert_complete(org)
    finally:
        Deployment.objects.filter(organization=org).delete()
        org.delete()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_concurrent_with_webhooks_never_stores_a_wrong_value():
    org = OrganizationFactory(slug="race-import")
    try:
        rng = random.Random(11)
        imported = [
            import_line(f"i{n}", rng.choice(["failure", "success", "failure"]), rng.randint(0, 60))
            for n in range(120)
        ]
        hooks = [
            (f"h{n}", rng.choice(["failure", "success", "failure"]), rng.randint(0, 60))
            for n in range(60)
        ]
        barrier = threading.Barrier(4)

        def run_import():
            try:
                barrier.wait()
                import_lines(organization=org, fmt="periscope", lines=imported, batch_size=8)
            finally:
                connections.close_all()

        def run_hooks(chunk):
            try:
                barrier.wait()
                for ext, status, minutes in chunk:
                    record(org, ext, status, minutes)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run_import)]
        threads += [threading.Thread(target=run_hooks, args=(hooks[n::3],)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Deployment.objects.filter(organization=org).count() == 180
        assert assert_never_wrong(org) > 20
    finally:
        Deployment.objects.filter(organization=org).delete()
        org.delete()


def test_admin_edits_and_deletes_keep_stored_values_exact(admin_client, org):
    from django.contrib import admin as django_admin

    from tests.admin_helpers import run_action

    record(org, "f1", "failure", 0)
    record(org, "s1", "success", 10)
    record(org, "s2", "success", 20)
    assert stored(org, "f1") == at_minute(10)
    model_admin = django_admin.site._registry[Deployment]
    s1 = Deployment.objects.get(organization=org, external_id="s1")
    s1.status = Status.CANCELLED  # edited in the admin's form
    model_admin.save_model(None, s1, None, change=True)
    assert stored(org, "f1") == at_minute(20)
    s2 = Deployment.objects.get(organization=org, external_id="s2")
    response = run_action(
        admin_client, "/admin/deployments/deployment/", "delete_selected", [s2.pk], post="yes"
    )
    assert response.status_code == 200
    assert not Deployment.objects.filter(pk=s2.pk).exists()
    assert stored(org, "f1") is None
    added = Deployment(
        organization=org,
        external_id="s3",
        environment="production",
        status=Status.SUCCESS,
        service_id=None,
        service_key="api",
        completed_at=at_minute(30),
    )
    model_admin.save_model(None, added, None, change=False)
    assert stored(org, "f1") == at_minute(30)
    assert_complete(org)


@pytest.mark.postgres
def test_a_batch_takes_its_services_recovery_locks_first_in_one_sorted_statement(api, org, key):
    """Taken one by one in event order, two batches naming two services in opposite orders
    could deadlock; a batch takes every lock it will need before its first insert."""
    batch = {
        "events": [
            {
                "type": "event-deploy",
                "entityId": name,
                "attributes": {"env": "production", "status": "success", "build_id": f"b-{name}"},
            }
            for name in ("zeta", "alpha", "staging-only")
        ]
    }
    batch["events"][2]["attributes"]["env"] = "staging"
    with CaptureQueriesContext(connection) as captured:
        response = api.post(
            "/events", data=json.dumps(batch), content_type="application/json", HTTP_X_API_KEY=key
        )
    assert response.status_code == 201, response.content
    statements = [q["sql"] or "" for q in captured]
    first_insert = next(i for i, sql in enumerate(statements) if 'INSERT INTO "deployments_' in sql)
    locks = [sql for sql in statements[:first_insert] if "pg_advisory_xact_lock" in sql]
    # One statement, over unnest(...) in sorted order: the two production services only.
    assert len(locks) == 1 and "unnest" in locks[0]
