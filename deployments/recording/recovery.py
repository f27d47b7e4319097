"""`Deployment.recovered_at`: the stored next success of a failed production deployment.

On a failed or rolled-back production deployment, `recovered_at` is the completion time of
the next successful deployment (completed strictly later) of the same pairing key (the
service, or the normalized name while unmatched) in production, when known. NULL means
"not known": the metrics then look the next success up themselves, so a NULL is only slower,
never wrong. Every path here may leave NULL; none may store a value that is not the next
success once its transaction commits.

Who writes (all but the backfill inside the writer's own transaction):
- a new production success: one UPDATE of the failures it recovers (`after_insert`);
- a new failure: nothing (a lookup could miss a success committed concurrently);
- a changed deployment: `before_change` (old values read from its locked row);
- rows inserted in bulk (imports): `prepare_bulk_insert` computes the values of the new
  failures for their COPY rows, `finish_bulk_insert` lowers the stored failures they recover;
- bulk moves between pairing groups: `regrouping`; the bench: `backfill_recovery`.

Concurrency (PostgreSQL, READ COMMITTED): a writer takes a transaction-scoped advisory lock
per (organization, environment, pairing key) before its statements, so writers of a group run
one after another and each one's statements see every earlier writer's committed rows. A
success recorded concurrently but not yet at its own UPDATE may be invisible to a writer,
which then stores a later value; that success's UPDATE, which runs after the writer commits
and sees the failure, lowers it (it only ever lowers values). A failure not committed yet is
invisible to every writer and stays NULL. Row locks and PostgreSQL's re-check of the WHERE
clause on a concurrently updated row make simultaneous updates of one failure end at the
minimum. SQLite runs one write transaction at a time, so it needs no lock.

Deadlocks: a transaction that takes the locks of two groups one after the other (a batch with
production successes of two services; a failure redelivered as a success while another
success of its service is being recorded, whose UPDATE waits for the failure's row) can
deadlock with another; PostgreSQL then aborts one of them (an error, nothing stored), as for
other lock-order conflicts. A batch can avoid it by taking all its groups' locks up front,
in one `lock_groups` call (sorted), before recording.
"""

import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import connection, transaction

from deployments.models import FAILED_STATUSES, Deployment, Status
from deployments.recording.environments import PRODUCTION
from deployments.recording.service_group import ServiceGroup
from periscope import rows

# Fields whose change can change a recovery; any other change costs nothing here.
RELEVANT = ("status", "completed_at", "service_id", "service_key", "environment")
# What `after_insert` is told of a new deployment, besides its id.
INSERT_FIELDS = ("status", "environment", "service_id", "service_key", "completed_at")
# Earlier than any completion time: the lower bound when no success precedes.
_FLOOR = datetime(1, 1, 2, tzinfo=UTC)


def _table() -> str:
    return connection.ops.quote_name(Deployment._meta.db_table)


def _when(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _group_sql(group: ServiceGroup, alias: str = "") -> tuple[str, list]:
    prefix = f"{alias}." if alias else ""
    if group.service_id is not None:
        return f"{prefix}service_id = %s", [group.service_id]
    return f"{prefix}service_id IS NULL AND {prefix}service_key = %s", [group.service_key]


def lock_key(*, organization_id: int, group: ServiceGroup) -> str:
    """The text a group's lock is named by; the database hashes it (LOCK_KEY_SQL), so a
    statement can also name the lock of a group it reads from a row (the repeat's)."""
    return f"recovery|{organization_id}|{group.service_id}|{group.service_key}"


# lock_key() of a deployment row `d` in SQL (for a matched service the name does not count).
LOCK_KEY_SQL = (
    "'recovery|' || d.organization_id || '|' || COALESCE(d.service_id::text, 'None') || '|'"
    " || CASE WHEN d.service_id IS NULL THEN d.service_key ELSE '' END"
)


def _lock_sql(*, organization_id: int, groups: Iterable[ServiceGroup]) -> tuple[str, list]:
    """The statement taking the groups' advisory locks in a fixed order (their hashes, so no
    deadlock between two writers that need two groups); ("", []) on SQLite."""
    if connection.vendor != "postgresql":
        return "", []
    keys = sorted({lock_key(organization_id=organization_id, group=g) for g in groups})
    if not keys:
        return "", []
    if len(keys) == 1:
        return "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", keys
    # The lock call is volatile: PostgreSQL evaluates it after the sort, in order.
    return (
        "SELECT pg_advisory_xact_lock(k) FROM "
        "(SELECT DISTINCT hashtextextended(t, 0) AS k FROM unnest(%s::text[]) AS t) s ORDER BY k",
        [keys],
    )


# One group's lock (as _lock_sql gives it), with SET LOCAL plan_cache_mode in the same statement.
_LOCK_ONE_WITH_GENERIC_PLAN = (
    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)), "
    "set_config('plan_cache_mode', 'force_generic_plan', true)"
)


