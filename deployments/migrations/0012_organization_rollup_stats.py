from django.db import migrations, models


def fill(apps, schema_editor):
    """No longer fills: the fill runs the live code, which writes what later migrations add,
    so only the newest migration fills the rollups (0015_group_rollups)."""


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0011_rework_and_rollbacks"),
    ]

    operations = [
        migrations.AddField(
            model_name="organizationrollup",
            name="stats",
            field=models.JSONField(default=dict),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
