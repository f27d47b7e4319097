"""Periscope's own webhook (seeds 000 and 001): the seed's example payloads and CI bodies."""

# The four example payloads of seed 001, verbatim.
SEED_MINIMAL = {
    "deploymentId": "azure-devops-run-12345",
    "commitSha": "a1b2c3d4e5f60ab2c3d4e5f60ab2c3d4e5f60ab2",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
}
SEED_FULL = {
    "deploymentId": "azure-devops-run-12345",
    "commitSha": "a1b2c3d4e5f60ab2c3d4e5f60ab2c3d4e5f60ab2",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
    "service": "api-gateway",
    "branch": "main",
    "previousCommitSha": "f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0",
    "triggeredBy": "[email protected]",
    "pipelineName": "Production Deploy",
    "pipelineUrl": "https://dev.azure.com/org/project/_build/results?buildId=12345",
    "metadata": {
        "version": "2.1.0",
        "releaseNotes": "Bug fixes and performance improvements",
        "featureFlags": "new-checkout-enabled",
    },
}
SEED_STAGING_IN_PROGRESS = {
    "deploymentId": "github-actions-run-67890",
    "commitSha": "b2c3d4e5f60ab2c3d4e5f60ab2c3d4e5f60ab2c3",
    "environment": "staging",
    "status": "in_progress",
    "startedAt": "2024-01-15T11:00:00Z",
    "service": "web-frontend",
    "branch": "release/v2.2",
    "triggeredBy": "automation",
    "pipelineName": "Staging Deploy",
}
SEED_FAILURE = {
    "deploymentId": "jenkins-build-99999",
    "commitSha": "c3d4e5f60ab2c3d4e5f60ab2c3d4e5f60ab2c3d4",
    "environment": "production",
    "status": "failure",
    "startedAt": "2024-01-15T12:00:00Z",
    "completedAt": "2024-01-15T12:05:00Z",
    "service": "payment-service",
    "triggeredBy": "bob",
    "pipelineUrl": "https://jenkins.company.com/job/deploy/99999",
    "metadata": {"errorCode": "HEALTH_CHECK_FAILED", "rollbackInitiated": True},
}

# The bodies the seed's shell snippets send, as the shell renders them.
GITHUB_ACTIONS_BODY = """{
              "deploymentId": "gha-7311245890",
              "commitSha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
              "environment": "production",
              "status": "success",
              "startedAt": "2024-01-15T10:29:13Z",
              "completedAt": "2024-01-15T10:34:02Z",
              "service": "web-frontend",
              "branch": "main",
              "triggeredBy": "octocat",
              "pipelineName": "Deploy and notify Periscope",
              "pipelineUrl": "https://github.com/acme/web-frontend/actions/runs/7311245890"
            }"""
AZURE_DEVOPS_BODY = """{
                  "deploymentId": "ado-4521",
                  "commitSha": "f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0",
                  "environment": "production",
                  "status": "failure",
                  "startedAt": "2024-01-15T10:20:31.4561234Z",
                  "completedAt": "2024-01-15T10:31:00Z",
                  "service": "api-gateway",
                  "branch": "main",
                  "triggeredBy": "Jane Doe",
                  "pipelineName": "api-gateway-CI",
                  "pipelineUrl": "https://dev.azure.com/acme/Platform/_build/results?buildId=4521"
                }"""
GENERIC_CURL_BODY = """{
    "deploymentId": "deploy-12345",
    "commitSha": "a1b2c3d4e5f60ab2c3d4e5f60ab2c3d4e5f60ab2",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
    "service": "my-service"
  }"""
