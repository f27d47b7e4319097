"""`manage.py mcp --key KEY`: the MCP server over stdio, for a desktop AI assistant.

The assistant starts this command and speaks JSON-RPC on its stdin and stdout; stdout carries
nothing else (errors and logs go to stderr). Every tool call runs as a REST request made with
the key, so a key revoked while the assistant runs is refused from its next call on.
"""

import os

import anyio
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metrics.mcp_server.dispatch import current_caller, stdio_caller
from metrics.mcp_server.tools import server
from periscope.keys import find_active_key
from periscope.models import Scope
from periscope.permissions import missing_scope_message

KEY_VARIABLE = "PERISCOPE_API_KEY"


def default_host() -> str:
    """The host the pages' `next` links name: the first plain ALLOWED_HOSTS entry."""
    for host in settings.ALLOWED_HOSTS:
        if host and host != "*" and not host.startswith("."):
            return host
    return "localhost"


class Command(BaseCommand):
    help = (
        "Serve MCP over stdin/stdout for one organization, as its API key (read scope). "
        f"The key comes from --key or the {KEY_VARIABLE} environment variable."
    )

    def add_arguments(self, parser):
        parser.add_argument("--key", default=None, help=f"a read-scoped API key ({KEY_VARIABLE})")
        parser.add_argument(
            "--host",
            default=None,
            help="the host in the pages' next links (default: ALLOWED_HOSTS)",
        )

    def handle(self, *args, key: str | None, host: str | None, **options):
        key = (key or os.environ.get(KEY_VARIABLE, "")).strip()
        if not key:
            raise CommandError(f"an API key is needed: --key psk_… or {KEY_VARIABLE}=psk_…")
        api_key = find_active_key(plaintext=key)
        if api_key is None:
            raise CommandError("Invalid API key: unknown, revoked or expired")
        if not api_key.has_scope(Scope.READ):
            raise CommandError(missing_scope_message(Scope.READ))
        current_caller.set(stdio_caller(key=key, host=host or default_host()))
        anyio.run(server.run_stdio_async)
