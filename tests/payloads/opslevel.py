"""OpsLevel's custom deploys (seed 004) and its CLI: the request bodies and the documented answers."""

# The seed's request body (its braces were lost in the page's text; restored).
SEED = {
    "dedup_id": "9ae54794-dfc5-4ac8-b1b5-78789f20f3f8",
    "service": "shopping_cart",
    "deployer": {
        "id": "1a9f841f-9a3d-4423-a05a-7e9c31a02b16",
        "email": "[email protected]",
        "name": "Michael Scott",
    },
    "deployed_at": "2019-02-01 13:28:33",
    "environment": "Production",
    "description": "Deployed by CI Pipeline: Deploy #234",
    "deploy_url": "",
    "deploy_number": "234",
    "commit": {
        "sha": "38d02f1d7aab64678a7ad3eeb2ad2887ce7253f5",
        "message": "Merge branch 'fix-tax-rate' into 'master'",
        "branch": "master",
        "date": "2019-02-01 09:23:43",
        "committer_name": "Michael Scott",
        "committer_email": "[email protected]",
        "author_name": "Michael Scott",
        "author_email": "[email protected]",
        "authoring_date": "2019-02-01 09:23:43",
    },
}
OK = {"result": "ok"}
DUPLICATE = {
    "result": "duplicate_deploy",
    "message": "Deploy not created due to existing deploy with identical dedup_id",
}


def no_service_found(alias: str) -> dict:
    return {
        "result": "no_service_found",
        "message": f"No service found matching alias '{alias}'. Recording '{alias}' as a suggestion.",
    }


# What `opslevel create deploy -s owner/repo` sends (Go's encoding of its DeployEvent): RFC 3339
# with nanoseconds, the default deployer and description, an empty commit object.
CLI_BODY = (
    '{"service":"acme/shopping-cart","deployer":{"email":"automation@opslevel.com"},'
    '"deployed_at":"2024-03-05T17:04:12.123456789Z","description":"Event Created by OpsLevel CLI",'
    '"commit":{}}'
)
# The CLI run inside a git checkout with --environment, --dedup-id and a status: commit details
# come from go-git with the committer's local offset.
CLI_GIT_BODY = (
    '{"service":"acme/shopping-cart","deployer":{"email":"glen@example.com","name":"glen"},'
    '"deployed_at":"2024-03-05T17:04:12.5Z","description":"Hello World",'
    '"environment":"Production","deploy_url":"http://example.com","deploy_number":"10",'
    '"commit":{"sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","message":"Fix tax rate\\n",'
    '"date":"2024-03-05T16:58:01+01:00","committer_name":"Glen","committer_email":"glen@example.com",'
    '"author_name":"Glen","author_email":"glen@example.com",'
    '"authoring_date":"2024-03-05T15:40:00+01:00"},"dedup_id":"123456789","status":"running"}'
)
