"""Answer an MCP tool by running the REST API's own view in-process.

A tool's answer is the body the REST API sends for the same question: the same URL resolves to
the same view, whose authentication, scope check, rate limit, filterset, serializer, renderer
and error handler all run as they do for an HTTP client. A change on the REST side (a field, a
renderer) therefore reaches the tools with no second implementation to keep in step.
"""

import io
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.handlers.wsgi import WSGIRequest
from django.urls import resolve

# What a dispatched request carries over from the MCP caller: the credentials and the
# addressing a REST request would have had (host and scheme for the pages' `next` links, the
# client address for the failed-authentication limit). Set per HTTP request by the /mcp view,
# once per process by `manage.py mcp`.
FORWARDED_META = (
    "HTTP_AUTHORIZATION",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "REMOTE_ADDR",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "wsgi.url_scheme",
)


@dataclass(frozen=True)
class Caller:
    meta: dict = field(default_factory=dict)
    # A long stdio session checks its database connection around each call, as Django does
    # around each request; over HTTP the enclosing request does that.
    own_connections: bool = False


current_caller: ContextVar[Caller] = ContextVar("mcp_caller")


@dataclass(frozen=True)
class RestAnswer:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def caller_from_meta(meta) -> Caller:
    return Caller(meta={name: meta[name] for name in FORWARDED_META if name in meta})


def stdio_caller(*, key: str, host: str) -> Caller:
    return Caller(
        meta={
            "HTTP_AUTHORIZATION": f"Bearer {key}",
            "HTTP_HOST": host,
            "SERVER_NAME": host.split(":")[0],
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
        },
        own_connections=True,
    )


def query_string(params: dict) -> str:
    """The query string of a REST request: None is left out, booleans as the filters read
    them, lists repeated (`status=failure&status=success`)."""
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for one in values:
            pairs.append((name, str(one).lower() if isinstance(one, bool) else str(one)))
    return urlencode(pairs)


def rest_get(path: str, params: dict, *, caller: Caller) -> RestAnswer:
    """GET `path` through its REST view as `caller` would; the rendered status and body."""
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query_string(params),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        **caller.meta,
    }
    request = WSGIRequest(environ)
    match = resolve(path)
    response = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render"):
        response.render()
    return RestAnswer(status=response.status_code, body=response.content.decode("utf-8"))
