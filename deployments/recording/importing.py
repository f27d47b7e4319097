"""Importing deployment history from JSON Lines, in batches.

Each line is validated by the same format adapter as its webhook and stored with the same
idempotency key, so an import and a webhook delivery of one deployment make one record.
New deployments are bulk-inserted (one transaction per batch); ids already stored are
compared in bulk and, when something changed, go through `record_deployment`, so the rules
for updates (never backwards, first-wins for OpsLevel) are the recording module's.

Lines without an idempotency key (DevGrid without build_id, OpsLevel without dedup_id) get
one from the SHA-256 of the event as sent, with first-wins semantics: re-running an import
changes no deployment (each re-imported line is logged as a `duplicate` delivery). For the
same reason a DevGrid event without `timestamp` keeps the date of its first import.
"""

import contextlib
import dataclasses
import gc
import hashlib
import json
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.utils import timezone
from psycopg import IntegrityError as DriverIntegrityError

from deployments.changes import linking
from deployments.ingest.contract import DeploymentFormat, Received
from deployments.ingest.devgrid import adapter as devgrid
from deployments.ingest.hivel import adapter as hivel
from deployments.ingest.json_input import parse_json
from deployments.ingest.opslevel import adapter as opslevel
from deployments.ingest.periscope import adapter as periscope
from deployments.models import (
    DeliveryAction,
    Deployment,
    EnvironmentAlias,
    Repository,
    Status,
)
from deployments.recording import recorder as recording
from deployments.recording import recovery, rollbacks
from deployments.recording.bulk_insert import (
    DEPLOYMENT_COLUMNS,
    allocate_ids,
    analyze_deployments,
    existing_ids,
    insert_deliveries,
    insert_deployments,
    planned_rows,
    stored_values,
)
from deployments.recording.environments import (
    PRODUCTION,
    canonical_environment,
    environment_key,
)
from deployments.recording.events import DeploymentEvent, DuplicatePolicy
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import maintain as rollups
from periscope.errors import InvalidPayload, PayloadTooLarge
from periscope.models import Organization
from services.matching import normalize_key
from services.models import ServiceAlias, ServiceSuggestion

# The import formats: the deployment webhook formats, through the same adapters.
ADAPTERS: dict[str, DeploymentFormat] = {
    "periscope": periscope,
    "devgrid": devgrid,
    "hivel": hivel,
    "opslevel": opslevel,
}
FORMATS = tuple(ADAPTERS)
_DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE deadlock_detected
# Tries of one batch when PostgreSQL aborts it to break a deadlock between writers.
_ATTEMPTS = 5
# Fewer, larger transactions: 5,000 per batch was 27% faster than 1,000.
DEFAULT_BATCH_SIZE = 5000
# Imported deployments are linked this many at a time (bounded IN lists on SQLite).
_LINK_CHUNK = 5000


@dataclass
class ImportReport:
    lines: int = 0
    created: int = 0
    updated: int = 0
    duplicate: int = 0
    stale: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.duplicate + self.stale

    def count(self, action: str) -> None:
        setattr(self, action, getattr(self, action) + 1)


@dataclass
class _Written:
    """What one batch's transaction wrote, added to the import's totals once committed."""

    actions: list[str] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    suggested: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Item:
    line: int
    event: DeploymentEvent
    body: str
    values: dict[str, Any]  # as stored (recording.deployment_values)


def parse_json_line(text: str) -> dict[str, Any]:
    if len(text.encode("utf-8", "surrogatepass")) > settings.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"line exceeds {settings.MAX_BODY_BYTES} bytes")
    # Read as its webhook body would be (deployments.ingest.json_input): same values refused.
    data = parse_json(text, what="line")
    if not isinstance(data, dict):
        raise InvalidPayload("line must be a JSON object", field="body")
    return data


