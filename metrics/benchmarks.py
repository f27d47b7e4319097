"""Performance levels: versioned, data-driven tables. The response names the version used.

Each metric maps to ordered (level, test) rows; the first row whose bound holds wins.
"""

from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True)
class Bound:
    level: str
    below: float | None = None  # value < below
    at_most: float | None = None  # value <= at_most
    at_least: float | None = None  # value >= at_least

    def holds(self, value: float) -> bool:
        if self.below is not None:
            return value < self.below
        if self.at_most is not None:
            return value <= self.at_most
        if self.at_least is not None:
            return value >= self.at_least
        return True  # the catch-all row


# DORA 2023 levels as Apache DevLake adapted them.
TABLES: dict[str, dict[str, tuple[Bound, ...]]] = {
    "dora-2023": {
        "lead_time_seconds": (
            Bound("elite", below=DAY),
            Bound("high", below=7 * DAY),
            Bound("medium", below=30 * DAY),
            Bound("low"),
        ),
        "change_failure_rate": (
            Bound("elite", at_most=0.05),
            Bound("high", at_most=0.10),
            Bound("medium", at_most=0.15),
            Bound("low"),
        ),
        "recovery_seconds": (
            Bound("elite", below=3600.0),
            Bound("high", below=DAY),
            Bound("medium", below=7 * DAY),
            Bound("low"),
        ),
        # Median deployment days per week; the "medium" row is tested on days per month.
        "deployment_days_per_week": (
            Bound("elite", at_least=5),
            Bound("high", at_least=1),
        ),
        "deployment_days_per_month": (Bound("medium", at_least=1), Bound("low")),
    }
}
CURRENT = "dora-2023"


def level(metric: str, value: float | None, *, version: str = CURRENT) -> str | None:
    """The level of a value, or None when there is no value."""
    if value is None:
        return None
    for bound in TABLES[version][metric]:
        if bound.holds(value):
            return bound.level
    return None


def frequency_level(
    *, days_per_week: float | None, days_per_month: float | None, version: str = CURRENT
) -> str | None:
    if days_per_week is None:
        return None
    return level("deployment_days_per_week", days_per_week, version=version) or level(
        "deployment_days_per_month", days_per_month or 0, version=version
    )
