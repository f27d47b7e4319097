from django.db import migrations


def fill(apps, schema_editor):
    """No longer fills: the fill runs the live code, which writes what later migrations add,
    so only the newest migration fills the rollups (0015_group_rollups)."""


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0013_deploy_commit_time"),
        ("periscope", "0005_organization_default_environment"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
