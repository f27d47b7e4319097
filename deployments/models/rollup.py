"""The metrics' rollups: one row per organization, environment, service group and UTC day,
their sums per service group per ISO week and month, and their sums over every service per
day, ISO week and month."""

from django.db import models

from periscope.models import Organization
from services.models import Service


class RollupValues(models.Model):
    """What a rollup row holds (deployments/rollups/cells.py: the definitions)."""

    completed = models.PositiveIntegerField(default=0)
    reached = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    rolled_back = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    successful = models.PositiveIntegerField(default=0)
    incident_caused = models.PositiveIntegerField(default=0)
    with_changes = models.PositiveIntegerField(default=0)
    rework = models.PositiveIntegerField(default=0)
    # Duration sketches (deployments/rollups/sketch.py): {"<order>": [count, sum]}.
    lead = models.JSONField(default=dict)
    recovery = models.JSONField(default=dict)
    restore = models.JSONField(default=dict)
    coding_count = models.PositiveIntegerField(default=0)
    coding_sum = models.FloatField(default=0)
    review_count = models.PositiveIntegerField(default=0)
    review_sum = models.FloatField(default=0)
    waiting_count = models.PositiveIntegerField(default=0)
    waiting_sum = models.FloatField(default=0)
    incidents_opened = models.PositiveIntegerField(default=0)
    incidents_closed = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(RollupValues):
    """What the DORA metrics need of one day of one service (or unmatched name) in one
    environment, kept exact from what every write notes (deployments/rollups/maintain.py).
    Definitions: deployments/rollups/cells.py and docs/metrics.md."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    environment = models.CharField(max_length=100)
    # ServiceGroup.encode(): "service:<id>" or "name:<normalized name>".
    group = models.CharField(max_length=520)
    # The catalogued service of "service:<id>" rows, for the team filter (a join).
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    # The ISO week (its Monday) and the month (its first day) of `day`: the series' buckets.
    week = models.DateField()
    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "environment", "group", "day"], name="uniq_rollup_cell"
            ),
        ]
        indexes = [
            # A range of days of every group (the all-services metrics).
            models.Index(fields=["organization", "environment", "day"], name="rollup_days"),
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.group} {self.day}"


class OrganizationRollup(RollupValues):
    """The DailyRollup rows of every service of an environment summed, per UTC day, ISO week
    (`day` its Monday) and calendar month (`day` its first): an all-services question over
    two years reads 24 months and a few edge days, not 73,000 service-days. Kept by the same
    fold as the rows they sum (deployments/rollups/totals.py)."""

    class Level(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    environment = models.CharField(max_length=100)
    level = models.CharField(max_length=8, choices=Level.choices)
    day = models.DateField()
    week = models.DateField()
    month = models.DateField()
    # {"<sketch name>": [n, sum, median, p90]} of this row's own sketches: a series bucket
    # that is exactly this row (a week of a weekly series, a month of a monthly one, a day of
    # a daily one) reads these four numbers instead of merging its few hundred bins.
    stats = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "environment", "level", "day"],
                name="uniq_organization_rollup",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.level} {self.day}"


class GroupRollup(RollupValues):
    """The DailyRollup rows of one service group (a catalogued service or an unmatched name)
    in one environment summed per ISO week (`day` its Monday) and calendar month (`day` its
    first): a per-service question over a year reads a dozen months and a few weeks and days
    per service, not 365 service-days, and a bucket of a one-service series that is exactly
    one such row is answered from its stats. Kept by the same fold as the rows they sum
    (deployments/rollups/groups.py)."""

    class Level(models.TextChoices):
        WEEK = "week"
        MONTH = "month"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    environment = models.CharField(max_length=100)
    group = models.CharField(max_length=520)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    level = models.CharField(max_length=8, choices=Level.choices)
    day = models.DateField()
    # As on DailyRollup: the ISO week and the month of `day` (for a week row that straddles
    # two months, the month of its Monday: week rows are never read by month).
    week = models.DateField()
    month = models.DateField()
    # As OrganizationRollup.stats: {"<sketch name>": [n, sum, median, p90]}.
    stats = models.JSONField(default=dict)
    # The sketches by page (deployments/rollups/sketch.py `paged`), for ranks over many rows:
    # {"<sketch name>": {"<page>": [count, sum]}} and {"<sketch name>:<page>": {bins}} (one
    # level: a reader expands a row's pages once and joins the wanted ones by key).
    page_counts = models.JSONField(default=dict)
    pages = models.JSONField(default=dict)
    # Bit i set: day `day` + i had a deployment that reached the environment (the deployment
    # frequency's days; a month's 31 bits fit a signed 32-bit integer).
    active_days = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "environment", "group", "level", "day"],
                name="uniq_group_rollup",
            ),
        ]
        indexes = [
            # A range of weeks or months of every group (the per-service table).
            models.Index(
                fields=["organization", "environment", "level", "day"], name="group_rollup_days"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.group} {self.level} {self.day}"


class RollupPending(models.Model):
    """What a write changed, noted in the write's own transaction for the next metrics read
    to fold into the rollups (deployments/rollups/maintain.py). Append-only: concurrent
    writers never wait for each other here; the fold deduplicates."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # "" with no days: the whole group in every environment (deployments moved in bulk).
    environment = models.CharField(max_length=100, blank=True)
    group = models.CharField(max_length=520, blank=True)
    first_day = models.DateField(null=True)
    last_day = models.DateField(null=True)
    # A success: the failures it may recover (since the success before it) are refreshed.
    success_at = models.DateTimeField(null=True)
    # Links changed: the deployments sharing its changes are refreshed.
    deployment_id = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "id"], name="rollup_pending_order")]

    def __str__(self) -> str:
        return f"{self.environment} {self.group} {self.first_day}..{self.last_day}"
