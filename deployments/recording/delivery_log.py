"""A deployment's delivery log as people read it: each body pretty-printed, with what changed."""

import difflib
import json
from dataclasses import dataclass

from deployments.models import Delivery, Deployment


@dataclass(frozen=True)
class LoggedDelivery:
    delivery: Delivery
    pretty_body: str
    # Unified-diff lines against the previous delivery's body; None for the first one.
    diff: list[str] | None


def pretty_body(body: str) -> str:
    """JSON bodies indented with sorted keys (so key order is not a change); others as sent."""
    try:
        return json.dumps(json.loads(body), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return body


def body_diff(previous: str, current: str) -> list[str]:
    """The changed lines between two pretty bodies, with two lines of context."""
    lines = difflib.unified_diff(
        previous.splitlines(), current.splitlines(), "previous", "this", n=2, lineterm=""
    )
    return [line for line in lines if not line.startswith(("---", "+++"))]


def delivery_log(*, deployment: Deployment) -> list[LoggedDelivery]:
    entries: list[LoggedDelivery] = []
    previous: str | None = None
    for delivery in deployment.deliveries.order_by("received_at", "id"):
        pretty = pretty_body(delivery.body)
        diff = None if previous is None else body_diff(previous, pretty)
        entries.append(LoggedDelivery(delivery=delivery, pretty_body=pretty, diff=diff))
        previous = pretty
    return entries
