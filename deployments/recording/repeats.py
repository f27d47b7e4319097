"""What a repeat delivery may change: the one rule for every format, deployments and incidents.

A repeat (a delivery whose idempotency key is already stored) adds to what is stored and
never erases it:

- a field the repeat carries replaces the stored value;
- a field it leaves out keeps the stored value. The canonical forms cannot tell an absent
  field from a null or an empty one, and no format gives "" a meaning of its own, so all
  three keep it;
- `metadata` merges key by key (the repeat's keys win);
- values an adapter assumed rather than read (`DeploymentEvent.assumed`) never replace a
  stored value;
- a repeat whose own time (the latest time it carries) is older than the stored state's is
  stale: it is logged as such and changes nothing, so a late or replayed event never rolls
  a deployment or an incident back.

These are pure functions over plain values; recording.py and incidents.py apply them under
the row lock.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any


def is_sent(value: Any) -> bool:
    """Whether a canonical value says something (absent, null and "" say nothing)."""
    return value is not None and value != ""


def latest(moments: Iterable[datetime | None]) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def is_stale(*, event_time: datetime | None, stored_time: datetime | None) -> bool:
    """An event older than the state stored; an event without a time of its own is never."""
    return event_time is not None and stored_time is not None and event_time < stored_time


def merged(
    *,
    stored: Mapping[str, Any],
    incoming: Mapping[str, Any],
    groups: Iterable[tuple[str, ...]] = (),
    merge_keys: Iterable[str] = ("metadata",),
    assumed: Iterable[str] = (),
) -> dict[str, Any]:
    """The values a repeat changes: {name: new value} for the fields whose value differs.

    `groups` are fields that only travel together, led by their first name (the service
    name sent, the id resolved from it and its lookup key): the group is replaced when its
    leader is sent, and kept whole when it is not."""
    assumed = set(assumed)
    followers: dict[str, str] = {}
    for group in groups:
        for name in group[1:]:
            followers[name] = group[0]
    merge_keys = set(merge_keys)
    changes: dict[str, Any] = {}
    for name, value in incoming.items():
        leader = followers.get(name, name)
        if leader in assumed or not is_sent(incoming[leader]):
            continue
        if name in merge_keys:
            value = {**(stored.get(name) or {}), **(value or {})}
        if stored.get(name) != value:
            changes[name] = value
    return changes