def lock_groups(*, organization_id: int, groups: Iterable[ServiceGroup]) -> None:
    """Serialize with every other writer of these groups until the transaction ends."""
    sql, params = _lock_sql(organization_id=organization_id, groups=groups)
    if sql:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _recover_sql(
    *, organization_id: int, group: ServiceGroup, completed_at: datetime, deployment_id: int
) -> tuple[str, list]:
    """The UPDATE giving a success at `completed_at` to the failures it is the next success
    of: those of its group completed in [previous success, it), whose value is unknown or
    later. The previous success bounds the range, so no success lies between (and the scan
    is an index range, not the group's history)."""
    table = _table()
    group_where, group_params = _group_sql(group)
    when = _when(completed_at)
    sql = f"""
        UPDATE {table} SET recovered_at = %s
        WHERE organization_id = %s AND environment = %s AND status IN (%s, %s) AND {group_where}
          AND completed_at < %s
          AND completed_at >= COALESCE((
              SELECT completed_at FROM {table}
              WHERE organization_id = %s AND environment = %s AND status = %s AND {group_where}
                AND completed_at < %s AND id <> %s
              ORDER BY completed_at DESC LIMIT 1
          ), %s)
          AND (recovered_at IS NULL OR recovered_at > %s)
          AND id <> %s
    """
    params = [when, organization_id, PRODUCTION, *FAILED_STATUSES, *group_params, when]
    params += [organization_id, PRODUCTION, Status.SUCCESS.value, *group_params, when]
    params += [deployment_id, _when(_FLOOR), when, deployment_id]
    return sql, params


def _is_production_success(state: dict) -> bool:
    return (
        state["status"] == Status.SUCCESS
        and state["environment"] == PRODUCTION
        and state["completed_at"] is not None
    )


def takes_lock(*, status: str, environment: str, completed_at: datetime | None) -> bool:
    """Whether after_insert takes the group's recovery lock for a new deployment."""
    return _is_production_success(
        {"status": status, "environment": environment, "completed_at": completed_at}
    )


def after_insert(
    *,
    organization_id: int,
    deployment_id: int,
    status: str,
    environment: str,
    service_id: int | None,
    service_key: str,
    completed_at: datetime | None,
) -> None:
    """After a new deployment is stored: a production success recovers the failures before
    it (one round trip: the group's lock and the UPDATE); anything else costs nothing."""
    state = {"status": status, "environment": environment, "completed_at": completed_at}
    if not _is_production_success(state):
        return
    group = ServiceGroup.of(service_id=service_id, service_key=service_key)
    lock, lock_params = _lock_sql(organization_id=organization_id, groups=[group])
    sql, params = _recover_sql(
        organization_id=organization_id,
        group=group,
        completed_at=completed_at,
        deployment_id=deployment_id,
    )
    # Two statements, each with its own snapshot, so the UPDATE sees what earlier lock
    # holders committed; both are prepared (periscope.rows), as every production success
    # runs them. With each success's own values PostgreSQL keeps planning the UPDATE anew
    # (its custom plans always look cheaper than the generic one), which cost more server
    # CPU than running it; the lock statement makes it use the one generic plan (an index
    # range per failed status) for the rest of the transaction.
    if lock:
        rows.run(_LOCK_ONE_WITH_GENERIC_PLAN, lock_params)
    rows.run(sql, params)


