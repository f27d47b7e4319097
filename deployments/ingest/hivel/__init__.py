"""Hivel's deployment webhook (seed 003): POST /api/hooks/v2/deployment."""
