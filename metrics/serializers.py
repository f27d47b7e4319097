"""JSON shapes of the metrics and list APIs (camelCase, durations in seconds)."""

from rest_framework import serializers


class FrequencySerializer(serializers.Serializer):
    deployments = serializers.IntegerField()
    deploymentDays = serializers.IntegerField(source="deployment_days")
    perDay = serializers.FloatField(source="per_day")
    level = serializers.CharField(allow_null=True)


class LeadTimeSerializer(serializers.Serializer):
    medianSeconds = serializers.FloatField(source="median_seconds", allow_null=True)
    p90Seconds = serializers.FloatField(source="p90_seconds", allow_null=True)
    meanSeconds = serializers.FloatField(source="mean_seconds", allow_null=True)
    changes = serializers.IntegerField()
    level = serializers.CharField(allow_null=True)
    deploymentsWithoutChanges = serializers.IntegerField(
        source="deployments_without_changes",
        help_text="Successful production deployments that shipped no change with a known start",
    )
    codingMeanSeconds = serializers.FloatField(source="coding_mean_seconds", allow_null=True)
    reviewMeanSeconds = serializers.FloatField(source="review_mean_seconds", allow_null=True)
    waitingMeanSeconds = serializers.FloatField(source="waiting_mean_seconds", allow_null=True)


class ChangeFailureRateSerializer(serializers.Serializer):
    rate = serializers.FloatField(allow_null=True, help_text="A fraction: 0.125, not 12.5")
    failed = serializers.IntegerField()
    rolledBack = serializers.IntegerField(source="rolled_back")
    incidentCaused = serializers.IntegerField(source="incident_caused")
    total = serializers.IntegerField()
    level = serializers.CharField(allow_null=True)


class RecoverySerializer(serializers.Serializer):
    medianSeconds = serializers.FloatField(source="median_seconds", allow_null=True)
    p90Seconds = serializers.FloatField(source="p90_seconds", allow_null=True)
    recovered = serializers.IntegerField()
    open = serializers.IntegerField()
    level = serializers.CharField(allow_null=True)


class TimeToRestoreSerializer(serializers.Serializer):
    medianSeconds = serializers.FloatField(source="median_seconds", allow_null=True)
    resolved = serializers.IntegerField()
    open = serializers.IntegerField()


class ReworkRateSerializer(serializers.Serializer):
    rate = serializers.FloatField(
        allow_null=True, help_text="A fraction of the deployments that reached the environment"
    )
    rework = serializers.IntegerField(
        help_text="Declared rework, detected rollbacks and deployments during an open incident"
    )
    total = serializers.IntegerField(help_text="Deployments that reached the environment")
    level = serializers.CharField(
        allow_null=True, help_text="Always null: DORA publishes no performance levels for it"
    )


class MetricsSerializer(serializers.Serializer):
    deploymentFrequency = FrequencySerializer(source="deployment_frequency")
    leadTime = LeadTimeSerializer(source="lead_time")
    changeFailureRate = ChangeFailureRateSerializer(source="change_failure_rate")
    failedDeploymentRecoveryTime = RecoverySerializer(source="failed_deployment_recovery_time")
    incidentTimeToRestore = TimeToRestoreSerializer(source="incident_time_to_restore")
    reworkRate = ReworkRateSerializer(source="rework_rate")


class BucketSerializer(MetricsSerializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()

    class Meta:
        fields = ["start", "end"]


class RangeSerializer(serializers.Serializer):
    # "from" is a Python keyword: declared in __init__ below.
    to = serializers.DateTimeField()
    environment = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    team = serializers.CharField(allow_null=True)
    interval = serializers.ChoiceField(choices=["day", "week", "month"])

    def get_fields(self):
        fields = super().get_fields()
        return {"from": serializers.DateTimeField(), **fields}


class DoraReportSerializer(serializers.Serializer):
    range = RangeSerializer()
    benchmarks = serializers.CharField()
    summary = MetricsSerializer()
    series = BucketSerializer(many=True)


# --- lists -----------------------------------------------------------------------------