def _next_success_sql(*, group: ServiceGroup, excluded: tuple[int, ...]) -> tuple[str, list]:
    """The next success in `group` of the row being updated (ids in `excluded` left out)."""
    table = _table()
    group_where, group_params = _group_sql(group, "s")
    skip = f"AND s.id NOT IN ({', '.join(['%s'] * len(excluded))})" if excluded else ""
    sql = f"""(SELECT s.completed_at FROM {table} s
        WHERE s.organization_id = {table}.organization_id AND s.environment = {table}.environment
          AND s.status = %s AND {group_where} AND s.completed_at > {table}.completed_at {skip}
        ORDER BY s.completed_at LIMIT 1)"""
    return sql, [Status.SUCCESS.value, *group_params, *excluded]


def _recompute(
    *,
    organization_id: int,
    group: ServiceGroup,
    only_null: bool = False,
    recovered_at: datetime | None = None,
    excluded: tuple[int, ...] = (),
) -> int:
    """Set failures of `group` to their next success (the caller holds the group's lock): the
    ones whose value differs, those with no value (`only_null`), or those recovered at
    `recovered_at`. Returns the rows written."""
    table = _table()
    following, following_params = _next_success_sql(group=group, excluded=excluded)
    group_where, group_params = _group_sql(group, table)
    where = (
        f"{table}.organization_id = %s AND {table}.environment = %s"
        f" AND {table}.status IN (%s, %s) AND {group_where}"
        f" AND {table}.completed_at IS NOT NULL"
    )
    params = [organization_id, PRODUCTION, *FAILED_STATUSES, *group_params]
    if recovered_at is not None:
        where += f" AND {table}.recovered_at = %s AND {table}.completed_at < %s"
        params += [_when(recovered_at), _when(recovered_at)]
    elif only_null:
        # One lookup per row: the few with no success after them yet are rewritten as NULL,
        # cheaper than looking every row up twice.
        where += f" AND {table}.recovered_at IS NULL"
    else:
        # Only rows whose value differs: a rewrite costs a new row version on PostgreSQL.
        where += (
            f" AND (({table}.recovered_at IS NULL AND {following} IS NOT NULL)"
            f" OR ({table}.recovered_at IS NOT NULL AND ({following} IS NULL"
            f" OR {table}.recovered_at <> {following})))"
        )
        params += following_params * 3
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET recovered_at = {following} WHERE {where} RETURNING recovered_at",
            following_params + params,
        )
        # Rows given a value (a row with none still found unknown is not counted).
        return sum(1 for (value,) in cursor.fetchall() if value is not None)


