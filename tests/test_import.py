"""manage.py import_deployments: JSON Lines history through the webhook adapters, in batches."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from deployments.models import Delivery, Deployment
from deployments.recording.recorder import MUTABLE_FIELDS
from services.models import ServiceSuggestion
from tests.factories import DeploymentFactory, make_service
from tests.payloads import devgrid as devgrid_seed
from tests.payloads import hivel as hivel_seed
from tests.payloads import opslevel as opslevel_seed
from tests.payloads import periscope as periscope_seed
from tests.webhooks import post_webhook

SEEDS = {
    "periscope": [
        periscope_seed.SEED_MINIMAL | {"deploymentId": "a"},
        periscope_seed.SEED_FULL,
        periscope_seed.SEED_STAGING_IN_PROGRESS,
        periscope_seed.SEED_FAILURE,
    ],
    "devgrid": [
        devgrid_seed.batch(devgrid_seed.RECOMMENDED_FIELDS),
        devgrid_seed.batch(devgrid_seed.WORKFLOW_4_FAILED, devgrid_seed.WORKFLOW_6_HOTFIX),
        devgrid_seed.REQUIRED_FIELDS,  # one event alone on a line
        json.loads(devgrid_seed.WORKFLOW_7_CURL_BODY),
    ],
    "hivel": [
        hivel_seed.SEED,
        hivel_seed.SEED | {"deployment_id": "2", "start_time": 1700385632, "end_time": 1700385700},
    ],
    "opslevel": [
        opslevel_seed.SEED,
        opslevel_seed.SEED | {"dedup_id": "2", "status": "failure"},
        {k: v for k, v in opslevel_seed.SEED.items() if k != "dedup_id"},
        json.loads(opslevel_seed.CLI_BODY),
    ],
}
DEPLOYMENTS_PER_FORMAT = {"periscope": 4, "devgrid": 5, "hivel": 2, "opslevel": 4}


def write_lines(tmp_path, payloads, name="history.jsonl"):
    path = tmp_path / name
    path.write_text(
        "".join((p if isinstance(p, str) else json.dumps(p)) + "\n" for p in payloads),
        encoding="utf-8",
    )
    return path


def run(path, org="acme", fmt="periscope", **options):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_deployments", str(path), org=org, format=fmt, stdout=out, stderr=err, **options
    )
    return out.getvalue(), err.getvalue()


def snapshot(organization):
    return {
        (d.source, d.external_id): tuple(getattr(d, name) for name in MUTABLE_FIELDS)
        for d in Deployment.objects.filter(organization=organization)
    }


@pytest.mark.parametrize("fmt", list(SEEDS))
def test_seed_payloads_import(tmp_path, org, fmt):
    out, err = run(write_lines(tmp_path, SEEDS[fmt]), fmt=fmt)
    count = DEPLOYMENTS_PER_FORMAT[fmt]
    assert Deployment.objects.filter(organization=org, source=fmt).count() == count
    assert f"{count} created" in out
    assert err == ""
    assert Delivery.objects.filter(organization=org, source=fmt, action="created").count() == count


@pytest.mark.parametrize("fmt", list(SEEDS))
def test_re_running_an_import_changes_nothing(tmp_path, org, fmt):
    path = write_lines(tmp_path, SEEDS[fmt])
    run(path, fmt=fmt)
    before = snapshot(org)
    out, _ = run(path, fmt=fmt)
    assert snapshot(org) == before
    count = DEPLOYMENTS_PER_FORMAT[fmt]
    assert f"0 created, 0 updated, {count} unchanged" in out
    # Every delivery is logged: the second run's lines as duplicates.
    assert Delivery.objects.filter(organization=org, action="duplicate").count() == count


@pytest.mark.parametrize("fmt", list(SEEDS))
def test_import_stores_what_the_webhook_stores(tmp_path, api, org, other_org, other_key, fmt):
    payload = SEEDS[fmt][0]
    run(write_lines(tmp_path, [payload]), fmt=fmt)
    assert post_webhook(api, fmt, payload, key=other_key).status_code < 300
    imported = Deployment.objects.get(organization=org)
    posted = Deployment.objects.get(organization=other_org)
    for name in MUTABLE_FIELDS:
        if name != "completed_at" or fmt != "devgrid":  # DevGrid without timestamp: time received
            assert getattr(imported, name) == getattr(posted, name), name


def test_an_import_after_the_webhook_is_the_same_deployment(tmp_path, api, org, key):
    post_webhook(api, "hivel", hivel_seed.SEED, key=key)
    run(write_lines(tmp_path, [hivel_seed.SEED]), fmt="hivel")
    d = Deployment.objects.get(organization=org)
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "duplicate"]


def test_invalid_lines_are_reported_with_their_numbers_and_skipped(tmp_path, org):
    lines = [
        periscope_seed.SEED_MINIMAL | {"deploymentId": "one"},
        "not json",
        periscope_seed.SEED_MINIMAL | {"deploymentId": "two", "commitSha": "xyz"},
        "",
        "[1, 2]",
        periscope_seed.SEED_MINIMAL | {"deploymentId": "three"},
        periscope_seed.SEED_MINIMAL | {"deploymentId": "four", "branch": "a\u0000b"},
    ]
    out, err = run(write_lines(tmp_path, lines))
    assert sorted(Deployment.objects.values_list("external_id", flat=True)) == ["one", "three"]
    reported = err.strip().splitlines()
    assert reported[0].startswith("line 2: ")
    assert reported[1].startswith("line 3: ") and "commitSha" in reported[1]
    assert reported[2].startswith("line 5: ")
    assert (
        reported[3] == "line 7: branch contains a NUL character (\\u0000), which cannot be stored"
    )
    assert len(reported) == 4
    assert "7 lines: 2 created" in out and "4 invalid" in out


def test_values_the_databases_cannot_store_are_invalid_lines_and_the_batch_goes_on(tmp_path, org):
    """A lone surrogate used to abort the import with a traceback, losing its batch's valid
    lines; 1e400 (inf) failed on PostgreSQL. Each is now one invalid line, named."""
    seed = periscope_seed.SEED_MINIMAL
    lines = [
        seed | {"deploymentId": "one"},
        json.dumps(seed | {"deploymentId": "two", "service": "pay\ud800"}),
        seed | {"deploymentId": "three"},
        json.dumps(seed | {"deploymentId": "four"})[:-1] + ', "rawPayload": {"n": 1e400}}',
        json.dumps(seed | {"deploymentId": "five", "branch": "\udc80"}),
        seed | {"deploymentId": "six"},
    ]
    out, err = run(write_lines(tmp_path, lines), fmt="periscope", batch_size=10)
    assert sorted(Deployment.objects.values_list("external_id", flat=True)) == [
        "one",
        "six",
        "three",
    ]
    assert err.strip().splitlines() == [
        "line 2: service contains a lone surrogate (\\ud800), which is not valid Unicode",
        "line 4: rawPayload.n is 1e400, a number beyond the range of a double (±1.8e308)",
        "line 5: branch contains a lone surrogate (\\udc80), which is not valid Unicode",
    ]
    assert "6 lines: 3 created" in out and "3 invalid" in out


def test_a_line_that_is_not_utf8_is_reported(tmp_path, org):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(periscope_seed.SEED_MINIMAL).encode()
    path.write_bytes(good.replace(b"production", b"produc\xe9") + b"\n" + good + b"\n")
    _, err = run(path, no_progress=True)
    assert err.strip() == "line 1: line is not valid UTF-8"
    assert Deployment.objects.count() == 1


def test_an_invalid_devgrid_event_rejects_its_whole_line(tmp_path, org):
    bad = devgrid_seed.batch(
        devgrid_seed.WORKFLOW_4_FAILED, {**devgrid_seed.REQUIRED_FIELDS, "type": "event-other"}
    )
    _, err = run(write_lines(tmp_path, [bad, devgrid_seed.REQUIRED_FIELDS]), fmt="devgrid")
    assert err.startswith("line 1: events[1].type")
    assert Deployment.objects.count() == 1


def test_stdin(monkeypatch, org):
    lines = "\n".join(json.dumps(p) for p in SEEDS["hivel"]) + "\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    out, _ = run("-", fmt="hivel")
    assert Deployment.objects.filter(organization=org).count() == 2
    assert "2 created" in out


def test_a_changed_line_updates_through_the_recording_rules(tmp_path, org):
    path = write_lines(tmp_path, [periscope_seed.SEED_FAILURE])
    run(path)
    run(write_lines(tmp_path, [periscope_seed.SEED_FAILURE | {"status": "rolled_back"}], "b"))
    run(write_lines(tmp_path, [periscope_seed.SEED_FAILURE | {"status": "in_progress"}], "c"))
    d = Deployment.objects.get()
    assert d.status == "rolled_back"
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "updated", "stale"]


def test_a_repeat_within_one_file_is_one_deployment(tmp_path, org):
    first = periscope_seed.SEED_MINIMAL
    lines = [first, first | {"status": "failure"}, first]
    out, _ = run(write_lines(tmp_path, lines))
    d = Deployment.objects.get()
    assert d.status == "success"
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "updated", "updated"]
    assert "1 created, 2 updated" in out


def test_a_minimal_repeat_line_keeps_what_the_first_line_said(tmp_path, org, other_org):
    make_service(org, "checkout")
    full = periscope_seed.SEED_MINIMAL | {
        "status": "in_progress",
        "completedAt": None,
        "service": "checkout",
        "branch": "main",
        "metadata": {"a": "1"},
    }
    minimal = {k: v for k, v in periscope_seed.SEED_MINIMAL.items() if k != "service"}
    # Within one file, then again in a second import.
    out, _ = run(write_lines(tmp_path, [full, minimal | {"metadata": {"b": "2"}}]))
    run(write_lines(tmp_path, [minimal], "again.jsonl"))
    d = Deployment.objects.get(organization=org)
    assert (d.status, d.service_name, d.branch) == ("success", "checkout", "main")
    assert d.service is not None and d.metadata == {"a": "1", "b": "2"}
    assert list(d.deliveries.values_list("action", flat=True)) == [
        "created",
        "updated",
        "duplicate",
    ]


def test_a_stored_key_after_new_batches_is_found_when_its_copy_conflicts(org, monkeypatch):
    """Batches after one with nothing stored skip the probe for stored keys; a key stored
    meanwhile (here by a webhook, before its line is reached) makes the COPY conflict, and
    the batch is probed and written as usual: nothing lost, nothing twice."""
    from deployments.recording.importing import import_lines

    lines = [periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"} for n in range(6)]
    stored = lines[4]
    report = import_lines(
        organization=org, fmt="periscope", lines=[json.dumps(stored)], batch_size=3
    )
    assert report.created == 1

    def per_row(**kwargs):
        raise AssertionError("the batch should be probed, not recorded line by line")

    monkeypatch.setattr("deployments.recording.importing.recording.record_deployment", per_row)
    report = import_lines(
        organization=org, fmt="periscope", lines=[json.dumps(p) for p in lines], batch_size=3
    )
    assert (report.created, report.duplicate) == (5, 1)
    assert Deployment.objects.filter(organization=org).count() == 6
    d4 = Deployment.objects.get(organization=org, external_id="d-4")
    assert list(d4.deliveries.values_list("action", flat=True)) == ["created", "duplicate"]
    assert Delivery.objects.filter(organization=org).count() == 7


def test_opslevel_dedup_id_keeps_the_first_on_import(tmp_path, org):
    seed = opslevel_seed.SEED
    run(write_lines(tmp_path, [seed, seed | {"description": "second"}]), fmt="opslevel")
    assert Deployment.objects.get().description == seed["description"]


def test_writes_in_batches_not_per_line(tmp_path, org, django_assert_max_num_queries):
    lines = [periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"} for n in range(300)]
    path = write_lines(tmp_path, lines)
    # About 20 per batch of 100, ~7 of them refreshing the metrics rollups of the batch.
    with django_assert_max_num_queries(65):
        run(path, batch_size=100)
    assert Deployment.objects.count() == 300


def test_services_are_matched_and_unknown_names_suggested(tmp_path, org, other_org):
    service = make_service(org, "api-gateway")
    make_service(other_org, "payment-service")
    run(write_lines(tmp_path, [periscope_seed.SEED_FULL, periscope_seed.SEED_FAILURE]))
    by_id = {d.external_id: d for d in Deployment.objects.filter(organization=org)}
    assert by_id["azure-devops-run-12345"].service == service
    assert by_id["jenkins-build-99999"].service is None  # the other org's service never matches
    assert ServiceSuggestion.objects.get(organization=org).name == "payment-service"
    assert not Deployment.objects.filter(organization=other_org).exists()


def test_environments_are_normalized(tmp_path, org):
    lines = [
        periscope_seed.SEED_MINIMAL | {"deploymentId": "1", "environment": "Production"},
        periscope_seed.SEED_MINIMAL | {"deploymentId": "2", "environment": "prod"},
    ]
    run(write_lines(tmp_path, lines))
    assert {(d.environment, d.environment_raw) for d in Deployment.objects.all()} == {
        ("production", "Production"),
        ("production", "prod"),
    }


def test_writers_option(tmp_path, org):
    lines = [periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"} for n in range(3)]
    # Inside the test's transaction one writer, whatever is asked: a second connection
    # could not see the organization.
    out, _ = run(write_lines(tmp_path, lines), writers=2)
    assert "3 created" in out
    with pytest.raises(CommandError, match="--writers"):
        run(write_lines(tmp_path, lines), writers=0)


def test_unknown_organization_is_an_error(tmp_path, org):
    with pytest.raises(CommandError, match="nope"):
        run(write_lines(tmp_path, SEEDS["hivel"]), org="nope", fmt="hivel")


def test_missing_file_is_an_error(tmp_path, org):
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "absent.jsonl")


def test_imported_history_is_linked_to_the_changes_it_shipped(tmp_path, org, other_org):
    """Linking runs after the batched writes: each deployment ships what git log prev..C says."""
    from deployments.models import DeploymentCommit
    from tests.builders import LINEAR, graph, sha

    graph(org, LINEAR, times={"a": 0, "b": 1, "c": 2, "d": 3, "e": 4})
    make_service(org, "shop", repository_url="https://github.com/acme/shop")

    def line(ident, commit, hour):
        return {
            "deploymentId": ident,
            "commitSha": sha(commit),
            "environment": "production",
            "status": "success",
            "startedAt": f"2026-01-01T{hour:02d}:00:00Z",
            "completedAt": f"2026-01-01T{hour:02d}:30:00Z",
            "service": "shop",
        }

    # Lines out of order: the link pass goes by completion time, not file order.
    run(write_lines(tmp_path, [line("second", "e", 6), line("first", "c", 5)]), batch_size=1)
    shipped = {
        ident: set(
            DeploymentCommit.objects.filter(deployment__external_id=ident).values_list(
                "sha", flat=True
            )
        )
        for ident in ("first", "second")
    }
    assert shipped["first"] == {sha("a"), sha("b"), sha("c")}
    assert shipped["second"] == {sha("d"), sha("e")}
    assert not DeploymentCommit.objects.filter(organization=other_org).exists()


# --- How the importer writes: parsing thread, JSON reader, statistics, raw reads --------


def test_a_line_orjson_refuses_gets_the_webhook_parsers_verdict(tmp_path, org):
    huge = 2**70 + 1  # json (and jsonb) keep it exact; orjson would read a float
    big = periscope_seed.SEED_MINIMAL | {"deploymentId": "big", "metadata": {"n": huge}}
    nan = '{"deploymentId": "nan", "metadata": {"n": NaN}}'
    path = write_lines(tmp_path, [big, nan])
    out, err = run(path)
    assert Deployment.objects.get(external_id="big").metadata == {"n": huge}
    assert err.strip() == "line 2: metadata.n is NaN, which is not a JSON number"
    out, _ = run(path)  # a re-import reads the stored value back equal
    assert "0 created, 0 updated, 1 unchanged" in out


def test_only_runs_of_twenty_digits_count_as_long_numbers():
    from deployments.recording.bulk_insert import has_long_number

    assert has_long_number(b'{"n": 12345678901234567890}')
    assert has_long_number(b'{"n": -123456789012345678901}')
    assert not has_long_number(b'{"n": 1234567890123456789, "m": 1234567890123456789}')
    assert not has_long_number(b'{"n": 1234567890.1234567890}')
    assert not has_long_number('{"n": "\u0661\u0662"}'.encode())


def test_stored_values_reads_what_the_orm_reads(org):
    from deployments.recording.bulk_insert import stored_values

    first = DeploymentFactory(
        organization=org, external_id="one", metadata={"run": 7, "tag": "x"}, raw_payload={"a": [1]}
    )
    second = DeploymentFactory(organization=org, external_id="two", metadata={}, raw_payload=None)
    ids = [first.pk, second.pk]
    expected = list(
        Deployment.objects.filter(pk__in=ids).values("id", "external_id", *MUTABLE_FIELDS)
    )
    assert sorted(stored_values(ids, MUTABLE_FIELDS), key=lambda r: r["id"]) == sorted(
        expected, key=lambda r: r["id"]
    )


def test_existing_ids_finds_only_this_organizations_stored_ids(org, other_org):
    from deployments.recording.bulk_insert import existing_ids

    mine = DeploymentFactory(organization=org, external_id="shared-id")
    DeploymentFactory(organization=other_org, external_id="shared-id")
    DeploymentFactory(organization=other_org, external_id="theirs")
    found = existing_ids(
        organization_id=org.pk, source="periscope", external_ids=["shared-id", "theirs", "none"]
    )
    assert found == {"shared-id": mine.pk}


def test_an_error_while_writing_stops_the_reading_thread(tmp_path, org, monkeypatch):
    import threading

    from deployments.recording import importing

    def fail(self, batch):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing.Importer, "store", fail)
    lines = [periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"} for n in range(50)]
    with pytest.raises(RuntimeError, match="disk full"):
        run(write_lines(tmp_path, lines), batch_size=5)
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]


def test_an_error_while_reading_reaches_the_caller(org):
    from deployments.recording.importing import import_lines

    def lines():
        yield json.dumps(periscope_seed.SEED_MINIMAL)
        raise OSError("read error")

    with pytest.raises(OSError, match="read error"):
        import_lines(organization=org, fmt="periscope", lines=lines(), batch_size=1)
    assert Deployment.objects.count() == 1  # the batch read before the error


def test_lines_are_parsed_ahead_while_the_caller_writes(org):
    """The reading thread parses the next batch while a batch is written; the order of
    batches and their lines is the file's."""
    from deployments.recording.importing import Importer, _read_ahead

    importer = Importer(organization=org, fmt="periscope", batch_size=2)
    lines = [json.dumps(periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"}) for n in range(5)]
    batches = [
        [item.line for item in batch] for batch in _read_ahead(importer, lines, None, size=2)
    ]
    assert batches == [[1, 2], [3, 4], [5]]


def test_statistics_follow_the_import_as_it_doubles_the_table(tmp_path, org, is_postgres):
    if not is_postgres:
        pytest.skip("PostgreSQL's planner statistics")
    from deployments.recording.bulk_insert import planned_rows

    lines = [periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"} for n in range(350)]
    run(write_lines(tmp_path, lines), batch_size=50)
    # ANALYZEd at 50, 100 and 200 created (each a doubling), not after every batch.
    assert planned_rows() == 200


def test_batches_commit_without_waiting_for_the_wal_flush(tmp_path, org, monkeypatch, is_postgres):
    if not is_postgres:
        pytest.skip("a PostgreSQL setting")
    from django.db import connection

    from deployments.recording import importing

    seen = []
    store = importing.Importer._store

    def spy(self, batch):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])
        store(self, batch)

    monkeypatch.setattr(importing.Importer, "_store", spy)
    lines = [periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"} for n in range(4)]
    run(write_lines(tmp_path, lines), batch_size=2)
    assert seen == ["off", "off"]


# --- Two writers (PostgreSQL outside a transaction) ------------------------------------------


def test_a_chunk_is_split_by_group_and_each_id_stays_with_its_first_line(org):
    from deployments.recording.importing import Importer, split_batch

    importer = Importer(organization=org, fmt="periscope")
    names = [f"svc-{n % 5}" for n in range(40)]
    payloads = [
        periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n % 30}", "service": name}
        for n, name in enumerate(names)
    ]
    items = [item for n, p in enumerate(payloads, 1) for item in importer.parse(n, json.dumps(p))]
    parts = split_batch(items, parts=2)
    assert sorted(item.line for part in parts for item in part) == list(range(1, 41))
    part_of_line = {item.line: n for n, part in enumerate(parts) for item in part}
    for part in parts:  # the file's order within each writer
        assert [item.line for item in part] == sorted(item.line for item in part)
    for n in range(30, 40):  # a repeated id goes where its first line went, whatever its group
        assert part_of_line[n + 1] == part_of_line[n - 30 + 1]
    for n in range(30):  # first lines: one writer per group
        same_group = [m for m in range(30) if names[m] == names[n]]
        assert {part_of_line[m + 1] for m in same_group} == {part_of_line[n + 1]}


def test_a_batch_aborted_by_a_deadlock_is_written_once_more(org, monkeypatch):
    from django.db import OperationalError
    from psycopg.errors import DeadlockDetected

    from deployments.recording import importing

    store = importing.Importer._store
    failures = []

    def deadlocked_once(self, batch):
        store(self, batch)  # written, then rolled back with the transaction
        if not failures:
            failures.append(1)
            error = OperationalError("deadlock detected")
            error.__cause__ = DeadlockDetected()
            raise error

    monkeypatch.setattr(importing.Importer, "_store", deadlocked_once)
    lines = [json.dumps(periscope_seed.SEED_MINIMAL | {"deploymentId": f"d-{n}"}) for n in range(3)]
    report = importing.import_lines(organization=org, fmt="periscope", lines=lines, writers=1)
    assert failures and report.created == 3
    assert Deployment.objects.filter(organization=org).count() == 3
    assert Delivery.objects.filter(organization=org).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_writers_store_what_one_writer_stores():
    """Updates, repeats and ids that change service across chunks: two writers end with the
    same deployments, deliveries and recovery times as one."""
    import random

    from deployments.recording.importing import import_lines
    from tests.builders import assert_never_wrong
    from tests.factories import OrganizationFactory

    rng = random.Random(5)
    lines = []
    for n in range(300):
        ext = f"d-{rng.randrange(200)}"  # repeats: updates, some moving to another service
        minute = rng.randrange(500)
        lines.append(
            json.dumps(
                {
                    "deploymentId": ext,
                    "commitSha": "abcdef1",
                    "environment": rng.choice(["production", "production", "staging"]),
                    "status": rng.choice(["success", "failure", "rolled_back", "in_progress"]),
                    "service": f"svc-{rng.randrange(6)}",
                    "startedAt": "2025-01-01T00:00:00Z",
                    "completedAt": f"2025-01-0{1 + minute // 100}T0{minute % 10}:{minute % 60:02d}:00Z",
                    "pipelineUrl": f"https://ci/{n}",
                }
            )
        )
    one, two = OrganizationFactory(slug="one-writer"), OrganizationFactory(slug="two-writers")
    try:
        for org, writers in ((one, 1), (two, 2)):
            make_service(org, "svc-1")
            import_lines(
                organization=org, fmt="periscope", lines=lines, batch_size=16, writers=writers
            )

        def state(org):
            rows = Deployment.objects.filter(organization=org)
            values = {
                d.external_id: (
                    *(getattr(d, name) for name in MUTABLE_FIELDS if name != "service_id"),
                    d.service_id is None,  # matched in both (each organization's own service)
                    tuple(d.deliveries.order_by("id").values_list("action", "body")),
                )
                for d in rows
            }
            return values

        assert state(one) == state(two)
        assert set(state(two)) == {json.loads(line)["deploymentId"] for line in lines}
        # Recovery times: never wrong in either. An update that moves a failure makes its
        # value unknown (NULL) until a success, so which ones are NULL may differ.
        assert assert_never_wrong(one) > 20
        assert assert_never_wrong(two) > 20
    finally:
        for org in (one, two):
            Deployment.objects.filter(organization=org).delete()
            org.delete()


def _history(count: int) -> list[dict]:
    return [
        periscope_seed.SEED_FULL
        | {
            "deploymentId": f"h{n}",
            "status": "failure" if n % 3 == 0 else "success",
            "completedAt": f"2024-01-{1 + n % 28:02d}T10:{n % 60:02d}:00Z",
            "startedAt": f"2024-01-{1 + n % 28:02d}T09:00:00Z",
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("folds_itself_from", [1000, 10])
def test_a_small_import_leaves_its_fold_to_the_next_read_a_large_one_folds_itself(
    tmp_path, api, org, other_org, key, monkeypatch, folds_itself_from
):
    """Either way the next metrics read answers from rollups that match the raw rows."""
    from deployments.models import RollupPending
    from deployments.recording import importing
    from tests.rollup_checks import assert_api_matches_reference, check_rollups

    monkeypatch.setattr(importing, "FOLDED_BY_THE_IMPORT_FROM", folds_itself_from)
    path = write_lines(tmp_path, _history(40))
    run(path, org=org.slug)
    run(path, org=other_org.slug)

    pending = RollupPending.objects.filter(organization=org).exists()
    assert pending is (folds_itself_from > 40)
    params = {"from": "2024-01-01", "to": "2024-02-01", "interval": "week"}
    got = assert_api_matches_reference(api=api, key=key, organization=org, params=params)
    assert got["summary"]["changeFailureRate"]["total"] == 40
    assert not RollupPending.objects.filter(organization=org).exists()  # the read folded
    check_rollups()
