"""periscope.rows: hand-written statements store and load exactly what the ORM would."""

import importlib
from datetime import UTC, datetime

import pytest
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    close_old_connections,
    connection,
    connections,
)
from django.test.utils import CaptureQueriesContext

from deployments.models import Delivery, Deployment
from periscope import rows
from periscope.keys import find_active_key, revoke_api_key
from periscope.models import ApiKey, Organization
from services.models import ServiceAlias
from tests.factories import make_key


def deployment_row(org: Organization, external_id: str, **extra) -> dict:
    return {
        "organization_id": org.pk,
        "source": "periscope",
        "external_id": external_id,
        "environment": "production",
        "status": "success",
        "service_name": "Checkout ünïcode",
        "started_at": datetime(2024, 1, 15, 10, 30, 5, 123456, tzinfo=UTC),
        "completed_at": datetime(2024, 1, 15, 10, 35, tzinfo=UTC),
        "metadata": {"run": 7, "nested": {"a": [1, "two", None]}},
        # No defaults are applied: every NOT NULL column is given, as the recorder does.
        **dict.fromkeys(
            [
                "service_key",
                "environment_raw",
                "status_raw",
                "commit_sha",
                "previous_commit_sha",
                "branch",
                "repository_url",
                "change_id",
                "triggered_by",
                "pipeline_name",
                "pipeline_url",
                "description",
            ],
            "",
        ),
        "raw_payload": None,
        "created_at": datetime(2024, 1, 15, 10, 36, tzinfo=UTC),
        "updated_at": datetime(2024, 1, 15, 10, 36, tzinfo=UTC),
        **extra,
    }


def test_insert_unless_exists_returns_the_new_id_then_none_for_the_same_key(org, other_org):
    unique = ("organization", "source", "external_id")
    first = rows.insert_unless_exists(Deployment, deployment_row(org, "d-1"), unique=unique)
    again = rows.insert_unless_exists(
        Deployment, deployment_row(org, "d-1", status="failure"), unique=unique
    )
    elsewhere = rows.insert_unless_exists(
        Deployment, deployment_row(other_org, "d-1"), unique=unique
    )

    assert isinstance(first, int)
    assert again is None
    assert elsewhere not in (None, first)
    # The repeat changed nothing: the first row stands as sent.
    assert Deployment.objects.get(pk=first).status == "success"
    assert Deployment.objects.filter(external_id="d-1").count() == 2


def test_inserted_values_read_back_through_the_orm_unchanged(org):
    values = deployment_row(org, "d-2", metadata={"emoji": "🚀", "quote": 'it\'s "fine"'})
    pk = rows.insert_unless_exists(
        Deployment, values, unique=("organization", "source", "external_id")
    )

    stored = Deployment.objects.get(pk=pk)
    for name, value in values.items():
        assert getattr(stored, name) == value, name


def delivery_row(org: Organization, deployment_id: int) -> dict:
    return {
        "organization_id": org.pk,
        "deployment_id": deployment_id,
        "source": "periscope",
        "received_at": datetime(2024, 1, 15, 10, 36, tzinfo=UTC),
        "action": "created",
        "body": "{}",
    }


def test_insert_writes_one_row(org):
    pk = rows.insert_unless_exists(
        Deployment, deployment_row(org, "d-3"), unique=("organization", "source", "external_id")
    )
    rows.insert(
        Delivery,
        {
            "organization_id": org.pk,
            "deployment_id": pk,
            "source": "periscope",
            "received_at": datetime(2024, 1, 15, 10, 36, tzinfo=UTC),
            "action": "created",
            "body": '{"deploymentId": "d-3"}',
        },
    )

    delivery = Delivery.objects.get(deployment_id=pk)
    assert delivery.body == '{"deploymentId": "d-3"}'
    assert delivery.received_at == datetime(2024, 1, 15, 10, 36, tzinfo=UTC)


def test_instance_loads_a_row_as_the_orm_does(org):
    key = ApiKey.objects.get(organization=org, prefix=make_key(org)[:12])
    revoke_api_key(api_key=key)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.column_list(ApiKey)} FROM {rows.quote(ApiKey._meta.db_table)}"
            " WHERE id = %s",
            [key.pk],
        )
        loaded = rows.instance(ApiKey, cursor.fetchone())

    fresh = ApiKey.objects.get(pk=key.pk)
    assert loaded.pk == fresh.pk
    assert loaded.scopes == fresh.scopes == ["ingest", "read"]
    assert loaded.revoked_at == fresh.revoked_at is not None
    assert loaded.created_at == fresh.created_at
    assert loaded._state.adding is False


def test_key_lookup_is_one_statement_with_its_organization(org):
    plaintext = make_key(org)
    with CaptureQueriesContext(connection) as queries:
        api_key = find_active_key(plaintext=plaintext)
        slug = api_key.organization.slug
    assert slug == org.slug
    assert len(queries) == 1