def _content_key(event: DeploymentEvent) -> DeploymentEvent:
    canonical = json.dumps(event.raw_payload, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return dataclasses.replace(
        event, external_id=f"import:{digest}", duplicate_policy=DuplicatePolicy.KEEP_FIRST
    )


def events_of(
    *, fmt: str, payload: dict[str, Any], organization: Organization, received_at: datetime
) -> list[DeploymentEvent]:
    """The canonical events of one line, validated by the format's webhook adapter."""
    received = Received(organization=organization, received_at=received_at)
    if fmt == "devgrid" and "events" not in payload:
        # A DevGrid line is a request body {"events": [...]} or one event.
        events = [devgrid.parse_event(payload, index=0, received_at=received_at)]
    elif fmt in ADAPTERS:
        events = ADAPTERS[fmt].parse(payload, received=received)
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "devgrid":
        # Without a timestamp an event is dated when received: the first import's date stays.
        events = [
            e
            if (e.raw_payload or {}).get("timestamp") not in (None, "")
            else dataclasses.replace(e, duplicate_policy=DuplicatePolicy.KEEP_FIRST)
            for e in events
        ]
    return [e if e.external_id is not None else _content_key(e) for e in events]


class _Lookups:
    """The organization's environment aliases and service keys, read once per import.

    Resolves what recording._field_values resolves, without a query per deployment. A service alias added
    during an import re-attributes the deployments it matches when it is saved.
    """

    def __init__(self, organization: Organization):
        # Read-only once loaded: the reading thread resolves with them.
        self.environments = dict(
            EnvironmentAlias.objects.filter(organization=organization).values_list(
                "name", "environment"
            )
        )
        self.services = dict(
            ServiceAlias.objects.filter(organization=organization).values_list("key", "service_id")
        )
        self.default_environment = organization.default_environment

    def environment(self, raw: str) -> str:
        return canonical_environment(
            raw=raw,
            alias_target=self.environments.get(environment_key(raw)),
            default=self.default_environment,
        )

    def values(self, event: DeploymentEvent) -> dict[str, Any]:
        key = normalize_key(event.service_name or event.repository_url)
        service_id = self.services.get(key) if key else None
        if service_id is None and event.service_name and event.repository_url:
            service_id = self.services.get(normalize_key(event.repository_url))
        return recording.deployment_values(
            event=event, service_id=service_id, environment=self.environment(event.environment)
        )


_COMPARED = recording.MUTABLE_FIELDS
# The columns after (organization, source, external_id), in bulk_insert order, but
# recovered_at (computed per batch).
_column_values = itemgetter(*DEPLOYMENT_COLUMNS[3:-3])
_recovery_values = itemgetter(*recovery.BulkRow._fields)


def _unchanged(existing: dict[str, Any], values: dict[str, Any], policy: DuplicatePolicy) -> bool:
    names = ("status", "status_raw") if policy is DuplicatePolicy.KEEP_FIRST else _COMPARED
    return all(existing[name] == values[name] for name in names)


class Importer:
    def __init__(
        self,
        *,
        organization: Organization,
        fmt: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        received_at: datetime | None = None,
    ):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.organization = organization
        self.fmt = fmt
        self.batch_size = batch_size
        self.received_at = received_at or timezone.now()
        self.lookups = _Lookups(organization)
        self.report = ImportReport()
        self._suggested: set[str] = set()
        self._created_ids: list[int] = []
        # Whether a deployment this import wrote may name a repository (see link()).
        self._may_name_repository = False
        self._planned_rows: float | None = None
        self._created_since_analyze = 0
        # Writers may run in two threads (see _write_in_parallel): what they share is
        # updated under this lock; what each one remembers is its thread's.
        self._lock = threading.Lock()
        self._writer = threading.local()
        self._analyzing: Future | None = None

    def detect_rollbacks(self) -> None:
        """The rollbacks among (or replaced by) what this import created, group by group."""
        if not self._created_ids:
            return
        created = Deployment.objects.filter(
            organization=self.organization, environment=PRODUCTION, pk__in=self._created_ids
        ).exclude(commit_sha="")
        groups = {
            ServiceGroup.of(service_id=service_id, service_key=service_key)
            for service_id, service_key in created.values_list("service_id", "service_key")
            .distinct()
            .order_by()
        }
        rollbacks.redetect(organization=self.organization, groups=groups)

    def parse(self, number: int, text: str | bytes) -> list[_Item]:
        """The deployments of one line, validated; an invalid line is reported. No query:
        this runs in the reading thread (see _read_ahead)."""
        self.report.lines += 1
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                self.report.invalid.append((number, "line is not valid UTF-8"))
                return []
        if not text.strip():
            return []
        try:
            payload = parse_json_line(text)
            events = events_of(
                fmt=self.fmt,
                payload=payload,
                organization=self.organization,
                received_at=self.received_at,
            )
        except (InvalidPayload, PayloadTooLarge) as exc:
            self.report.invalid.append((number, str(getattr(exc, "message", exc.detail))))
            return []
        body = text.rstrip("\r\n")
        if len(events) > 1:
            bodies = [json.dumps(e.raw_payload, ensure_ascii=False) for e in events]
        else:
            bodies = [body]
        return [
            _Item(number, e, b, self.lookups.values(e)) for e, b in zip(events, bodies, strict=True)
        ]

    def link(self) -> None:
        """Link the new deployments to the changes they shipped, once every row is in.

        Linking is per deployment (it walks the commit graph), so it runs after the batched
        writes, oldest first, so each one sees its predecessor as its boundary. When the
        organization has no repository and no imported deployment names one, nothing can
        link and the pass is skipped.
        """
        if not self._created_ids:
            return
        organization_id = self.organization.pk
        if (
            not self._may_name_repository
            and not Repository.objects.filter(organization_id=organization_id).exists()
        ):
            return
        for start in range(0, len(self._created_ids), _LINK_CHUNK):
            chunk = self._created_ids[start : start + _LINK_CHUNK]
            candidates = Deployment.objects.filter(
                pk__in=chunk,
                status=Status.SUCCESS,
                environment=PRODUCTION,
                completed_at__isnull=False,
            ).exclude(commit_sha="")
            for deployment in candidates.order_by("completed_at", "id"):
                # Not "created": an earlier one's pass may already have linked it as its
                # successor, so its links are replaced, not assumed absent.
                with transaction.atomic():
                    linking.link_on_record(deployment, action=DeliveryAction.UPDATED)

    def store(self, batch: list[_Item]) -> None:
        """Write one batch of parsed lines in one transaction (on this thread's connection)."""
        if not batch:
            return
        for attempt in range(1, _ATTEMPTS + 1):
            written = self._writer.written = _Written()
            try:
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        # Commit without waiting for the WAL flush. An import is idempotent:
                        # a crash can lose only the last batches acknowledged, which a re-run
                        # of the file restores (database consistency is never at risk).
                        with connection.cursor() as cursor:
                            cursor.execute("SET LOCAL synchronous_commit TO OFF")
                    self._store(batch)
                break
            except OperationalError as exc:
                # Writers that take recovery locks in different orders (an update moving a
                # deployment to another group) can deadlock; PostgreSQL then aborts one
                # transaction, all of it, so its batch is written again (a repeat takes its
                # groups' locks before its row's, so busy batches meet this more than once).
                if attempt == _ATTEMPTS or getattr(exc.__cause__, "sqlstate", None) != _DEADLOCK:
                    raise
        with self._lock:
            for action in written.actions:
                self.report.count(action)
            self._created_ids.extend(written.created_ids)
            self._created_since_analyze += len(written.created_ids)
            self._suggested |= written.suggested

    def keep_statistics(self, *, background: ThreadPoolExecutor | None = None) -> None:
        """ANALYZE the deployments each time this import has doubled them.

        The planner's row estimates otherwise lag behind a table an import is filling
        (autovacuum analyzes late, if at all, under load); believing a table of 5,000 rows
        empty, it planned the stored-id probe of the next batch as a scan per key (6 s for
        one batch). Doubling keeps it to ~log2(N / batch) ANALYZEs of ~0.1-0.3 s.
        With `background` (a thread of its own connection) the writers do not wait for it.
        """
        if connection.vendor != "postgresql":
            return
        if self._planned_rows is None:
            self._planned_rows = planned_rows()
        if self._created_since_analyze >= max(self._planned_rows, self.batch_size):
            self._created_since_analyze = 0
            if background is None:
                self._analyze()
            elif self._analyzing is None or self._analyzing.done():
                self._analyzing = background.submit(self._analyze)

    def statistics_kept(self) -> None:
        """Once the background ANALYZE is over: raises its error, if any."""
        if self._analyzing is not None:
            self._analyzing.result()

    def _analyze(self) -> None:
        analyze_deployments()
        self._planned_rows = planned_rows()

    def _store(self, batch: list[_Item]) -> None:
        org = self.organization
        source = batch[0].event.source
        # After a batch (of this writer) with none of its keys stored, expect the same: the
        # COPY's unique index checks every key anyway, so probing them first cost ~5 µs a
        # deployment for nothing. A conflict rolls the COPY back and the batch is probed.
        probed = not getattr(self._writer, "expect_new", False)
        known = {}
        if probed:
            known = existing_ids(
                organization_id=org.pk,
                source=source,
                external_ids=list({item.event.external_id for item in batch}),
            )
        stored = {}
        if known:  # a re-import: compare what is stored with what the lines say
            stored = {
                row["external_id"]: row for row in stored_values(list(known.values()), _COMPARED)
            }
        fresh: list[tuple[_Item, dict]] = []
        later: list[_Item] = []
        seen: set[str] = set()
        deliveries: list[tuple] = []
        for item in batch:
            key = item.event.external_id
            if key in seen:
                later.append(item)  # a repeat within the batch: after the first is stored
                continue
            seen.add(key)
            values = item.values
            existing = stored.get(key)
            if existing is None:
                fresh.append((item, values))
            elif _unchanged(existing, values, item.event.duplicate_policy):
                deliveries.append(self._delivery(existing["id"], item, DeliveryAction.DUPLICATE))
            else:
                later.append(item)
        created = self._insert(source, fresh)
        if created is None:  # a key is stored: by an earlier import, or another writer
            if not probed:
                self._writer.expect_new = False
                self._store(batch)
                return
            # Probed, so another writer stored it meanwhile: the recording rules decide.
            later[:0] = [item for item, _ in fresh]
            created = []
        if probed:
            self._writer.expect_new = not known
        deliveries.extend(created)
        insert_deliveries(deliveries)
        actions = [delivery[4] for delivery in deliveries]
        if later:  # an update may set a repository URL
            self._may_name_repository = True
        for item in later:
            result = recording.record_deployment(
                organization=org, event=item.event, body=item.body, received_at=self.received_at
            )
            actions.append(result.action)
        self._writer.written.actions.extend(actions)

    def _insert(self, source: str, fresh: list[tuple[_Item, dict]]) -> list | None:
        """Insert new deployments; returns their `created` delivery rows, or None (nothing
        inserted) if one of their keys is stored."""
        if not fresh:
            return []
        now = timezone.now()
        org_id = self.organization.pk
        # The new rows carry their recovery times: no second write of each failure.
        planned = recovery.prepare_bulk_insert(
            organization_id=org_id,
            new_rows=[recovery.BulkRow(*_recovery_values(values)) for _, values in fresh],
        )
        if any(values["repository_url"] or values["commit_at"] for _, values in fresh):
            # A carried commit time links even without a repository (changes/linking.py).
            self._may_name_repository = True
        keys = [item.event.external_id for item, _ in fresh]
        # Drawn before the savepoint: a sequence does not roll back anyway.
        allocated = allocate_ids(len(fresh))
        head = (
            [(org_id, source)] * len(fresh)
            if allocated is None
            else [(pk, org_id, source) for pk in allocated]
        )
        rows = [
            (*first, item.event.external_id, *_column_values(values), recovered, now, now)
            for first, (item, values), recovered in zip(head, fresh, planned.values, strict=True)
        ]
        try:
            with transaction.atomic():
                insert_deployments(rows, with_ids=allocated is not None)
        except (IntegrityError, DriverIntegrityError):
            return None
        recovery.finish_bulk_insert(organization_id=org_id, recovery=planned)
        rollups.note_inserted(organization_id=org_id, rows=[values for _, values in fresh])
        if allocated is None:
            ids = existing_ids(organization_id=org_id, source=source, external_ids=keys)
        else:
            ids = dict(zip(keys, allocated, strict=True))
        self._suggest([values for _, values in fresh])
        self._writer.written.created_ids.extend(ids.values())
        return [
            self._delivery(ids[item.event.external_id], item, DeliveryAction.CREATED)
            for item, _ in fresh
        ]

    def _suggest(self, rows: list[dict]) -> None:
        unmatched = {
            r["service_key"]: r["service_name"]
            for r in rows
            if r["service_id"] is None and r["service_key"]
        }
        with self._lock:
            new = unmatched.keys() - self._suggested
        if new:
            # Sorted: two writers inserting the same names wait for each other, never deadlock.
            ServiceSuggestion.objects.bulk_create(
                [
                    ServiceSuggestion(organization=self.organization, name=unmatched[key], key=key)
                    for key in sorted(new)
                ],
                ignore_conflicts=True,
            )
            self._writer.written.suggested |= new

    def _delivery(self, deployment_id: int, item: _Item, action: str) -> tuple:
        return (
            self.organization.pk,
            deployment_id,
            item.event.source,
            self.received_at,
            action,
            item.body,
        )


def import_lines(
    *,
    organization: Organization,
    fmt: str,
    lines: Iterable[str | bytes],
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_line: Callable[[], None] | None = None,
    writers: int | None = None,
) -> ImportReport:
    """Import JSON Lines; invalid lines are reported with their numbers, never stop it.

    `writers`: connections writing at once (default 2; always 1 on SQLite and inside a
    transaction, see default_writers and _write_in_parallel)."""
    importer = Importer(organization=organization, fmt=fmt, batch_size=batch_size)
    writers = min(writers or 2, default_writers())
    with _older_objects_frozen():
        if writers > 1:
            _write_in_parallel(importer, lines, on_line, writers=writers)
        else:
            for batch in _read_ahead(importer, lines, on_line, size=batch_size):
                importer.keep_statistics()
                importer.store(batch)
    importer.link()
    importer.detect_rollbacks()
    report = importer.report
    if report.created + report.updated >= FOLDED_BY_THE_IMPORT_FROM:
        rollups.fold(organization_id=organization.pk)
    return report


# An import of this many new or changed deployments or more folds its rollup notes itself
# before it returns. A fold costs ~25-40 us per imported deployment here (most of an import's
# own cost: docs/performance.md), and a large history's fold is the import's work, not a
# request's under its timeouts; a smaller import's (at most ~4-6 s) is left, like any other
# write's, to the next metrics read, which folds whatever is noted.
FOLDED_BY_THE_IMPORT_FROM = 150_000


def default_writers() -> int:
    """Two writers on PostgreSQL: one backend runs one batch at a time on one core, so a
    second connection uses the other. One inside a transaction (another connection cannot
    see its uncommitted rows) and on SQLite (one writer at a time)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return 2


def split_batch(batch: list[_Item], *, parts: int) -> list[list[_Item]]:
    """A chunk of lines as one batch per writer: each pairing group's rows in one (the
    recovery locks of a group are then one writer's, and the writers do not wait for each
    other), the largest groups first to the writer with the fewest rows (the chunk takes as
    long as its slowest writer), and every line of a deployment id where its first line of
    the chunk went (so its lines are written in file order)."""
    sizes: Counter = Counter(_group_of(item) for item in batch)
    loads = [0] * parts
    part_of_group: dict[Any, int] = {}
    for group, size in sizes.most_common():
        part = part_of_group[group] = loads.index(min(loads))
        loads[part] += size
    batches: list[list[_Item]] = [[] for _ in range(parts)]
    placed: dict[str, int] = {}
    for item in batch:
        part = placed.setdefault(item.event.external_id, part_of_group[_group_of(item)])
        batches[part].append(item)
    return batches


def _group_of(item: _Item) -> Any:
    values = item.values
    return values["service_id"] if values["service_id"] is not None else values["service_key"]


def _write_in_parallel(
    importer: Importer,
    lines: Iterable[str | bytes],
    on_line: Callable[[], None] | None,
    *,
    writers: int,
) -> None:
    """Chunks of `writers` batches, each split by pairing group and written at once by this
    thread and `writers - 1` others, each on its own connection.

    Correct as any writers that run concurrently: keys are unique (a conflict falls back to
    the recording rules), recovery times are computed under the groups' locks. The file's
    order is kept: a chunk is committed by every writer before the next one starts, and all
    lines of one id in a chunk go to one writer, in order.
    """
    pools = [
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        for _ in range(writers - 1)
    ]
    # ANALYZE (0.1-0.3 s) on a connection of its own, while the writers write.
    statistics = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-statistics")
    try:
        for chunk in _read_ahead(importer, lines, on_line, size=importer.batch_size * writers):
            importer.keep_statistics(background=statistics)
            own, *others = split_batch(chunk, parts=writers)
            started = [
                pool.submit(importer.store, part) for pool, part in zip(pools, others, strict=True)
            ]
            try:
                importer.store(own)
            finally:
                wait(started)  # every writer done with this chunk before the next
            for future in started:
                future.result()  # raises a writer's error here
    finally:
        for pool in [*pools, statistics]:
            pool.submit(connections.close_all).result()  # the thread's own connection
            pool.shutdown()
    importer.statistics_kept()


@contextlib.contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist before the import (Django, modules, caches) out of the
    garbage collector's full passes while it runs: each batch's objects survive long enough
    to trigger them, and traversing everything else cost ~7 µs per deployment."""
    gc.collect()  # what is garbage now is collected, not frozen
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_END = object()


def _read_ahead(
    importer: Importer,
    lines: Iterable[str | bytes],
    on_line: Callable[[], None] | None,
    *,
    size: int,
) -> Iterator[list[_Item]]:
    """Batches of parsed lines, read and validated in a thread one batch ahead.

    While the caller writes a batch, PostgreSQL works and psycopg waits without the GIL, so
    the thread parses the next one on the other core: parsing is off the writer's path.
    All queries stay in the caller's thread (and transaction).
    """
    batches: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        try:
            batch: list[_Item] = []
            for number, text in enumerate(lines, start=1):
                if stop.is_set():
                    return
                batch.extend(importer.parse(number, text))
                if on_line is not None:
                    on_line()
                if len(batch) >= size:
                    batches.put(batch)
                    batch = []
            batches.put(batch)
            batches.put(_END)
        except BaseException as exc:  # re-raised in the caller's thread
            batches.put(exc)

    reader = threading.Thread(target=read, name="import-reader", daemon=True)
    reader.start()
    try:
        while (batch := batches.get()) is not _END:
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        # The caller failed or stopped: let the reader out of a full queue, then end it.
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        reader.join()
