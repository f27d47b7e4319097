"""The MCP server, through the SDK's own client over both transports, against real processes:
gunicorn with the repo's production configuration (REST API and POST /mcp) and
`manage.py mcp --key` over stdio, on one database filled through the real webhooks.

Every tool's answer is compared with the REST API's live response to the same question, byte
for byte, so the two stay one implementation whatever the REST side renders.
"""

import json
import subprocess
import sys
from dataclasses import dataclass

import anyio
import httpx
import httpx2
import pytest
from django.conf import settings
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests import live_servers
from tests.payloads.periscope import SEED_FAILURE, SEED_FULL, SEED_STAGING_IN_PROGRESS

TOOLS = {
    "dora_metrics",
    "list_deployments",
    "get_deployment",
    "list_incidents",
    "list_services",
    "list_service_suggestions",
}
JANUARY = {"from": "2024-01-01", "to": "2024-02-01"}  # the REST query
JANUARY_TOOL = {"start": "2024-01-01", "end": "2024-02-01"}  # the same range as tool arguments

CATALOG = """
from periscope.models import Organization
from services.catalog import add_alias, create_service
from tests.factories import IncidentFactory
acme = Organization.objects.get(slug="acme")
gateway = create_service(organization=acme, name="api-gateway", team="edge")
add_alias(service=gateway, name="gateway")
create_service(organization=acme, name="payment-service", team="payments")
globex = Organization.objects.get(slug="globex")
create_service(organization=globex, name="globex-secret-service", team="edge")
"""
INCIDENT = """
import datetime
from deployments.models import Deployment
from periscope.models import Organization
from tests.factories import IncidentFactory
acme = Organization.objects.get(slug="acme")
failed = Deployment.objects.get(organization=acme, external_id="jenkins-build-99999")
IncidentFactory(organization=acme, external_id="INC-1", title="Checkout down",
    service=failed.service, service_name="payment-service", environment="production",
    severity="sev1", deployment=failed, attributed_by="manual",
    started_at=datetime.datetime(2024, 1, 15, 12, 10, tzinfo=datetime.UTC),
    resolved_at=datetime.datetime(2024, 1, 15, 13, 0, tzinfo=datetime.UTC))
"""


@dataclass(frozen=True)
class Site:
    base: str
    database_url: str
    read_key: str  # acme, read only
    ingest_key: str  # acme, ingest only
    other_key: str  # globex, read and ingest

    @property
    def host(self) -> str:
        return self.base.removeprefix("http://")


def key(database_url: str, org: str, *scopes: str) -> str:
    args = [a for scope in scopes for a in ("--scope", scope)]
    return live_servers.manage(database_url, "create_api_key", org, *args).strip().splitlines()[-1]


def post_deployment(base: str, key: str, payload: dict) -> None:
    response = httpx.post(
        f"{base}/api/webhooks/deployments",
        json=payload,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if postgres:
        url = live_servers.url_beside(settings.DATABASES["default"], "mcp")
        live_servers.create_database(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('mcp') / 'periscope.sqlite3'}"
    try:
        live_servers.manage(url, "migrate", "--noinput")
        for org in ("acme", "globex"):
            live_servers.manage(url, "create_organization", org)
        live_servers.manage(url, "shell", "-c", CATALOG)
        both, other = key(url, "acme"), key(url, "globex")
        read, ingest = key(url, "acme", "read"), key(url, "acme", "ingest")
        with live_servers.gunicorn(url, workers=2) as base:
            for payload in (SEED_FULL, SEED_FAILURE, SEED_STAGING_IN_PROGRESS):
                post_deployment(base, both, payload)
            # A repeat delivery (kept in the delivery log) and a name nobody catalogued.
            post_deployment(base, both, {**SEED_FULL, "metadata": {"version": "2.1.1"}})
            post_deployment(base, both, {**SEED_MINIMAL_UNKNOWN, "service": "billing-worker"})
            post_deployment(base, other, {**SEED_FULL, "service": "globex-secret-service"})
            live_servers.manage(url, "shell", "-c", INCIDENT)
            yield Site(base=base, database_url=url, read_key=read, ingest_key=ingest,
                       other_key=other)  # fmt: skip
    finally:
        if postgres:
            live_servers.drop_database(url)


SEED_MINIMAL_UNKNOWN = {
    "deploymentId": "circleci-4242",
    "commitSha": "d4e5f60ab2c3d4e5f60ab2c3d4e5f60ab2c3d4e5",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-16T09:00:00Z",
    "completedAt": "2024-01-16T09:04:00Z",
}


def rest(site: Site, path: str, params=None, *, key: str | None = None) -> httpx.Response:
    return httpx.get(
        f"{site.base}{path}",
        params=params,
        headers={"Authorization": f"Bearer {key or site.read_key}"},
        timeout=30,
    )


def http_client(site: Site, key: str) -> Client:
    transport = streamable_http_client(
        f"{site.base}/mcp",
        http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30),
        terminate_on_close=False,
    )
    return Client(transport)


