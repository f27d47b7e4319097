"""DevGrid's deployment events (seed 002): the seed's payloads and the bodies its snippets send."""

# --- the seed's payloads, verbatim (its `// ...` annotations dropped where they are notes) ---

REQUIRED_FIELDS = {
    "type": "event-deploy",
    "entityId": "your-app-id",
    "attributes": {"env": "production", "status": "success"},
}
RECOMMENDED_FIELDS = {
    "type": "event-deploy",
    "entityId": "your-app-id",
    "attributes": {
        "env": "production",
        "status": "success",
        "build_commit_sha": "a1b2c3d4",
        "change_id": "CHG0012345",
        "build_id": "build-123",
        "build_url": "https://...",
        "description": "Deploy v2.1.0",
        "initiator": "[email protected]",
    },
}
WORKFLOW_3_CHANGE_ID = {
    "type": "event-deploy",
    "entityId": "my-app",
    "attributes": {
        "env": "production",
        "status": "success",
        "build_commit_sha": "a1b2c3d4",
        "change_id": "CHG0012345",
        "description": "Deploy v2.1.0",
    },
}
WORKFLOW_4_FAILED = {
    "type": "event-deploy",
    "entityId": "my-app",
    "attributes": {
        "env": "production",
        "status": "failed",
        "build_commit_sha": "a1b2c3d4",
        "description": "Deployment failed: database migration error",
    },
}
WORKFLOW_5_ROLLBACK = {
    "type": "event-deploy",
    "entityId": "my-app",
    "attributes": {
        "env": "production",
        "status": "success",
        "build_commit_sha": "previous-working-sha",
        "description": "Rollback to v2.0.5 due to incident INC0045678",
        "change_id": "CHG0012346",
    },
}
WORKFLOW_6_HOTFIX = {
    "type": "event-deploy",
    "entityId": "my-app",
    "attributes": {
        "env": "production",
        "status": "success",
        "build_commit_sha": "hotfix-sha",
        "description": "Hotfix: Critical security patch CVE-2025-1234",
        "change_id": "CHG0012347",
        "deployment_type": "hotfix",
    },
}
SEED_EVENTS = [
    REQUIRED_FIELDS,
    RECOMMENDED_FIELDS,
    WORKFLOW_3_CHANGE_ID,
    WORKFLOW_4_FAILED,
    WORKFLOW_5_ROLLBACK,
    WORKFLOW_6_HOTFIX,
]

# Workflow 1's curl body, exactly as the shell passes it.
WORKFLOW_1_CURL_BODY = """{
"events": [{
"type": "event-deploy",
"entityId": "my-app",
"attributes": {
"env": "production",
"status": "success",
"build_commit_sha": "a1b2c3d4"
}
}]
}"""
# Workflow 7's curl body as printed: its `// Historical date` note is inside the quotes, so
# the shell sends it and the body is not JSON.
WORKFLOW_7_CURL_BODY_AS_PRINTED = """{
"events": [{
"type": "event-deploy",
"timestamp": "2025-01-15T14:30:00Z", // Historical date
"entityId": "my-app",
"attributes": {
"env": "production",
"status": "success",
"build_commit_sha": "historical-sha"
}
}]
}"""
WORKFLOW_7_CURL_BODY = WORKFLOW_7_CURL_BODY_AS_PRINTED.replace(" // Historical date", "")


def bash_template_body(*, status="success", description="Deployment successful", build_id=None):
    """The generic bash template's -d "..." as bash renders it, with DEVGRID_ENTITY_ID=my-app
    and BUILD_ID, COMMIT_SHA, BUILD_URL, INITIATOR unset (their defaults apply)."""
    build_id = "unknown" if build_id is None else build_id
    return f"""{{
"events": [{{
"type": "event-deploy",
"entityId": "my-app",
"attributes": {{
"env": "production",
"status": "{status}",
"build_id": "{build_id}",
"build_commit_sha": "unknown",
"build_url": "unknown",
"description": "{description}",
"initiator": "system"
}}
}}]
}}"""


# The GitHub Actions step's body once Actions has substituted ${{ ... }} and bash has
# joined '...'$STATUS'...' (STATUS=success).
GITHUB_ACTIONS_BODY = """{
"events": [{
"type": "event-deploy",
"entityId": "my-app",
"attributes": {
"env": "production",
"status": "success",
"build_id": "7311245890",
"build_commit_sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
"build_url": "https://github.com/acme/my-app/actions/runs/7311245890",
"description": "Deploy main",
"initiator": "octocat"
}
}]
}"""


def batch(*events):
    """The body DevGrid posts: the events in one batch."""
    return {"events": list(events)}
