"""PagerDuty v3 webhook events: the documented examples under tests/fixtures/pagerduty/."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pagerduty"


def fixture(name: str) -> bytes:
    """An event's body, byte for byte (what the signature covers)."""
    return (FIXTURES / name).read_bytes()
