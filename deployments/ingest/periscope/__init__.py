"""The Periscope deployment webhook (seed 000/001): POST /api/webhooks/deployments."""
