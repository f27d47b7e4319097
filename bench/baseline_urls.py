"""The product's URLs plus two bench-only reference views (never part of the product).

They show what a Django view costs on this machine when it does almost nothing but store:
- raw: parse the JSON body, one `INSERT ... ON CONFLICT DO UPDATE` (the floor of an upsert);
- orm: parse the JSON body, `Deployment.objects.update_or_create` (the naive ORM upsert).
Neither authenticates, validates, resolves services nor logs the delivery; the real
webhook does all of that, so these are what it is compared against.
"""

import json
import os
from datetime import datetime

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from deployments.models import Deployment
from periscope.urls import handler400, handler404, handler500, urlpatterns  # noqa: F401

# The benchmark creates exactly one organization.
BENCH_ORGANIZATION_ID = int(os.environ.get("BENCH_ORGANIZATION_ID", "1"))

_RAW_UPSERT = """
INSERT INTO deployments_deployment (
    organization_id, source, external_id, service_name, service_key, environment,
    environment_raw, status, status_raw, commit_sha, previous_commit_sha, branch,
    repository_url, change_id, started_at, completed_at, triggered_by, pipeline_name,
    pipeline_url, description, metadata, created_at, updated_at
) VALUES (%s, 'periscope', %s, %s, %s, %s, %s, %s, %s, %s, '', %s, '', '', %s, %s, '', '', '',
          '', %s, now(), now())
ON CONFLICT (organization_id, source, external_id) DO UPDATE
    SET status = EXCLUDED.status, completed_at = EXCLUDED.completed_at, updated_at = now()
RETURNING id, (xmax = 0) AS inserted
"""


def _values(payload: dict) -> dict:
    return {
        "service_name": payload["service"],
        "service_key": payload["service"].lower(),
        "environment": payload["environment"],
        "environment_raw": payload["environment"],
        "status": payload["status"],
        "status_raw": payload["status"],
        "commit_sha": payload["commitSha"],
        "branch": payload.get("branch", ""),
        "started_at": datetime.fromisoformat(payload["startedAt"]),
        "completed_at": datetime.fromisoformat(payload["completedAt"]),
        "metadata": payload.get("metadata", {}),
    }


@csrf_exempt
@require_POST
def raw_upsert(request):
    payload = json.loads(request.body)
    v = _values(payload)
    with connection.cursor() as cursor:
        cursor.execute(
            _RAW_UPSERT,
            [
                BENCH_ORGANIZATION_ID,
                payload["deploymentId"],
                v["service_name"],
                v["service_key"],
                v["environment"],
                v["environment_raw"],
                v["status"],
                v["status_raw"],
                v["commit_sha"],
                v["branch"],
                v["started_at"],
                v["completed_at"],
                json.dumps(v["metadata"]),
            ],
        )
        deployment_id, inserted = cursor.fetchone()
    return JsonResponse({"deploymentId": deployment_id}, status=201 if inserted else 200)


@csrf_exempt
@require_POST
def orm_upsert(request):
    payload = json.loads(request.body)
    deployment, created = Deployment.objects.update_or_create(
        organization_id=BENCH_ORGANIZATION_ID,
        source="periscope",
        external_id=payload["deploymentId"],
        defaults=_values(payload),
    )
    return JsonResponse({"deploymentId": deployment.pk}, status=201 if created else 200)


urlpatterns = [
    *urlpatterns,
    path("bench/raw-upsert", raw_upsert),
    path("bench/orm-upsert", orm_upsert),
]
