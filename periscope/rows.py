"""Hand-written SQL for the few statements every ingest request runs.

Building a queryset compiles its SQL anew on every call (~0.2–0.4 ms of Python for a join or
an insert of 25 columns), which was the largest single cost of a webhook delivery. These
helpers keep the SQL of a fixed statement built once per process and database vendor, and
turn rows back into model instances with the same converters the ORM applies, so callers
get ordinary model instances. On PostgreSQL they bind parameters on the server, so psycopg
prepares each statement on its fifth use by a connection and the server stops parsing and
planning it per request.

Round trips are most of what is left (each costs ~0.1 ms of client and ~0.1 ms of server
CPU): `transaction()` pipelines a transaction's statements, and `first_read()` lets a
request's first statement stand in for the connection's health check.

This module is the fence around the fast path: every hand-written statement is a `Statement`
run through the functions here, and the Django internals they lean on are named in
DJANGO_INTERNALS, which tests/test_rows.py checks so that a Django upgrade that changes one
fails with its name rather than somewhere in ingest.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any, TypeVar

from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
)
from django.db import transaction as django_transaction
from django.db.models import CharField, Field, ForeignKey, IntegerField, Model, TextField

M = TypeVar("M", bound=Model)

# What this module uses of Django beyond its public API: (where, attribute). A Django upgrade
# must keep each of these (tests/test_rows.py says which one it lost).
DJANGO_INTERNALS = (
    ("django.db.backends.postgresql.base", "ServerBindingCursor"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "health_check_enabled"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "health_check_done"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "close_if_health_check_failed"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "make_cursor"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "make_debug_cursor"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "queries_logged"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "wrap_database_errors"),
    ("django.db.backends.base.base.BaseDatabaseWrapper", "validate_thread_sharing"),
    ("django.db.models.base.ModelState", "adding"),
    ("django.db.models.base.ModelState", "db"),
)


class Columns:
    """A Statement placeholder: every concrete column of `model`, optionally qualified."""

    def __init__(self, model: type[Model], *, alias: str = ""):
        self.model, self.alias = model, alias


class Statement:
    """A fixed statement: a template whose placeholders name tables (a model), identifiers
    (a string) or column lists (`Columns`), quoted for the database in use. Its text is built
    once per process and vendor."""

    def __init__(self, template: str, **names: "type[Model] | str | Columns"):
        self.template = template
        self.names = names

    @property
    def sql(self) -> str:
        return _built(self, connections[DEFAULT_DB_ALIAS].vendor)


@cache
def _built(statement: Statement, vendor: str) -> str:
    def render(value: "type[Model] | str | Columns") -> str:
        if isinstance(value, Columns):
            return column_list(value.model, alias=value.alias)
        if isinstance(value, str):
            return quote(value)
        return quote(value._meta.db_table)

    return statement.template.format(
        **{name: render(value) for name, value in statement.names.items()}
    )


def _text(sql: "Statement | str") -> str:
    return sql.sql if isinstance(sql, Statement) else sql


def run(sql: Statement | str, params: Sequence[Any]) -> None:
    """Execute a fixed statement; its result, if any, is not read."""
    sql = _text(sql)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as c:
            c.execute(sql, params)
        return
    _kept_cursor(db, sql).execute(sql, params)


def fetchone(sql: Statement | str, params: Sequence[Any]) -> tuple | None:
    """Execute a fixed statement and return its first row (None when it has none)."""
    sql = _text(sql)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as c:
            c.execute(sql, params)
            return c.fetchone()
    c = _kept_cursor(db, sql)
    c.execute(sql, params)
    return c.fetchone()


def send(sql: Statement | str, params: Sequence[Any]) -> Callable[[], tuple | None]:
    """Execute a fixed statement now and read its first row later: the returned function
    gives it. Inside `transaction()` on PostgreSQL the statement rides in the pipeline and its
    row arrives with the closing Sync, so reading it after the block costs no round trip of
    its own. Read it before running the same statement again."""
    sql = _text(sql)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as c:
            c.execute(sql, params)
            row = c.fetchone()
        return lambda: row
    c = _kept_cursor(db, sql)
    c.execute(sql, params)
    return c.fetchone


def _kept_cursor(db: Any, sql: str) -> Any:
    # On PostgreSQL every fixed statement keeps a server-binding cursor of its own on each
    # connection: creating and closing cursors cost about as much Python per statement as
    # running it, and a cursor that runs one statement keeps the parameter adapters it found.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    kept = db.__dict__.get("_periscope_cursors")
    if kept is None or kept.connection is not db.connection:
        kept = db._periscope_cursors = _KeptCursors(db)
    raw, wrapped = kept.get(sql)
    return db.make_debug_cursor(raw) if db.queries_logged else wrapped


class _KeptCursors:
    """Server-binding psycopg cursors of one connection, by statement, each with Django's
    error-translating wrapper."""

    def __init__(self, db: Any):
        self.db = db
        self.connection = db.connection
        self.by_sql: dict[str, tuple[Any, Any]] = {}

    def get(self, sql: str) -> tuple[Any, Any]:
        kept = self.by_sql.get(sql)
        if kept is None:
            from django.db.backends.postgresql.base import ServerBindingCursor

            with self.db.wrap_database_errors:
                raw = ServerBindingCursor(self.connection)
            kept = self.by_sql[sql] = (raw, self.db.make_cursor(raw))
        return kept


def first_read(sql: Statement | str, params: Sequence[Any]) -> tuple | None:
    """`fetchone()` for a read-only statement that is a request's first use of the database.

    It doubles as the connection's health check (CONN_HEALTH_CHECKS), instead of Django's
    separate `SELECT 1` round trip: if the server dropped the connection since the last
    request, the statement fails, and it is run once more on a new connection."""
    db = connections[DEFAULT_DB_ALIAS]
    checking = (
        db.connection is not None
        and db.health_check_enabled
        and not db.health_check_done
        and not db.in_atomic_block
    )
    if checking:
        db.health_check_done = True
    try:
        return fetchone(sql, params)
    except (OperationalError, InterfaceError):
        if not checking:
            raise
    db.close()
    return fetchone(sql, params)


@contextmanager
def transaction() -> Iterator[None]:
    """One transaction around fixed statements, in as few round trips as the database allows.

    On PostgreSQL the statements go through a psycopg pipeline: each is sent without waiting
    for the ones before it, and the client waits only where it reads a result. Outside an
    atomic block the transaction is the pipeline's implicit one, which needs no BEGIN or
    COMMIT: the pipeline's closing Sync commits it, an error on the server rolls it back, and
    an error in the caller's code sends ROLLBACK before that Sync. Inside an atomic block (a
    caller's own transaction, or a test's) it is a savepoint, as `atomic()` would make. On
    other databases it is `atomic()`.

    Inside, run only `run()` and `fetchone()` statements (read a result before running the
    same statement again). No ORM writes: their own `atomic()` would switch autocommit,
    which cannot happen in the middle of a pipeline.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not _pipeline_supported():
        with django_transaction.atomic():
            yield
        return
    if db.in_atomic_block:
        with django_transaction.atomic(), _pipeline(db):
            yield
        return
    with _pipeline(db):
        try:
            yield
        except BaseException:
            # Still before the closing Sync, which would commit what was sent. After an error
            # on the server the transaction is aborted already, and this is a no-op.
            with suppress(DatabaseError, db.Database.Error):
                run("ROLLBACK", ())
            raise


