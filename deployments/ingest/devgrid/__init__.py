"""DevGrid's events API (seed 002): POST /events."""
