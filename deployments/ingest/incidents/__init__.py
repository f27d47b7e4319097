"""The Periscope incidents API: POST /api/incidents."""
