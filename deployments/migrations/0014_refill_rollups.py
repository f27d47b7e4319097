from django.db import migrations


def fill(apps, schema_editor):
    """Existing histories get their rollups at once (the metrics read nothing else): the
    service-day rows, the totals and their stored percentiles, with the rework counts.

    Uses the live code (deployments.rollups), not the historical models, so it must run after
    every migration the live code reads: only the newest migration fills, and a later one
    that changes what a rollup holds makes this a no-op and fills itself."""
    from deployments.rollups.maintain import rebuild

    Organization = apps.get_model("periscope", "Organization")
    for organization_id in Organization.objects.values_list("pk", flat=True):
        rebuild(organization_id=organization_id)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0013_deploy_commit_time"),
        ("periscope", "0005_organization_default_environment"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