@cache
def _pipeline_supported() -> bool:
    from psycopg import Pipeline

    return Pipeline.is_supported()


@contextmanager
def _pipeline(db: Any) -> Iterator[None]:
    db.close_if_health_check_failed()
    db.ensure_connection()
    # Errors of queued statements surface when a result is read or the pipeline syncs:
    # translated into Django's error classes there too.
    with db.wrap_database_errors, db.connection.pipeline():
        yield


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


def as_loaded(obj: M) -> M:
    """Mark an instance built from values just written as a stored row, as if the ORM had
    loaded it (so saving it updates, and related lookups use the same database)."""
    obj._state.adding = False
    obj._state.db = connections[DEFAULT_DB_ALIAS].alias
    return obj


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


def insert(
    model: type[Model], values: dict[str, Any], *, unless_exists: tuple[str, ...] = ()
) -> None:
    """INSERT one row of `model` (field name → Python value); with `unless_exists`, nothing
    when a row with those fields' values exists. No field defaults are applied: give every
    column that is NOT NULL."""
    names = tuple(values)
    run(
        _insert_sql(model, names, unless_exists, connection.vendor),
        db_values(model, names, list(values.values())),
    )


def insert_unless_exists(
    model: type[Model], values: dict[str, Any], *, unique: tuple[str, ...]
) -> int | None:
    """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING pk: the new row's pk, or None when
    a row with the same `unique` fields exists (or is being inserted by a transaction that
    then commits: PostgreSQL waits for it). No savepoint is needed, as nothing fails."""
    names = tuple(values)
    row = fetchone(
        _insert_sql(model, names, unique, connection.vendor),
        db_values(model, names, list(values.values())),
    )
    return row[0] if row else None
