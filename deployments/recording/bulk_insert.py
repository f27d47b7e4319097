"""Raw multi-row inserts for imports: PostgreSQL binary COPY, SQLite executemany.

The ORM's bulk_create spends ~0.5 ms of Python per deployment preparing values; an import
of years of history needs ~20x less. Values are adapted here the way Django stores them
(UTC datetimes, JSON), so the ORM reads the rows back exactly.
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import orjson
from django.db import connection
from django.db.models import Model
from psycopg.types.json import set_json_dumps

from deployments.ingest.json_input import has_long_number
from deployments.models import Delivery, Deployment
from deployments.recording.recorder import MUTABLE_FIELDS
from periscope.rows import db_values

DEPLOYMENT_COLUMNS = (
    "organization_id",
    "source",
    "external_id",
    *MUTABLE_FIELDS,
    "recovered_at",
    "created_at",
    "updated_at",
)
DELIVERY_COLUMNS = ("organization_id", "deployment_id", "source", "received_at", "action", "body")
_JSON = {"metadata", "raw_payload"}


def _json_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # e.g. an integer beyond 64 bits, which json (and jsonb) take
        return json.dumps(value).encode()


def _copy_types(model: type[Model], columns: Sequence[str]) -> list[str]:
    """The PostgreSQL type of each column, which binary COPY needs to encode values
    ("varchar(255)" -> "varchar"; a foreign key has its target's type)."""
    return [re.sub(r"\(.*\)$", "", model._meta.get_field(c).db_type(connection)) for c in columns]


def insert_rows(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows in one statement stream; raises the driver's IntegrityError on a conflict.

    On PostgreSQL, binary COPY: values go as they are (dicts for JSON columns, aware
    datetimes), with no text to format in Python or parse in the server."""
    if not rows:
        return
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            set_json_dumps(_json_bytes, context=cursor.cursor)
            statement = f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(statement) as copy:
                copy.set_types(_copy_types(model, columns))
                for row in rows:
                    copy.write_row(row)
        else:
            # The same value preparation as the recorder's single-row inserts.
            names = tuple(columns)
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({quoted}) VALUES ({marks})",
                [db_values(model, names, row) for row in rows],
            )


def insert_deployments(rows: Sequence[Sequence[Any]], *, with_ids: bool) -> None:
    """Rows in DEPLOYMENT_COLUMNS order, each after its id if `with_ids` (from allocate_ids)."""
    insert_rows(Deployment, ("id", *DEPLOYMENT_COLUMNS) if with_ids else DEPLOYMENT_COLUMNS, rows)


def allocate_ids(count: int) -> list[int] | None:
    """Ids for `count` new deployments drawn from PostgreSQL's sequence, so the rows need no
    read-back after COPY. None elsewhere (SQLite reads them back). One array, not a row per
    id: less to read and convert."""
    if connection.vendor != "postgresql" or not count:
        return None
    table = Deployment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id')))"
            " FROM generate_series(1, %s)",
            [table, count],
        )
        return cursor.fetchone()[0]


def existing_ids(*, organization_id: int, source: str, external_ids: Sequence[str]) -> dict:
    """{external_id: id} of the given ids already stored; one query of unique-index probes.

    On PostgreSQL each key is its own probe: with `external_id = ANY(...)` the planner,
    whose statistics lag behind a table an import is filling, may read every deployment of
    the organization and filter (41 µs per key at 100,000 stored, growing with the table)."""
    table = Deployment._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT key, (SELECT id FROM {table} WHERE organization_id = %s "
                "AND source = %s AND external_id = key) FROM unnest(%s::text[]) AS key",
                [organization_id, source, list(external_ids)],
            )
            return {key: pk for key, pk in cursor.fetchall() if pk is not None}
    return dict(
        Deployment.objects.filter(
            organization_id=organization_id, source=source, external_id__in=external_ids
        ).values_list("external_id", "id")
    )


def insert_deliveries(rows: Sequence[Sequence[Any]]) -> None:
    insert_rows(Delivery, DELIVERY_COLUMNS, rows)


def planned_rows() -> float:
    """How many deployments PostgreSQL's planner believes there are (-1: never analyzed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Deployment._meta.db_table]
        )
        return cursor.fetchone()[0]


def analyze_deployments() -> None:
    """Refresh the row count the planner uses, and the statistics of the lookup columns
    only (the rest is autovacuum's: all columns cost ~3x more)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"ANALYZE {Deployment._meta.db_table} (organization_id, source, external_id)"
        )


def _json_value(text: str) -> Any:
    # orjson reads integers beyond 64 bits as floats (see json_input.parse_json).
    if has_long_number(text.encode()):
        return json.loads(text)
    return orjson.loads(text)


def stored_values(ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
    """{"id", "external_id", *fields} of these deployments, as the ORM's values() reads them.

    On PostgreSQL one `id = ANY(%s)` query: the ORM's `pk__in` sends one placeholder per id,
    which psycopg parses for ~20 µs a row, and converts JSON with json."""
    columns = ("id", "external_id", *fields)
    if connection.vendor != "postgresql":
        return list(Deployment.objects.filter(pk__in=ids).values(*columns))
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quoted} FROM {Deployment._meta.db_table} WHERE id = ANY(%s)", [list(ids)]
        )
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    # Django reads jsonb as text (JSONField decodes it); datetimes arrive aware, in UTC.
    json_columns = [c for c in columns if c in _JSON]
    for row in rows:
        for column in json_columns:
            if row[column] is not None:
                row[column] = _json_value(row[column])
    return rows
