from django.db import migrations, models


def fill(apps, schema_editor):
    """Existing histories get their rollups (0009's service-day rows, 0010's totals and the
    totals' stats) at once: the metrics read nothing else.

    Uses the live code (deployments.rollups), not the historical models, so it runs once
    every rollup column exists; a later migration that changes what a rollup holds must
    refill them itself, and may make this a no-op."""
    from deployments.rollups.maintain import rebuild

    Organization = apps.get_model("periscope", "Organization")
    for organization_id in Organization.objects.values_list("pk", flat=True):
        rebuild(organization_id=organization_id)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0010_organization_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="organizationrollup",
            name="stats",
            field=models.JSONField(default=dict),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
