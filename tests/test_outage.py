"""Database unavailable: ingest answers 503 JSON with Retry-After, and nothing acknowledged is lost."""

import json
import threading
import time
from unittest import mock

import httpx
import pytest
from django.conf import settings
from django.db import DataError, IntegrityError, OperationalError, ProgrammingError
from django.db.backends.base.base import BaseDatabaseWrapper

from deployments.models import Delivery, Deployment
from deployments.recording import recorder as recording
from tests import live_servers

URL = "/api/webhooks/deployments"


def payload(deployment_id: str) -> dict:
    return {
        "deploymentId": deployment_id,
        "commitSha": "a1b2c3d4e5f6",
        "environment": "production",
        "status": "success",
        "startedAt": "2024-01-15T10:30:00Z",
        "completedAt": "2024-01-15T10:35:00Z",
    }


def post(api, key, deployment_id="outage-1"):
    return api.post(
        URL,
        data=json.dumps(payload(deployment_id)),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def assert_503(response):
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": "The database is unavailable; retry later"}


@pytest.mark.django_db(transaction=True)
def test_connection_failure_at_connect_time_is_503(api, key):
    refused = OperationalError('connection to server at "127.0.0.1" failed: Connection refused')
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=refused):
        assert_503(post(api, key))
    assert not Deployment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_connection_lost_inside_the_atomic_block_is_503_and_nothing_is_half_stored(api, key):
    lost = OperationalError("server closed the connection unexpectedly")
    # The delivery-log insert, after the deployment row: the connection drops in between.
    with mock.patch.object(recording.rows, "insert", side_effect=lost):
        assert_503(post(api, key))
    # The transaction was rolled back: no deployment without its delivery.
    assert not Deployment.objects.exists()
    assert not Delivery.objects.exists()

    response = post(api, key)  # the pipeline retries once the database is back
    assert response.status_code == 201
    assert Delivery.objects.count() == 1


def test_readyz_is_503_when_the_database_cannot_be_reached(client, db):
    down = OperationalError("down")
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=down):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_a_database_error_in_a_plain_django_view_is_503_json(client, db, settings):
    """Outside DRF (admin, health) the middleware answers for the database too."""
    settings.DEBUG = False
    client.raise_request_exception = False
    with mock.patch(
        "django.contrib.admin.sites.AdminSite.each_context", side_effect=OperationalError("down")
    ):
        response = client.get("/admin/login/")
    assert_503(response)


# --- A real outage: gunicorn on a dedicated PostgreSQL database that goes away and comes back.


class Pipeline(threading.Thread):
    """A CI pipeline: delivers its deployments one after another, retrying each on 503."""

    def __init__(self, base: str, key: str, name: str, count: int):
        super().__init__()
        self.base, self.key, self.count = base, key, count
        self.ids = [f"{name}-{n}" for n in range(count)]
        self.answers: list[tuple[str, int, dict, dict]] = []

    def run(self):
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base, timeout=20) as client:
            for deployment_id in self.ids:
                for _ in range(200):
                    response = client.post(URL, json=payload(deployment_id), headers=headers)
                    self.answers.append(
                        (
                            deployment_id,
                            response.status_code,
                            dict(response.headers),
                            response.json(),
                        )
                    )
                    if response.status_code in (200, 201):
                        break
                    time.sleep(0.1)
                time.sleep(0.02)


@pytest.fixture
def outage_database():
    """A database of its own, so taking it away touches nothing else."""
    url = live_servers.url_beside(settings.DATABASES["default"], "outage")
    key = live_servers.prepare_database(url, org="outage")
    try:
        yield url, key
    finally:
        live_servers.drop_database(url)


def stored(url: str) -> tuple[set[str], int]:
    import psycopg

    with psycopg.connect(url) as conn:
        ids = {row[0] for row in conn.execute("SELECT external_id FROM deployments_deployment")}
        deliveries = conn.execute("SELECT COUNT(*) FROM deployments_delivery").fetchone()[0]
    return ids, deliveries