def stdio_client(site: Site, key: str) -> Client:
    command = [str(live_servers.REPO / "manage.py"), "mcp", "--key", key, "--host", site.host]
    return Client(
        StdioServerParameters(
            command=sys.executable,
            args=command,
            env=live_servers.server_env(site.database_url),
            cwd=str(live_servers.REPO),
        )
    )


TRANSPORTS = {"http": http_client, "stdio": stdio_client}


def ask(site: Site, transport: str, calls: list[tuple[str, dict]], *, key: str | None = None):
    """(tool names, results of the calls) over one connection of `transport`."""

    async def run():
        async with TRANSPORTS[transport](site, key or site.read_key) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
            return names, results

    return anyio.run(run)


def text(result) -> str:
    assert len(result.content) == 1
    return result.content[0].text


def first_deployment_id(site: Site, external_id: str) -> int:
    listed = rest(site, "/api/deployments", {"limit": 500}).json()["results"]
    return next(d["id"] for d in listed if d["externalId"] == external_id)


def questions(site: Site) -> list[tuple[str, dict, str, dict | list]]:
    """(tool, arguments, REST path, REST query) asking the same thing."""
    deployment = first_deployment_id(site, SEED_FULL["deploymentId"])
    return [
        ("dora_metrics", JANUARY_TOOL, "/api/metrics/dora", JANUARY),
        ("dora_metrics", {**JANUARY_TOOL, "service": "gateway", "interval": "day"},
         "/api/metrics/dora", {**JANUARY, "service": "gateway", "interval": "day"}),
        ("dora_metrics", {**JANUARY_TOOL, "team": "payments", "environment": "staging"},
         "/api/metrics/dora", {**JANUARY, "team": "payments", "environment": "staging"}),
        ("list_deployments", {}, "/api/deployments", {}),
        ("list_deployments", {"status": ["failure", "success"], "environment": "production",
                              "has_incident": True},
         "/api/deployments", [("status", "failure"), ("status", "success"),
                              ("environment", "production"), ("has_incident", "true")]),
        ("list_deployments", {"unmatched": True}, "/api/deployments", {"unmatched": "true"}),
        ("list_deployments", {"limit": 1}, "/api/deployments", {"limit": 1}),
        ("get_deployment", {"id": deployment}, f"/api/deployments/{deployment}", {}),
        ("list_incidents", {"service": "payment-service", "resolved": True},
         "/api/incidents", {"service": "payment-service", "resolved": "true"}),
        ("list_services", {}, "/api/services", {}),
        ("list_services", {"team": "edge"}, "/api/services", {"team": "edge"}),
        ("list_service_suggestions", {}, "/api/suggestions", {"status": "open"}),
    ]  # fmt: skip


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_every_tool_answers_what_the_rest_api_answers(site, transport):
    asked = questions(site)
    names, results = ask(site, transport, [(tool, args) for tool, args, _, _ in asked])
    assert names == TOOLS
    for (tool, arguments, path, query), result in zip(asked, results, strict=True):
        expected = rest(site, path, query)
        assert expected.status_code == 200, (path, expected.text)
        assert not result.is_error, (tool, text(result))
        assert text(result) == expected.text, (tool, arguments)
        assert result.structured_content == expected.json()