@pytest.mark.django_db(transaction=True)
def test_fetchone_reports_database_errors_as_django_errors(org):
    with pytest.raises(DatabaseError) as raised:
        rows.fetchone("SELECT no_such_column FROM periscope_organization", [])
    assert type(raised.value).__module__ == "django.db.utils"


UNIQUE = ("organization", "source", "external_id")


@pytest.mark.django_db(transaction=True)
def test_transaction_commits_its_statements_together(org):
    # Outside any atomic block: on PostgreSQL the pipeline's own BEGIN … COMMIT.
    with rows.transaction():
        pk = rows.insert_unless_exists(Deployment, deployment_row(org, "t-1"), unique=UNIQUE)
        rows.insert(Delivery, delivery_row(org, pk))

    assert Delivery.objects.get(deployment_id=pk).deployment.external_id == "t-1"


@pytest.mark.django_db(transaction=True)
def test_a_sent_statement_is_read_after_the_transaction(org):
    # The statement sees the transaction's own insert; its row is read after the commit
    # (on PostgreSQL it came back with the pipeline's closing Sync).
    table = rows.quote(Deployment._meta.db_table)
    with rows.transaction():
        pk = rows.insert_unless_exists(Deployment, deployment_row(org, "t-7"), unique=UNIQUE)
        read = rows.send(f"SELECT external_id FROM {table} WHERE id = %s", [pk])
    assert read() == ("t-7",)


@pytest.mark.django_db(transaction=True)
def test_a_failed_statement_rolls_the_whole_transaction_back(org):
    with pytest.raises(DatabaseError) as raised, rows.transaction():
        pk = rows.insert_unless_exists(Deployment, deployment_row(org, "t-2"), unique=UNIQUE)
        rows.run(f"SELECT no_such_column FROM {rows.quote(Delivery._meta.db_table)}", [])
        rows.insert(Delivery, delivery_row(org, pk))

    assert type(raised.value).__module__ == "django.db.utils"
    assert not Deployment.objects.exists()
    # The connection is usable again: the next transaction commits.
    with rows.transaction():
        rows.insert_unless_exists(Deployment, deployment_row(org, "t-3"), unique=UNIQUE)
    assert list(Deployment.objects.values_list("external_id", flat=True)) == ["t-3"]


@pytest.mark.django_db(transaction=True)
def test_an_error_in_python_rolls_back_what_was_sent(org):
    with pytest.raises(RuntimeError), rows.transaction():
        rows.insert_unless_exists(Deployment, deployment_row(org, "t-4"), unique=UNIQUE)
        raise RuntimeError("the caller failed after the insert was sent")

    assert not Deployment.objects.exists()


def test_inside_an_atomic_block_it_is_a_savepoint(org):
    # pytest-django's `db` runs the test in a transaction: the caller's own atomic block.
    with pytest.raises(RuntimeError), rows.transaction():
        rows.insert_unless_exists(Deployment, deployment_row(org, "t-5"), unique=UNIQUE)
        raise RuntimeError("undo")
    with rows.transaction():
        rows.insert_unless_exists(Deployment, deployment_row(org, "t-6"), unique=UNIQUE)

    assert list(Deployment.objects.values_list("external_id", flat=True)) == ["t-6"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_by_the_key_lookup(api, key):
    """The key lookup doubles as the connection's health check: a request after the server
    closed the connection (a restart, a failover) is answered, not failed with 503."""
    import psycopg

    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert api.get("/api/deployments", **headers).status_code == 200
    old_pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    # What a server does at every request's start (Django's test client leaves it out).
    close_old_connections()

    response = api.get("/api/deployments", **headers)

    assert response.status_code == 200
    assert connection.connection.info.backend_pid != old_pid


def _internal_owner(where: str):
    """The module, or an instance of the class, that `where` names (instance attributes such
    as ModelState.adding exist only on instances; the wrapper's on the live connection)."""
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError:
        module_name, _, class_name = where.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        wrapper = connections[DEFAULT_DB_ALIAS]
        return wrapper if isinstance(wrapper, cls) else cls()


@pytest.mark.parametrize("where,name", rows.DJANGO_INTERNALS)
def test_the_django_internals_the_fast_path_uses_still_exist(where, name):
    """A Django upgrade that drops or renames one of them fails here, by name."""
    assert hasattr(_internal_owner(where), name), (
        f"Django no longer has {where}.{name}, which periscope/rows.py relies on: "
        "update the fast path before upgrading"
    )


def test_a_statement_is_built_once_per_vendor_with_quoted_names():
    statement = rows.Statement("SELECT {key} FROM {table}", key="key", table=ServiceAlias)
    assert statement.sql == f"SELECT {connection.ops.quote_name('key')} FROM " + (
        connection.ops.quote_name(ServiceAlias._meta.db_table)
    )
    assert statement.sql is statement.sql  # cached