@pytest.mark.postgres
def test_database_outage_mid_run_loses_no_acknowledged_delivery(outage_database):
    url, key = outage_database
    with live_servers.gunicorn(url, workers=2, DB_CONNECT_TIMEOUT="2") as base:
        pipelines = [Pipeline(base, key, f"pipeline{n}", 30) for n in range(3)]
        for pipeline in pipelines:
            pipeline.start()
        time.sleep(0.5)  # some deliveries are acknowledged before the outage

        live_servers.set_database_available(url, False)
        try:
            during = httpx.post(
                f"{base}{URL}",
                json=payload("during-outage"),
                headers={"Authorization": f"Bearer {key}"},
                timeout=20,
            )
            ready = httpx.get(f"{base}/readyz", timeout=20)
            time.sleep(1.5)
        finally:
            live_servers.set_database_available(url, True)

        for pipeline in pipelines:
            pipeline.join(timeout=120)
        after = httpx.get(f"{base}/readyz", timeout=20)

    assert during.status_code == 503
    assert during.headers["Retry-After"] == "5"
    assert during.json() == {"error": "The database is unavailable; retry later"}
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert after.status_code == 200

    answers = [answer for pipeline in pipelines for answer in pipeline.answers]
    statuses = {status for _, status, _, _ in answers}
    assert statuses <= {200, 201, 503}, statuses  # never a 500, never a hang
    assert 503 in statuses  # the pipelines did run into the outage
    for _, status, headers, body in answers:
        if status == 503:
            assert headers["retry-after"] == "5" and set(body) == {"error"}

    acknowledged = {d for d, status, _, _ in answers if status in (200, 201)}
    assert acknowledged == {d for pipeline in pipelines for d in pipeline.ids}
    ids, deliveries = stored(url)
    assert acknowledged <= ids
    assert deliveries >= len([a for a in answers if a[1] in (200, 201)])


# --- Only an outage is a 503: a database error about the request or the query is not, or
# pipelines would retry it forever and monitoring would see an outage (issue 14).


def driver_error(django_class, message: str, *, sqlstate: str = "", sqlite_name: str = ""):
    """A Django database error as Django raises it: from the driver's error (its __cause__)."""
    import sqlite3

    import psycopg.errors

    if sqlstate:
        cause = psycopg.errors.lookup(sqlstate)(message)
    else:
        cause = sqlite3.OperationalError(message)
        cause.sqlite_errorname = sqlite_name
    error = django_class(message)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        driver_error(OperationalError, "connection failure", sqlstate="08006"),
        driver_error(OperationalError, "terminating connection", sqlstate="57P01"),
        driver_error(OperationalError, "too many connections", sqlstate="53300"),
        driver_error(OperationalError, "deadlock detected", sqlstate="40P01"),
        driver_error(OperationalError, "database is locked", sqlite_name="SQLITE_BUSY"),
    ],
    ids=["connection", "shutdown", "too-many", "deadlock", "sqlite-busy"],
)
def test_an_outage_or_a_transient_conflict_is_503(api, key, error):
    with mock.patch.object(recording.rows, "insert", side_effect=error):
        assert_503(post(api, key))


@pytest.mark.parametrize(
    "error",
    [
        driver_error(DataError, "invalid input syntax for type json", sqlstate="22P02"),
        driver_error(OperationalError, "index row size exceeds maximum", sqlstate="54000"),
        driver_error(OperationalError, "string or blob too big", sqlite_name="SQLITE_TOOBIG"),
    ],
    ids=["data-error", "program-limit", "sqlite-too-big"],
)
def test_a_value_the_database_refused_is_400_in_the_formats_shape(api, key, error):
    with mock.patch.object(recording.rows, "insert", side_effect=error):
        response = post(api, key)
    assert response.status_code == 400, response.content
    assert "Retry-After" not in response
    assert response.json() == {
        "error": "Invalid payload: a value of the request was refused by the database"
    }


@pytest.mark.parametrize(
    "error",
    [
        driver_error(ProgrammingError, "column does not exist", sqlstate="42703"),
        driver_error(OperationalError, "no such table: x", sqlite_name="SQLITE_ERROR"),
        driver_error(IntegrityError, "violates check constraint", sqlstate="23514"),
    ],
    ids=["programming", "sqlite-error", "integrity"],
)
def test_any_other_database_error_is_a_500_not_a_503(api, key, error, settings):
    settings.DEBUG = False
    api.raise_request_exception = False
    with mock.patch.object(recording.rows, "insert", side_effect=error):
        response = post(api, key)
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert response.json() == {"error": "Internal server error"}


def test_a_non_outage_error_in_a_plain_django_view_is_not_503(client, db, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    error = driver_error(ProgrammingError, "syntax error", sqlstate="42601")
    with mock.patch("django.contrib.admin.sites.AdminSite.each_context", side_effect=error):
        response = client.get("/admin/login/")
    assert response.status_code == 500
    assert "Retry-After" not in response
