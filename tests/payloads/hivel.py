"""Hivel's deployment events (seed 003): the seed's curl body, its answer, its required fields."""

import json

# The seed's curl example body, exactly as the shell passes it.
SEED_CURL_BODY = """{
    "deployment_id": "deploy-20250922-1200",
    "event_type": "completed",
    "status": "success",
    "repo_url": "https://github.com/hivelai/webhook-logger",
    "commit_hash": "abc123def456789012345678901234567890abcd",
    "environment": "production",
    "start_time": "2025-09-22T12:00:00Z",
    "end_time": "2025-09-22T12:15:30Z",
    "branch": "main",
    "build_number": "12345",
    "pr_number": "71",
    "pr_numbers": [71,35,23],
    "image": "company/api-service:v1.2.3",
    "logs_url": "https://logs.example.com/deploy/20250922-1200"
  }"""
SEED = json.loads(SEED_CURL_BODY)
SEED_SUCCESS_RESPONSE = {
    "message": "Deployment event stored successfully",
    "deployment_id": "deploy-20250922-1200",
    "success": True,
}
REQUIRED = [
    "deployment_id",
    "event_type",
    "status",
    "start_time",
    "end_time",
    "repo_url",
    "environment",
    "branch",
]