def test_the_answers_hold_what_a_user_asks_for(site):
    """Not only equal to REST: the data is there (aliases, deliveries, incidents,
    suggestions), so an empty REST answer could not pass the comparison above unnoticed."""
    deployment = first_deployment_id(site, SEED_FULL["deploymentId"])
    calls = [
        ("list_services", {}),
        ("get_deployment", {"id": deployment}),
        ("list_service_suggestions", {}),
        ("list_incidents", {}),
        ("dora_metrics", JANUARY_TOOL),
    ]
    _, (services, detail, suggestions, incidents, dora) = ask(site, "http", calls)
    catalog = {s["slug"]: s for s in json.loads(text(services))["results"]}
    assert set(catalog) == {"api-gateway", "payment-service"}
    assert "gateway" in {a["name"] for a in catalog["api-gateway"]["aliases"]}
    shown = json.loads(text(detail))
    assert [d["action"] for d in shown["deliveries"]] == ["created", "updated"]
    assert json.loads(shown["deliveries"][1]["body"])["metadata"] == {"version": "2.1.1"}
    names = {s["name"] for s in json.loads(text(suggestions))["results"]}
    assert names == {"billing-worker", "web-frontend"}  # sent, never catalogued
    assert [i["title"] for i in json.loads(text(incidents))["results"]] == ["Checkout down"]
    assert "3" in json.dumps(json.loads(text(dora))["summary"])  # three production deploys


def test_a_page_cursor_leads_to_the_next_page(site):
    _, (first,) = ask(site, "http", [("list_deployments", {"limit": 2})])
    page = json.loads(text(first))
    _, (second,) = ask(site, "http", [("list_deployments", {"limit": 2, "cursor": page["next"]})])
    expected = httpx.get(page["next"], headers={"Authorization": f"Bearer {site.read_key}"})
    assert text(second) == expected.text
    seen = [d["id"] for d in page["results"] + json.loads(text(second))["results"]]
    assert len(set(seen)) == len(seen) == 4


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_another_organizations_key_sees_nothing_of_this_one(site, transport):
    acme_deployment = first_deployment_id(site, SEED_FULL["deploymentId"])
    calls = [
        ("list_deployments", {}),
        ("list_services", {}),
        ("list_service_suggestions", {}),
        ("list_incidents", {}),
        ("get_deployment", {"id": acme_deployment}),
    ]
    _, (deployments, services, suggestions, incidents, detail) = ask(
        site, transport, calls, key=site.other_key
    )
    seen = " ".join(text(r) for r in (deployments, services, suggestions, incidents, detail))
    for acme_thing in ("api-gateway", "payment-service", "billing-worker", "Checkout down"):
        assert acme_thing not in seen
    assert [d["service"] for d in json.loads(text(deployments))["results"]] == [
        "globex-secret-service"
    ]
    assert detail.is_error
    path = f"/api/deployments/{acme_deployment}"
    assert text(detail) == rest(site, path, key=site.other_key).text
    assert rest(site, path, key=site.other_key).status_code == 404


@pytest.mark.parametrize(
    "tool, arguments, field",
    [
        ("dora_metrics", {"start": "yesterday-ish"}, "from"),
        ("dora_metrics", {"interval": "fortnight"}, "interval"),
        ("dora_metrics", {"start": "2024-02-01", "end": "2024-01-01"}, "from"),
        ("list_deployments", {"completed_after": "not a date"}, "completedAfter"),
        ("list_deployments", {"status": ["exploded"]}, "status"),
        ("list_deployments", {"limit": 0}, "limit"),
        ("get_deployment", {"id": "seven"}, "id"),
        ("get_deployment", {}, "id"),
        ("list_incidents", {"deployment": -3}, "deployment"),
        ("list_service_suggestions", {"status": "maybe"}, "status"),
    ],
)
def test_bad_inputs_are_clear_errors_naming_the_field(site, tool, arguments, field):
    _, (result,) = ask(site, "http", [(tool, arguments)])
    assert result.is_error
    assert field in text(result)


