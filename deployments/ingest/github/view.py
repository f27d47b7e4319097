"""POST /api/webhooks/github/<org-slug>: GitHub webhooks (X-Hub-Signature-256 with the
organization's secret): pushes and pull requests for lead time, deployment statuses."""

from deployments.ingest.github import adapter
from deployments.ingest.views import SignedWebhookView
from deployments.models import Source
from periscope.models import Provider
from periscope.secrets import hmac_sha256_hex, signatures_match


class GitHubWebhook(SignedWebhookView):
    source = Source.GITHUB
    provider = Provider.GITHUB
    event_header = "X-GitHub-Event"
    delivery_headers = ("X-GitHub-Delivery",)
    adapter = adapter

    def verify(self, request, secret: str, raw: bytes) -> bool:
        presented = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac_sha256_hex(secret=secret, body=raw)
        return bool(presented) and signatures_match(expected, presented.strip())