def before_change(
    *,
    organization_id: int,
    deployment_id: int,
    changes: dict[str, Any],
    old: dict[str, Any] | None = None,
    held: frozenset[ServiceGroup] = frozenset(),
) -> None:
    """Before a stored deployment's changed fields are saved (its row locked by the caller):
    `changes` maps field names to their new values; `old`, the RELEVANT values of the locked
    row if the caller has them (else they are read); `held`, groups whose locks the caller
    already holds.

    If it was a production success, the failures it recovered are recomputed without it; a
    failure's own value is cleared unless only its failure status changed; if it is now a
    production success, it recovers the failures before it.
    """
    if not changes.keys() & set(RELEVANT):
        return
    if old is None:
        rows = Deployment.objects.filter(pk=deployment_id, organization_id=organization_id)
        old = rows.values(*RELEVANT).first()
        if old is None:
            return
    new = {**old, **{name: changes[name] for name in RELEVANT if name in changes}}
    old_group = ServiceGroup.of(service_id=old["service_id"], service_key=old["service_key"])
    new_group = ServiceGroup.of(service_id=new["service_id"], service_key=new["service_key"])
    was_success, is_success = _is_production_success(old), _is_production_success(new)
    same_place = (old_group, old["completed_at"], old["environment"]) == (
        new_group,
        new["completed_at"],
        new["environment"],
    )
    if was_success and is_success and same_place:
        return
    was_failed = old["status"] in FAILED_STATUSES and old["environment"] == PRODUCTION
    groups = ([old_group] if was_success else []) + ([new_group] if is_success else [])
    lock_groups(organization_id=organization_id, groups=set(groups) - held)
    if was_success:
        _recompute(
            organization_id=organization_id,
            group=old_group,
            recovered_at=old["completed_at"],
            excluded=(deployment_id,),
        )
    if was_failed and not (new["status"] in FAILED_STATUSES and same_place):
        # Its next success may differ now; unknown until a success or a backfill sets it.
        Deployment.objects.filter(pk=deployment_id).update(recovered_at=None)
    if is_success:
        sql, params = _recover_sql(
            organization_id=organization_id,
            group=new_group,
            completed_at=new["completed_at"],
            deployment_id=deployment_id,
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def before_delete(*, organization_id: int, deployment_ids: Iterable[int]) -> None:
    """Before deployments are deleted: the failures their successes recovered are recomputed
    without them (the caller deletes in the same transaction)."""
    ids = tuple(deployment_ids)
    successes = list(
        Deployment.objects.filter(
            organization_id=organization_id,
            pk__in=ids,
            status=Status.SUCCESS,
            environment=PRODUCTION,
            completed_at__isnull=False,
        ).values_list("service_id", "service_key", "completed_at")
    )
    groups = {ServiceGroup.of(service_id=s, service_key=k) for s, k, _ in successes}
    lock_groups(organization_id=organization_id, groups=groups)
    for service_id, key, completed_at in successes:
        _recompute(
            organization_id=organization_id,
            group=ServiceGroup.of(service_id=service_id, service_key=key),
            recovered_at=completed_at,
            excluded=ids,
        )


@contextmanager
def regrouping(*, organization_id: int, groups: Iterable[ServiceGroup]) -> Iterator[None]:
    """Around a bulk move of deployments between these pairing groups: locks them first, then
    recomputes every failure of them once the move is done (same transaction)."""
    groups = set(groups)
    with transaction.atomic():
        lock_groups(organization_id=organization_id, groups=groups)
        yield
        for group in groups:
            _recompute(organization_id=organization_id, group=group)


def _failure_groups(*, organization_id: int, only_null: bool) -> list[ServiceGroup]:
    rows = Deployment.objects.filter(
        organization_id=organization_id,
        environment=PRODUCTION,
        status__in=FAILED_STATUSES,
        completed_at__isnull=False,
    )
    if only_null:
        rows = rows.filter(recovered_at__isnull=True)
    pairs = rows.values_list("service_id", "service_key").order_by().distinct()
    return sorted(
        {ServiceGroup.of(service_id=s, service_key=k) for s, k in pairs},
        key=lambda g: (g.service_id is None, g.service_id or 0, g.service_key),
    )


class BulkRow(NamedTuple):
    """What the recovery rules need of a row about to be inserted in bulk."""

    status: str
    environment: str
    service_id: int | None
    service_key: str
    completed_at: datetime | None


@dataclass(frozen=True)
class BulkRecovery:
    """The recovery times of rows about to be inserted in bulk (`values`, in their order),
    and the stored failures their successes recover: (id, group, completed_at, value)."""

    values: list[datetime | None]
    stored: list[tuple[int, ServiceGroup, datetime, datetime]]


@dataclass
class _Batch:
    """One group's production rows of a bulk insert."""

    successes: list[datetime] = field(default_factory=list)
    failures: list[tuple[int, datetime]] = field(default_factory=list)  # (row index, time)

    def window(self) -> tuple[datetime, datetime, datetime | None, datetime | None]:
        """The first and last completion of its rows, then of its successes."""
        times = self.successes + [t for _, t in self.failures]
        return (
            min(times),
            max(times),
            min(self.successes, default=None),
            max(self.successes, default=None),
        )


def prepare_bulk_insert(*, organization_id: int, new_rows: Sequence[BulkRow]) -> BulkRecovery:
    """Inside the transaction that will insert `new_rows` in bulk (bypassing the per-row rules):
    take their groups' locks, then compute what those rules would have stored.

    Each new failure gets its next success among the new rows and the stored ones; each
    stored failure that a new success now precedes is returned with its new value (what
    `after_insert` of each new success would write), for `finish_bulk_insert` once the rows
    are in. Only stored rows in the window the new rows span are read, a few index ranges
    per group: no new row is written twice, and the file's order does not matter.
    Concurrent writers are ordered by the locks as for `after_insert`.
    """
    batches: dict[ServiceGroup, _Batch] = {}
    for index, row in enumerate(new_rows):
        if row.environment != PRODUCTION or row.completed_at is None:
            continue
        if row.status == Status.SUCCESS:
            kind = "success"
        elif row.status in FAILED_STATUSES:
            kind = "failure"
        else:
            continue
        group = ServiceGroup.of(service_id=row.service_id, service_key=row.service_key)
        batch = batches.setdefault(group, _Batch())
        if kind == "success":
            batch.successes.append(row.completed_at)
        else:
            batch.failures.append((index, row.completed_at))
    values: list[datetime | None] = [None] * len(new_rows)
    stored: list[tuple[int, ServiceGroup, datetime, datetime]] = []
    if not batches:
        return BulkRecovery(values, stored)
    lock_groups(organization_id=organization_id, groups=batches)
    found = _stored_rows(organization_id=organization_id, batches=batches)
    for group, batch in batches.items():
        stored_successes, stored_failures = found.get(group, ([], []))
        successes = sorted(batch.successes + stored_successes)
        for index, completed_at in batch.failures:
            values[index] = _next_of(successes, completed_at)
        for pk, completed_at, value in stored_failures:
            new = _next_of(successes, completed_at)
            # Only ever lower (as after_insert): a value can only be too late, never early.
            if new is not None and (value is None or new < value):
                stored.append((pk, group, completed_at, new))
    return BulkRecovery(values, stored)


def _next_of(successes: list[datetime], completed_at: datetime) -> datetime | None:
    """The first of the sorted `successes` strictly after `completed_at`."""
    index = bisect_right(successes, completed_at)
    return successes[index] if index < len(successes) else None


def _stored_rows(
    *, organization_id: int, batches: dict[ServiceGroup, _Batch]
) -> dict[ServiceGroup, tuple[list[datetime], list[tuple[int, datetime, datetime | None]]]]:
    """Per group: the stored successes and failures a bulk insert's rows can depend on or
    change, in one statement.

    A new failure needs the stored successes between the group's first and last new rows,
    and the first one after; a stored failure is recovered by a new success only if it is
    completed at or after the last stored success before the first new one (`after_insert`'s
    range, for all new successes at once) and before the last new success. The statement's
    text is the same for every batch (the groups are one parameter), so PostgreSQL plans
    it in ~1 ms, not ~50 ms as a UNION with three branches per group."""
    table = _table()
    groups = list(batches)
    relation, relation_params = _groups_relation(
        [
            (number, group.service_id, group.service_key, *batches[group].window())
            for number, group in enumerate(groups)
        ]
    )
    success = "{a}.organization_id = %s AND {a}.environment = %s AND {a}.status = %s"
    success_params = [organization_id, PRODUCTION, Status.SUCCESS.value]
    failed = "s.organization_id = %s AND s.environment = %s AND s.status = %s"
    failed_params = [organization_id, PRODUCTION]
    arms, params = [], []
    # Each branch twice: catalogued services (service_id) and unmatched names (partial index).
    for matched in (True, False):
        same = (
            "{a}.service_id = g.service_id"
            if matched
            else "g.service_id IS NULL AND {a}.service_id IS NULL AND {a}.service_key = g.key"
        )
        in_group = f"{success} AND {same}"
        arms.append(  # the stored successes among the new rows
            _per_group(
                0,
                f"{in_group.format(a='s')} AND s.completed_at >= g.low AND s.completed_at <= g.high",
            )
        )
        params += success_params
        arms.append(  # the first stored success after them
            _per_group(
                0,
                f"s.id = (SELECT a.id FROM {table} a WHERE {in_group.format(a='a')}"
                " AND a.completed_at > g.high ORDER BY a.completed_at LIMIT 1)",
            )
        )
        params += success_params
        for status in FAILED_STATUSES:  # one status each: an index range, not the group's history
            arms.append(  # the stored failures the new successes may recover
                _per_group(
                    1,
                    f"{failed} AND {same.format(a='s')} AND s.completed_at < g.last_success"
                    f" AND s.completed_at >= COALESCE((SELECT a.completed_at FROM {table} a"
                    f" WHERE {in_group.format(a='a')} AND a.completed_at < g.first_success"
                    " ORDER BY a.completed_at DESC LIMIT 1), %s)",
                )
            )
            params += [*failed_params, status, *success_params, _when(_FLOOR)]
    found: dict[ServiceGroup, tuple[list, list]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH g AS (SELECT * FROM {relation}) {' UNION ALL '.join(arms)}",
            relation_params + params,
        )
        for number, failed_row, pk, completed_at, recovered_at in cursor.fetchall():
            successes, failures = found.setdefault(groups[number], ([], []))
            if not failed_row:
                successes.append(_datetime(completed_at))
            else:
                failures.append((pk, _datetime(completed_at), _datetime(recovered_at)))
    return found


def _per_group(kind: int, where: str) -> str:
    """The deployments `s` matching `where` for each group `g`, as (n, kind, id, completed_at,
    recovered_at). On PostgreSQL a LATERAL subquery kept apart by OFFSET 0, so each group is
    its own index range: as a join, the planner hashed every production deployment of the
    organization (~1 s a batch at 1,000,000)."""
    table = _table()
    columns = "s.id, s.completed_at, s.recovered_at"
    if connection.vendor == "postgresql":
        return (
            f"SELECT g.n, {kind}, s.* FROM g CROSS JOIN LATERAL"
            f" (SELECT {columns} FROM {table} s WHERE {where} OFFSET 0) s"
        )
    # SQLite joins by nested loops, the few groups outermost.
    return f"SELECT g.n, {kind}, {columns} FROM g JOIN {table} s ON {where}"


def _groups_relation(rows: list[tuple]) -> tuple[str, list]:
    """The rows as a relation g(n, service_id, key, low, high, first_success, last_success)
    passed as one parameter: arrays on PostgreSQL, JSON on SQLite."""
    names = "n, service_id, key, low, high, first_success, last_success"
    if connection.vendor == "postgresql":
        columns = [list(column) for column in zip(*rows, strict=True)]
        types = (
            "int",
            "bigint",
            "text",
            "timestamptz",
            "timestamptz",
            "timestamptz",
            "timestamptz",
        )
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        return f"unnest({arrays}) AS g({names})", columns
    values = [[_when(v) if isinstance(v, datetime) else v for v in row] for row in rows]
    extracted = ", ".join(
        f"json_extract(value, '$[{i}]') AS {name}" for i, name in enumerate(names.split(", "))
    )
    return f"(SELECT {extracted} FROM json_each(%s))", [json.dumps(values)]


def _datetime(value: Any) -> datetime | None:
    """A timestamp as read by a raw cursor (SQLite: naive, in UTC) as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def finish_bulk_insert(*, organization_id: int, recovery: BulkRecovery) -> None:
    """After the rows were inserted (same transaction, locks still held): store the stored
    failures' new values. Each UPDATE re-checks the row is still that failure of that group
    at that time and only lowers its value, as `after_insert` does."""
    by_sql: dict[str, list[list]] = {}
    table = _table()
    for pk, group, completed_at, value in recovery.stored:
        group_where, group_params = _group_sql(group)
        sql = (
            f"UPDATE {table} SET recovered_at = %s WHERE id = %s AND organization_id = %s"
            f" AND environment = %s AND status IN (%s, %s) AND {group_where}"
            " AND completed_at = %s AND (recovered_at IS NULL OR recovered_at > %s)"
        )
        when = _when(value)
        by_sql.setdefault(sql, []).append(
            [
                when,
                pk,
                organization_id,
                PRODUCTION,
                *FAILED_STATUSES,
                *group_params,
                _when(completed_at),
                when,
            ]
        )
    with connection.cursor() as cursor:
        for sql, params in by_sql.items():
            cursor.executemany(sql, params)


def backfill_recovery(
    *, organization_id: int, groups: Iterable[ServiceGroup] | None = None, recompute: bool = False
) -> int:
    """Store the next success of the organization's failed production deployments (of
    `groups`, default all); returns the rows written.

    By default only failures with no value are filled (cheap to repeat). `recompute` also
    corrects stored values, for writes that bypassed the rules above (the importer's bulk
    inserts: an imported success can precede a stored recovery). One transaction per
    pairing group, under its lock, so live ingest waits for one group at a time.
    """
    if groups is None:
        groups = _failure_groups(organization_id=organization_id, only_null=not recompute)
    written = 0
    for group in groups:
        with transaction.atomic():
            lock_groups(organization_id=organization_id, groups=[group])
            written += _recompute(
                organization_id=organization_id, group=group, only_null=not recompute
            )
    return written


# The same helpers for deployments/recording/rollbacks.py, which writes the same kind of SQL.
table = _table
when = _when
group_sql = _group_sql
