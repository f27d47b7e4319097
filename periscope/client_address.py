"""The address a request came from, for per-client limits (failed authentications, /metrics).

REMOTE_ADDR is the peer, which behind a load balancer is the load balancer. X-Forwarded-For is
written by the client unless a proxy we trust overwrites or appends to it, so it is read only
when PERISCOPE_TRUSTED_PROXIES says how many proxies stand in front of the app servers: with
N proxies, each appending the address it received the request from, the client is the N-th
address from the right (anything further left was sent by the client and is not trusted).
"""

import ipaddress

from django.conf import settings


def _valid(candidate: str) -> str | None:
    candidate = candidate.strip()
    if candidate.startswith("[") and "]" in candidate:  # "[2001:db8::1]:443"
        candidate = candidate[1 : candidate.index("]")]
    elif candidate.count(":") == 1:  # "203.0.113.7:51234"
        candidate = candidate.partition(":")[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def client_address(request) -> str:
    peer = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()][-64:]
    if len(hops) < proxies:
        return peer  # it did not come through every proxy: the peer is all we know
    return _valid(hops[-proxies]) or peer
