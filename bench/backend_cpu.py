"""CPU time of a connection's PostgreSQL backend, for benchmarks on a shared machine.

Unlike wall time, a process's CPU time hardly moves with the load of other processes, so the
benches report it beside their timings. Read from /proc/<pid>/schedstat of the backend (the
pid from `pg_backend_pid()`), so only when the server runs on this host.
"""

import threading
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


class DatabaseBackendsCpu:
    """CPU seconds of every client backend of one database, for work spread over several
    connections (the importer's writers): a thread samples /proc/<pid>/schedstat of each
    backend in pg_stat_activity every `interval` seconds. A backend that exits between two
    samples loses at most `interval` of CPU from the total."""

    def __init__(self, url: str, interval: float = 0.2):
        import psycopg

        self._connection = psycopg.connect(url, autocommit=True)
        self._own = self._connection.info.backend_pid
        self._interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self, *, first: bool = False) -> None:
        rows = self._connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> %s",
            [self._own],
        ).fetchall()
        for (pid,) in rows:
            try:
                cpu = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
            except (FileNotFoundError, ProcessLookupError):
                continue
            # Backends there at the start count from then; later ones from their start.
            self._first.setdefault(pid, cpu if first else 0.0)
            self._last[pid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def seconds(self) -> float:
        """CPU used since this sampler started, by all the database's backends."""
        self._sample()
        return sum(self._last[pid] - self._first[pid] for pid in self._last)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._connection.close()
