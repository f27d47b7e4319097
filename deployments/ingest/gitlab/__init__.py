"""GitLab webhooks (push, merge request, deployment): POST /api/webhooks/gitlab/<org>."""