def test_an_unknown_deployment_is_the_rest_apis_404(site):
    _, (result,) = ask(site, "http", [("get_deployment", {"id": 987654})])
    assert result.is_error
    assert text(result) == rest(site, "/api/deployments/987654").text


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "curl", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize(
    "authorization, status",
    [
        (None, 401),
        ("Bearer psk_" + "x" * 40, 401),
        ("Basic dXNlcjpwYXNz", 401),
        ("ingest", 403),
    ],
)
def test_http_refuses_a_wrong_absent_or_ingest_only_key(site, authorization, status):
    headers = dict(MCP_HEADERS)
    if authorization == "ingest":
        authorization = f"Bearer {site.ingest_key}"
    if authorization:
        headers["Authorization"] = authorization
    response = httpx.post(f"{site.base}/mcp", json=INITIALIZE, headers=headers, timeout=30)
    assert response.status_code == status
    same_on_rest = (
        rest(site, "/api/deployments", key=authorization.split(" ")[-1])
        if (authorization and authorization.startswith("Bearer"))
        else None
    )
    if same_on_rest is not None:
        assert response.json() == same_on_rest.json()
    assert "key" in response.json()["error"].lower() or "scope" in response.json()["error"]


def test_http_with_a_read_key_answers_initialize_as_json(site):
    response = httpx.post(
        f"{site.base}/mcp",
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": f"Bearer {site.read_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["serverInfo"]["name"] == "periscope"


def test_http_has_no_event_stream_or_sessions(site):
    """Stateless: nothing for a GET stream or a DELETE to hold on an app server."""
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {site.read_key}"}
    assert httpx.get(f"{site.base}/mcp", headers=headers, timeout=30).status_code == 405
    assert httpx.delete(f"{site.base}/mcp", headers=headers, timeout=30).status_code == 405


def test_the_sdk_client_is_refused_with_an_ingest_only_key(site):
    with pytest.raises(BaseException) as refused:  # the SDK's own error, whatever its class
        ask(site, "http", [], key=site.ingest_key)
    # The SDK names no status; the raw 403 and its body are checked above.
    assert "Server returned an error response" in describe(refused.value)


def describe(error: BaseException) -> str:
    """An error with its causes and grouped errors, as text."""
    parts = [repr(error), str(error)]
    for inner in getattr(error, "exceptions", ()):
        parts.append(describe(inner))
    if error.__cause__ is not None:
        parts.append(describe(error.__cause__))
    return " ".join(parts)


def run_stdio(args: list[str], *, env: dict) -> subprocess.CompletedProcess:
    """`manage.py mcp ARGS` run to its end with nothing on its standard input."""
    return subprocess.run(
        [sys.executable, str(live_servers.REPO / "manage.py"), "mcp", *args],
        env=env,
        cwd=live_servers.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "key_of, message",
    [
        (lambda s: "psk_" + "y" * 40, "Invalid API key"),
        (lambda s: "not-a-key", "Invalid API key"),
        (lambda s: s.ingest_key, "lacks the 'read' scope"),
    ],
)
def test_stdio_refuses_a_wrong_or_ingest_only_key(site, key_of, message):
    finished = run_stdio(["--key", key_of(site)], env=live_servers.server_env(site.database_url))
    assert finished.returncode == 1
    assert message in finished.stderr
    assert finished.stdout == ""


def test_stdio_without_a_key_says_how_to_give_one(site):
    env = live_servers.server_env(site.database_url)
    env.pop("PERISCOPE_API_KEY", None)
    finished = run_stdio([], env=env)
    assert finished.returncode == 1
    assert "--key" in finished.stderr
