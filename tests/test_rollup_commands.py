"""`rebuild_rollups` and `check_rollups`: what an operator runs and reads."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from deployments.models import DailyRollup, GroupRollup, OrganizationRollup, RollupPending
from tests.factories import DeploymentFactory

DAY = datetime(2026, 3, 2, 12, tzinfo=UTC)


def run(name: str, *args) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(org, other_org):
    for organization in (org, other_org):
        for n, status in enumerate(["success", "failure", "success", "rolled_back"]):
            DeploymentFactory(
                organization=organization,
                external_id=f"d{n}",
                service_name="billing",
                service_key="billing",
                status=status,
                started_at=DAY + timedelta(hours=n),
                completed_at=DAY + timedelta(hours=n),
            )


def test_check_folds_pending_writes_and_reports_no_drift(history, org, other_org):
    assert RollupPending.objects.filter(organization=org).exists()
    output = run("check_rollups")
    assert f"{org.slug}: rollups match the raw rows" in output
    assert f"{other_org.slug}: rollups match the raw rows" in output
    assert not RollupPending.objects.exists()
    cell = DailyRollup.objects.get(organization=org)
    assert (cell.reached, cell.failed, cell.rolled_back, cell.total) == (3, 1, 1, 4)


def test_check_names_a_drifted_cell_and_exits_non_zero(history, org, other_org):
    run("check_rollups")
    DailyRollup.objects.filter(organization=org).update(failed=7)
    with pytest.raises(CommandError, match="1 organization"):
        run("check_rollups")
    # Only the drifted organization is named; the other still matches.
    output = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_rollups", stdout=output)
    assert f"{org.slug}: 1 cell(s) drifted" in output.getvalue()
    assert "production name:billing 2026-03-02: failed differ" in output.getvalue()
    assert f"{other_org.slug}: rollups match the raw rows" in output.getvalue()


def test_check_names_totals_whose_stored_percentiles_drifted(history, org, other_org):
    """A weekly series reads a whole week's median and p90 from its totals row's stats, so a
    stale stats value is drift even when every bin is right; a rebuild repairs it."""
    run("check_rollups")
    week = OrganizationRollup.objects.get(organization=org, level="week")
    assert week.stats["recovery"][0] == 1  # the failure; the rollback has no later success
    week.stats["recovery"][2] += 60
    week.save(update_fields=["stats"])
    output = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_rollups", stdout=output)
    assert "production all services week 2026-03-02: stats differ" in output.getvalue()
    assert f"{other_org.slug}: rollups match the raw rows" in output.getvalue()
    run("rebuild_rollups", "--org", org.slug)
    assert f"{org.slug}: rollups match the raw rows" in run("check_rollups", "--org", org.slug)


def test_check_names_a_service_week_or_month_that_drifted(history, org, other_org):
    """A one-service question reads the service's week and month rows (their numbers,
    percentiles' stats and days with deployments): each is checked against the raw rows."""
    run("check_rollups")
    month = GroupRollup.objects.get(organization=org, level="month")
    assert (month.day.isoformat(), month.reached, month.active_days) == ("2026-03-01", 3, 1 << 1)
    week = GroupRollup.objects.get(organization=org, level="week")
    assert (week.day.isoformat(), week.total, week.active_days) == ("2026-03-02", 4, 1)
    GroupRollup.objects.filter(pk=month.pk).update(active_days=1)
    GroupRollup.objects.filter(pk=week.pk).update(rework=2)
    output = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_rollups", stdout=output)
    found = output.getvalue()
    assert "production name:billing month 2026-03-01: days with deployments differ" in found
    assert "production name:billing week 2026-03-02: rework differ" in found
    assert f"{other_org.slug}: rollups match the raw rows" in found
    run("rebuild_rollups", "--org", org.slug)
    assert f"{org.slug}: rollups match the raw rows" in run("check_rollups", "--org", org.slug)


def test_rebuild_repairs_one_organization(history, org, other_org):
    run("check_rollups")
    DailyRollup.objects.filter(organization=org).delete()
    DailyRollup.objects.filter(organization=other_org).update(failed=7)
    assert run("rebuild_rollups", "--org", org.slug) == f"{org.slug}: 1 rollup cell(s) stored\n"
    run("check_rollups", "--org", org.slug)
    with pytest.raises(CommandError):  # the other organization was left as it was
        run("check_rollups", "--org", other_org.slug)


def test_an_unknown_organization_is_refused(db):
    with pytest.raises(CommandError, match="Unknown organization: nope"):
        run("rebuild_rollups", "--org", "nope")
