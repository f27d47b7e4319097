"""Idempotency under concurrency: one record however many deliveries race (PostgreSQL)."""

import threading

import pytest
from django.db import connections
from django.test import Client

from deployments.models import Delivery, Deployment
from tests.factories import OrganizationFactory, make_key
from tests.webhooks import post_webhook

PAYLOAD = {
    "deploymentId": "race-1",
    "commitSha": "a1b2c3d4e5f6",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
    "service": "brand-new-service",
}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_32_simultaneous_deliveries_make_one_record():
    org = OrganizationFactory(slug="race")
    key = make_key(org)
    barrier = threading.Barrier(32)
    responses = []
    lock = threading.Lock()

    def deliver():
        client = Client()
        barrier.wait()
        try:
            response = post_webhook(client, "periscope", PAYLOAD, key=key)
            with lock:
                responses.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(status for status, _ in responses)
    assert statuses == [200] * 31 + [201]
    actions = sorted(body["action"] for _, body in responses)
    assert actions == ["created"] + ["updated"] * 31
    assert len({body["deploymentId"] for _, body in responses}) == 1
    assert Deployment.objects.filter(organization=org).count() == 1
    assert Delivery.objects.filter(organization=org).count() == 32
