"""The MCP server: read-only tools, each the REST API's answer to the same question.

Every tool maps its arguments to the query string of one REST endpoint and returns that
endpoint's body as its text (and parsed, as structured content). A refused question (a bad
date, an unknown id, a key without the `read` scope) is the REST API's error body, marked as a
tool error. Tools hold no state: any app server can answer any call.
"""

import json
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlsplit

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from deployments.models import Status
from metrics.mcp_server.dispatch import RestAnswer, current_caller, rest_get
from services.models import SuggestionStatus

INSTRUCTIONS = (
    "Periscope: deployments, incidents, services and DORA metrics of one organization (the "
    "API key's). Every tool is read-only and answers exactly as Periscope's REST API does. "
    "Lists are newest first, in pages: pass a page's `next` back as `cursor` for the next one."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)

Moment = Annotated[
    str | None, Field(description="ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T12:00Z")
]
Service = Annotated[
    str | None,
    Field(description="a service's id, slug, name or alias; or a name nobody catalogued"),
]
Limit = Annotated[int | None, Field(ge=1, le=500, description="page size, default 50")]
Cursor = Annotated[
    str | None,
    Field(description="the `next` (or `previous`) of the page before: the URL or its cursor"),
]
DeploymentStatus = Literal[tuple(Status.values)]
SuggestionState = Literal[tuple(SuggestionStatus.values)]

server = MCPServer(name="periscope", instructions=INSTRUCTIONS)


def _cursor(value: str | None) -> str | None:
    """A page's `next` URL or the bare cursor from it."""
    if not value or "cursor=" not in value:
        return value
    found = parse_qs(urlsplit(value).query).get("cursor")
    return found[0] if found else value


def _call(path: str, params: dict) -> RestAnswer:
    caller = current_caller.get()
    if caller.own_connections:
        close_old_connections()  # what Django does around each request; a stdio session is long
    try:
        return rest_get(path, params, caller=caller)
    finally:
        if caller.own_connections:
            close_old_connections()


async def answer(path: str, params: dict | None = None) -> CallToolResult:
    result = await sync_to_async(_call)(path, params or {})
    parsed = json.loads(result.body) if result.body else None
    return CallToolResult(
        content=[TextContent(type="text", text=result.body)],
        structured_content=parsed if isinstance(parsed, dict) else None,
        is_error=not result.ok,
    )


@server.tool(annotations=READ_ONLY)
async def dora_metrics(
    start: Annotated[Moment, Field(description="inclusive; the REST API's `from`")] = None,
    end: Annotated[Moment, Field(description="exclusive; the REST API's `to`")] = None,
    service: Service = None,
    team: str | None = None,
    environment: Annotated[str | None, Field(description="default production")] = None,
    interval: Literal["day", "week", "month"] | None = None,
) -> CallToolResult:
    """The four DORA metrics (deployment frequency, lead time for changes, change failure rate,
    failed deployment recovery time) with their levels: a summary for the range and a series per
    interval. Range: `start` inclusive (default 30 days before `end`), `end` exclusive (default
    the next UTC midnight). Optionally for one service or team. GET /api/metrics/dora."""
    params = {"from": start, "to": end, "service": service, "team": team}
    params |= {"environment": environment, "interval": interval}
    return await answer("/api/metrics/dora", params)


@server.tool(annotations=READ_ONLY)
async def list_deployments(
    service: Service = None,
    team: str | None = None,
    environment: str | None = None,
    status: Annotated[list[DeploymentStatus] | None, Field(description="any of these")] = None,
    source: str | None = None,
    change_id: str | None = None,
    commit_sha: str | None = None,
    completed_after: Moment = None,
    completed_before: Moment = None,
    has_incident: bool | None = None,
    unmatched: Annotated[bool | None, Field(description="only names no service matches")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> CallToolResult:
    """Deployments, newest first, one page: the filters of GET /api/deployments."""
    params = {"service": service, "team": team, "environment": environment, "status": status}
    params |= {"source": source, "change_id": change_id, "commit_sha": commit_sha}
    params |= {"completed_after": completed_after, "completed_before": completed_before}
    params |= {"has_incident": has_incident, "unmatched": unmatched}
    params |= {"limit": limit, "cursor": _cursor(cursor)}
    return await answer("/api/deployments", params)


@server.tool(annotations=READ_ONLY)
async def get_deployment(
    id: Annotated[int, Field(ge=1, le=2**63 - 1, description="the deployment's id")],
) -> CallToolResult:
    """One deployment with its metadata, the incidents attributed to it, the changes (pull
    requests, commits) it shipped with their lead times, and every delivery received for it as
    sent. GET /api/deployments/<id>."""
    return await answer(f"/api/deployments/{id}")


@server.tool(annotations=READ_ONLY)
async def list_incidents(
    service: Service = None,
    environment: str | None = None,
    severity: str | None = None,
    source: str | None = None,
    started_after: Moment = None,
    started_before: Moment = None,
    resolved: bool | None = None,
    attributed: Annotated[bool | None, Field(description="blamed on a deployment")] = None,
    deployment: Annotated[int | None, Field(ge=1, le=2**63 - 1)] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> CallToolResult:
    """Incidents, newest first, one page: the filters of GET /api/incidents."""
    params = {"service": service, "environment": environment, "severity": severity}
    params |= {"source": source, "started_after": started_after, "started_before": started_before}
    params |= {"resolved": resolved, "attributed": attributed, "deployment": deployment}
    params |= {"limit": limit, "cursor": _cursor(cursor)}
    return await answer("/api/incidents", params)


@server.tool(annotations=READ_ONLY)
async def list_services(
    team: str | None = None,
    name: Annotated[str | None, Field(description="contained in the name")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> CallToolResult:
    """The service catalog with every name each service is known by (aliases, repository),
    one page. GET /api/services."""
    params = {"team": team, "name": name, "limit": limit, "cursor": _cursor(cursor)}
    return await answer("/api/services", params)


@server.tool(annotations=READ_ONLY)
async def list_service_suggestions(
    status: SuggestionState | None = "open",
    limit: Limit = None,
    cursor: Cursor = None,
) -> CallToolResult:
    """Service names deployments arrived with that match no catalogued service (open: waiting
    for an admin), one page. GET /api/suggestions."""
    params = {"status": status, "limit": limit, "cursor": _cursor(cursor)}
    return await answer("/api/suggestions", params)
