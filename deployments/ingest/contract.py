"""What an integration's adapter provides: the three contracts of deployments/ingest.

An adapter is a module in its integration's folder. It turns a request into canonical values
and the recorder's result back into its vendor's exact answer; nothing format-specific gets
past it. Key-authenticated deployment formats (Periscope, DevGrid, Hivel, OpsLevel) are a
`DeploymentFormat`, driven by views.KeyWebhookView; incident formats (the incidents API,
PagerDuty) an `IncidentFormat`; the forges (GitHub, GitLab), whose one endpoint carries
several kinds of event, a `ForgeFormat`, driven by views.SignedWebhookView.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from deployments.incidents.recorder import IncidentResult
from deployments.recording.events import DeploymentEvent, RecordResult
from periscope.models import Organization


@dataclass(frozen=True, kw_only=True)
class Received:
    """What an adapter may need to know of the request besides its body."""

    organization: Organization
    received_at: datetime


class DeploymentFormat(Protocol):
    def parse(self, payload: dict[str, Any], *, received: Received) -> list[DeploymentEvent]:
        """The canonical events of a body, or InvalidPayload naming the field."""

    def render(
        self,
        *,
        payload: dict[str, Any],
        events: list[DeploymentEvent],
        results: list[RecordResult],
    ) -> tuple[int, dict]:
        """The vendor's answer (status, body) to the recorded events."""

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        """The vendor's error body."""


class IncidentFormat(Protocol):
    def parse(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for record_incident, or InvalidPayload naming the field."""

    def render(self, result: IncidentResult) -> tuple[int, dict]:
        """The answer (status, body) to the recorded incident."""


class ForgeFormat(Protocol):
    def handle(
        self, *, organization: Organization, event: str, payload: dict, body: str
    ) -> tuple[int, dict, str]:
        """Record one delivery of the forge's event kind; (status, body, outcome logged)."""
