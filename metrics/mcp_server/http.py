"""POST /mcp: the MCP streamable HTTP transport, served by the ordinary (WSGI) app servers.

The SDK's transport is an ASGI app. It runs here in its stateless, JSON-response mode: every
POST carries one JSON-RPC message and gets its whole answer in the response body, with no
session, no stream left open and nothing kept in process memory, so it fits gunicorn's sync
workers and any app server behind the load balancer can answer any request. Each request runs
the SDK's app to completion on an event loop of its own (asgiref's `async_to_sync`, which hands
the tools' database work back to this request's thread and connection).

The key is checked here the way the REST API checks it (`Authorization: Bearer`, `read`
scope, refused with the same 401/403 bodies), before any MCP message is read; each tool call
then runs a REST view, which checks it again and counts against the key's read rate limit.
"""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from mcp.server.transport_security import TransportSecuritySettings
from rest_framework.views import APIView

from metrics.mcp_server.dispatch import caller_from_meta, current_caller
from metrics.mcp_server.tools import server

PATH = "/mcp"


def _asgi_scope(request, body: bytes) -> dict:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.items()
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "server": (request.get_host().rsplit(":", 1)[0], int(request.get_port())),
    }


async def _run(scope: dict, body: bytes) -> HttpResponse:
    # A fresh app per request: its lifespan starts the SDK's task group, and nothing of it
    # outlives the request.
    app = server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=settings.MAX_BODY_BYTES,
        # Django checks the Host header against ALLOWED_HOSTS before this view runs.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    received = False
    started: dict = {}
    chunks: list[bytes] = []

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    response = HttpResponse(b"".join(chunks), status=started.get("status", 500))
    for name, value in started.get("headers", []):
        if name.lower() not in (b"content-length",):
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
    return response


@extend_schema(exclude=True)
class McpEndpoint(APIView):
    """MCP over streamable HTTP, stateless: POST only (no event stream, no sessions to end);
    GET and DELETE answer 405, which the protocol provides for servers without them."""

    throttle_classes = ()  # each tool call counts once, in the REST view it runs

    def perform_content_negotiation(self, request, force=False):
        # Refusals (401, 403, 405) are JSON whatever the client accepts: an MCP client's GET
        # asks for an event stream only, and should hear 405, not 406.
        return super().perform_content_negotiation(request, force=True)

    def post(self, request):
        body = request._request.body
        token = current_caller.set(caller_from_meta(request.META))
        try:
            return async_to_sync(_run)(_asgi_scope(request, body), body)
        finally:
            current_caller.reset(token)
