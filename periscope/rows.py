"""Hand-written SQL for the few statements every ingest request runs.

Building a queryset compiles its SQL anew on every call (~0.2–0.4 ms of Python for a join or
an insert of 25 columns), which was the largest single cost of a webhook delivery. These
helpers keep the SQL of a fixed statement built once per process and database vendor, and
turn rows back into model instances with the same converters the ORM applies, so callers
get ordinary model instances. On PostgreSQL they bind parameters on the server, so psycopg
prepares each statement on its fifth use by a connection and the server stops parsing and
planning it per request.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import CharField, Field, ForeignKey, IntegerField, Model, TextField

M = TypeVar("M", bound=Model)


@contextmanager
def cursor() -> Iterator[Any]:
    """A cursor for fixed statements: server-side binding on PostgreSQL (Django's own cursors
    bind on the client, which prevents prepared statements), the usual cursor elsewhere.
    Errors, health checks and query logging behave as with `connection.cursor()`."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as plain:
            yield plain
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = ServerBindingCursor(db.connection)
    wrapped = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)
    with wrapped:
        yield wrapped


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def column_list(model: type[Model], *, alias: str = "") -> str:
    """Every concrete column of `model`, in field order, optionally qualified by `alias`."""
    prefix = f"{quote(alias)}." if alias else ""
    return ", ".join(prefix + quote(f.column) for f in model._meta.concrete_fields)


@cache
def _converters(model: type[Model], vendor: str) -> tuple[tuple[Field, Any, list], ...]:
    # What SQLCompiler.get_converters() would apply to each column (vendor: cache key only).
    table = model._meta.db_table
    out = []
    for field in model._meta.concrete_fields:
        col = field.get_col(table)
        converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        out.append((field, col, converters))
    return tuple(out)


def instance(model: type[M], values: Sequence[Any]) -> M:
    """A model instance from the values of `column_list(model)`, as the ORM would load it."""
    db = connections[DEFAULT_DB_ALIAS]
    converted = []
    for (_field, col, converters), value in zip(_converters(model, db.vendor), values, strict=True):
        for converter in converters:
            value = converter(value, col, db)
        converted.append(value)
    return model.from_db(db.alias, [f.attname for f in model._meta.concrete_fields], converted)


@cache
def _preparers(model: type[Model], names: tuple[str, ...]) -> tuple[Field | None, ...]:
    # Text and integer values already are what the driver takes; JSON, dates and times (and
    # anything else) go through the field, as the ORM would send them.
    return tuple(
        None if isinstance(field, _AS_IS) else field
        for field in (model._meta.get_field(name) for name in names)
    )


_AS_IS = (CharField, TextField, IntegerField, ForeignKey)


def db_values(model: type[Model], names: tuple[str, ...], values: Sequence[Any]) -> list[Any]:
    """Python values of the named fields as the driver takes them (JSON, datetimes on SQLite)."""
    db = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs a lookup per attribute
    return [
        value if field is None else field.get_db_prep_save(value, db)
        for field, value in zip(_preparers(model, names), values, strict=True)
    ]


@cache
def _insert_sql(
    model: type[Model], names: tuple[str, ...], conflict: tuple[str, ...], vendor: str
) -> str:
    fields = [model._meta.get_field(name) for name in names]
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if conflict:
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in conflict)
        sql += f" ON CONFLICT ({columns}) DO NOTHING RETURNING {quote(model._meta.pk.column)}"
    return sql


def insert(model: type[Model], values: dict[str, Any]) -> None:
    """INSERT one row of `model` (field name → Python value). No field defaults are applied:
    give every column that is NOT NULL."""
    names = tuple(values)
    with cursor() as c:
        c.execute(
            _insert_sql(model, names, (), connection.vendor),
            db_values(model, names, list(values.values())),
        )


def insert_unless_exists(
    model: type[Model], values: dict[str, Any], *, unique: tuple[str, ...]
) -> int | None:
    """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING pk: the new row's pk, or None when
    a row with the same `unique` fields exists (or is being inserted by a transaction that
    then commits: PostgreSQL waits for it). No savepoint is needed, as nothing fails."""
    names = tuple(values)
    with cursor() as c:
        c.execute(
            _insert_sql(model, names, unique, connection.vendor),
            db_values(model, names, list(values.values())),
        )
        row = c.fetchone()
    return row[0] if row else None
