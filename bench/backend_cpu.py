"""CPU time of a connection's PostgreSQL backend, for benchmarks on a shared machine.

Unlike wall time, a process's CPU time hardly moves with the load of other processes, so the
benches report it beside their timings. Read from /proc/<pid>/schedstat of the backend (the
pid from `pg_backend_pid()`), so only when the server runs on this host.
"""

from collections.abc import Callable
from pathlib import Path


def backend_cpu_reader(connection) -> Callable[[], float | None]:
    """A function returning the CPU seconds used so far by this connection's PostgreSQL
    backend; it returns None on another database or a server on another host."""
    if connection.vendor != "postgresql":
        return lambda: None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    stat = Path(f"/proc/{pid}/schedstat")
    if not stat.exists():
        return lambda: None
    return lambda: int(stat.read_text().split()[0]) / 1e9
