"""GitHub webhooks (push, pull_request, deployment_status): POST /api/webhooks/github/<org>."""
