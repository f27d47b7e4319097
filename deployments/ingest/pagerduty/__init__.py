"""PagerDuty v3 incident webhooks: POST /api/webhooks/pagerduty/<org>."""
