"""seed_demo: a deterministic, plausible history stored through the real ingest functions."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

from django.core.management import call_command

from demo.history import seed_history
from deployments.models import Delivery, Deployment, Incident, Status
from services.models import ServiceSuggestion, SuggestionStatus

UNTIL = datetime(2024, 6, 3, tzinfo=UTC)  # a Monday


def snapshot(organization) -> tuple[list, list]:
    deployments = list(
        Deployment.objects.filter(organization=organization)
        .order_by("external_id")
        .values_list(
            "external_id",
            "service__name",
            "service_name",
            "environment",
            "status",
            "commit_sha",
            "started_at",
            "completed_at",
        )
    )
    incidents = list(
        Incident.objects.filter(organization=organization)
        .order_by("external_id")
        .values_list(
            "external_id", "service__name", "started_at", "resolved_at", "deployment__external_id"
        )
    )
    return deployments, incidents


def test_the_same_seed_gives_the_same_history(org, other_org):
    seed_history(organization=org, days=15, seed=5, until=UNTIL)
    seed_history(organization=other_org, days=15, seed=5, until=UNTIL)
    assert snapshot(org) == snapshot(other_org)
    assert len(snapshot(org)[0]) > 50


def test_running_again_stores_nothing_new(org):
    seed_history(organization=org, days=10, seed=5, until=UNTIL)
    first = snapshot(org)
    seed_history(organization=org, days=10, seed=5, until=UNTIL)
    assert snapshot(org) == first


def test_another_seed_gives_another_history(org, other_org):
    seed_history(organization=org, days=15, seed=5, until=UNTIL)
    seed_history(organization=other_org, days=15, seed=6, until=UNTIL)
    assert snapshot(org)[0] != snapshot(other_org)[0]


def test_a_weekday_rhythm(org):
    seed_history(organization=org, days=70, seed=1, until=UNTIL)
    production = Deployment.objects.filter(organization=org, environment="production")
    per_weekday = Counter(d.completed_at.weekday() for d in production)
    weekdays = sum(per_weekday[day] for day in range(5)) / 5
    weekend = (per_weekday[5] + per_weekday[6]) / 2
    assert weekdays > 8 * max(weekend, 1)
    assert per_weekday[1] > per_weekday[4]  # Tuesdays busier than Fridays
    assert all(d.completed_at < UNTIL for d in production)
    assert production.filter(completed_at__lt=UNTIL - timedelta(days=64)).exists()


def test_failures_and_rollbacks_are_followed_by_recoveries(org):
    seed_history(organization=org, days=45, seed=2, until=UNTIL)
    production = Deployment.objects.filter(organization=org, environment="production")
    failed = production.filter(status__in=[Status.FAILURE, Status.ROLLED_BACK])
    assert failed.filter(status=Status.FAILURE).exists()
    assert failed.filter(status=Status.ROLLED_BACK).exists()
    unrecovered = [
        d.external_id
        for d in failed
        if not production.filter(
            service_key__in=[d.service_key, "checkout", "checkout-svc"]
            if d.service and d.service.name == "checkout"
            else [d.service_key],
            status=Status.SUCCESS,
            completed_at__gt=d.completed_at,
        ).exists()
    ]
    # Only the deliberate one of the last day waits for a person.
    assert unrecovered == [f"payments-api-{UNTIL:%Y%m%d}-open"]
    # A rollback came as a second delivery of the same deployment id (success, rolled_back).
    rolled_back = failed.filter(status=Status.ROLLED_BACK).first()
    actions = list(
        Delivery.objects.filter(deployment=rolled_back)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["created", "updated"]


def test_incidents_are_attributed_and_some_resolved(org):
    seed_history(organization=org, days=45, seed=2, until=UNTIL)
    incidents = Incident.objects.filter(organization=org)
    assert incidents.count() >= 3
    assert incidents.filter(deployment__isnull=False, attributed_by="deployment_id").exists()
    assert incidents.filter(resolved_at__isnull=False).count() >= 2
    assert incidents.filter(resolved_at__isnull=True).exists()
    assert all(i.resolved_at is None or i.resolved_at > i.started_at for i in incidents)


def test_services_aliases_and_a_suggestion(org):
    seed_history(organization=org, days=30, seed=3, until=UNTIL)
    production = Deployment.objects.filter(organization=org, environment="production")
    # Sent as the old name, matched through the alias.
    assert production.filter(service__name="checkout", service_name="checkout-svc").exists()
    assert ServiceSuggestion.objects.get(organization=org, status=SuggestionStatus.OPEN).name == (
        "legacy-batch"
    )
    # Every deployment came with its delivery in the log, as ingest keeps it.
    assert not Deployment.objects.filter(organization=org, deliveries__isnull=True).exists()


def test_the_command(db):
    out = StringIO()
    call_command("seed_demo", "--org", "demo2", "--days", "10", "--seed", "4", stdout=out)
    assert "Seeded demo2: 5 services" in out.getvalue()
    assert Deployment.objects.filter(organization__slug="demo2").exists()


def test_demo_seeds_an_empty_organization_once_and_prints_the_dashboard(db):
    out = StringIO()
    call_command("demo", "--days", "5", stdout=out)
    assert "Dashboard: http://127.0.0.1:8000/admin/metrics/dora/?org=demo" in out.getvalue()
    count = Deployment.objects.filter(organization__slug="demo").count()
    assert count > 0
    call_command("demo", "--days", "5", stdout=StringIO())
    assert Deployment.objects.filter(organization__slug="demo").count() == count


def test_pull_requests_give_lead_times(org):
    from deployments.models import DeploymentPullRequest, PullRequest
    from metrics import dora

    seed_history(organization=org, days=20, seed=9, until=UNTIL)
    assert PullRequest.objects.filter(organization=org, merged_at__isnull=False).count() > 20
    # Every PR merged before the last day's deployments was shipped by one.
    shipped = set(
        DeploymentPullRequest.objects.filter(organization=org).values_list(
            "pull_request_id", flat=True
        )
    )
    early = PullRequest.objects.filter(organization=org, merged_at__lt=UNTIL - timedelta(days=2))
    assert set(early.values_list("id", flat=True)) <= shipped
    scope = dora.Window(organization_id=org.pk, start=UNTIL - timedelta(days=20), end=UNTIL)
    lead = dora.dora_report(scope=scope, series=False).summary.lead_time
    assert lead.changes > 20
    assert 3600 < lead.median_seconds < 7 * 86400
    assert lead.level in ("elite", "high")
