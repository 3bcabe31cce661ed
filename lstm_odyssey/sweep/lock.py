"""The planning lock: one process of all machines that share a storage plans at a time."""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator

from optuna.storages import BaseStorage, RDBStorage

from ..records import StorageURL
from ..records.storage import Kind

_PLAN_LOCK_KEY = zlib.crc32(b"lstm-odyssey/plan")  # the PostgreSQL advisory lock's key


@contextlib.contextmanager
def exclusive(storage: BaseStorage, url: StorageURL) -> Iterator[None]:
    """Hold a lock that only one process of all machines sharing ``url`` can hold: a
    PostgreSQL advisory lock (session-level, released if the holder dies) or an ``fcntl`` lock
    on a file next to a local journal/SQLite file (an in-memory SQLite database has no other
    process to exclude). Used so that one coordinator plans. One lock per storage, not per
    study file: two study files may share a task's searches (``from``)."""
    if url.kind == Kind.POSTGRESQL:
        import sqlalchemy

        key = _PLAN_LOCK_KEY
        assert isinstance(storage, RDBStorage)
        with storage.engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    if url.path is None:
        yield
        return
    lock = url.path.with_name(url.path.name + ".plan.lock")
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
