"""POST /api/webhooks/gitlab/<org-slug>: GitLab webhooks (X-Gitlab-Token, the organization's
secret): pushes and merge requests for lead time, deployment events."""

from deployments.ingest.gitlab import adapter
from deployments.ingest.views import SignedWebhookView
from deployments.models import Source
from periscope.models import Provider
from periscope.secrets import signatures_match


class GitLabWebhook(SignedWebhookView):
    source = Source.GITLAB
    provider = Provider.GITLAB
    event_header = "X-Gitlab-Event"
    delivery_headers = ("Idempotency-Key", "X-Gitlab-Event-UUID")
    adapter = adapter

    def verify(self, request, secret: str, raw: bytes) -> bool:
        presented = request.headers.get("X-Gitlab-Token", "")
        return bool(presented) and signatures_match(secret, presented)
