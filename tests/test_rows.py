"""periscope.rows: hand-written statements store and load exactly what the ORM would."""

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from deployments.models import Delivery, Deployment
from periscope import rows
from periscope.keys import find_active_key, revoke_api_key
from periscope.models import ApiKey, Organization
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
def test_cursor_reports_database_errors_as_django_errors(org):
    # Django's classes (what the outage middleware and the ORM's callers catch), not the driver's.
    with pytest.raises(DatabaseError) as raised, rows.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM periscope_organization")
    assert type(raised.value).__module__ == "django.db.utils"
