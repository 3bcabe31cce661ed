"""Where trials live: the embedded journal file (default) or an RDB such as PostgreSQL.

* Default: an Optuna journal file, ``results/<study>/journal.log``. Every write is an appended
  log line under a file lock, so any number of local worker processes can share it; it is for
  one machine (a worker that dies is detected by its process id on that machine).
* ``postgresql://…`` for many machines. Workers send a heartbeat every ``heartbeat_interval``
  seconds while a trial runs; a RUNNING trial without one for ``grace_period`` seconds is failed
  by the next worker that looks and its configuration re-queued (:mod:`.recovery`).
* ``sqlite:///file.db`` also works for local processes (a long busy timeout so that parallel
  writers wait instead of failing), but the journal file is the better local choice.

Passwords never leave this module: :func:`mask_url` is what everything prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import re
import time
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalStorage

from ..errors import UserError
from . import journal, schema

SQLITE_TIMEOUT_S = 120
CREATE_ATTEMPTS = 5


class StorageError(UserError, ConnectionError):
    """A storage URL that is malformed, unsupported or unreachable."""


def default_url(study: str) -> str:
    """The embedded storage of a study: its journal file under ``results/<study>/``."""
    return str(Path("results") / study / schema.JOURNAL_FILE)


def is_rdb(url: str) -> bool:
    """True for SQLAlchemy URLs (``postgresql://``, ``sqlite:///``), False for journal files."""
    return "://" in url and not url.startswith("journal://")


def journal_path(url: str) -> Path:
    """The file of a journal URL (a plain path or ``journal://PATH``)."""
    return Path(url.removeprefix("journal://"))


def storage_exists(url: str) -> bool:
    """Whether there is a storage at ``url`` to read, so that a reader (``status``) never
    creates an empty one: the journal file or SQLite file exists (a server database is
    assumed to)."""
    if not is_rdb(url):
        return journal_path(url).is_file()
    if url.startswith("sqlite"):
        db = url.split(":///", 1)[-1]
        return db == ":memory:" or Path(db).is_file()
    return True


# Query or DSN keywords whose value is a secret (libpq's names), e.g. ``?password=…``.
_SECRET_KEYS = r"(?:password|passwd|pwd|sslpassword)"
_SECRET_KEYWORD = re.compile(rf"(?i)\b({_SECRET_KEYS}\s*=\s*)('[^']*'|[^\s&;]*)")


def _secrets(url: str) -> list[str]:
    """Every secret a storage string carries: the password of its user-info (everything
    between the first ``:`` and the LAST ``@`` of the part before the query, so an unencoded
    ``@`` in a password stays in the secret) and the values of password keywords."""
    found = [m.group(2).strip("'") for m in _SECRET_KEYWORD.finditer(url)]
    if "://" in url:
        before_query = url.split("://", 1)[1].split("?", 1)[0]
        userinfo = before_query.rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    return [v for f in found if f for v in {f, unquote(f)}]  # drivers echo it decoded


def mask_url(url: str) -> str:
    """The storage string with every password replaced by ``***`` (what logs, errors, status
    and reports show): the user-info password, ``?password=…`` and DSN keywords alike.
    Written by hand rather than with SQLAlchemy's ``render_as_string`` because that masks only
    the user-info part and splits an unencoded ``@`` wrongly."""
    masked = _SECRET_KEYWORD.sub(lambda m: m.group(1) + "***", url)
    if "://" in masked:
        scheme, rest = masked.split("://", 1)
        before_query, sep, query = rest.partition("?")
        userinfo, at, host = before_query.rpartition("@")
        if at and ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        masked = f"{scheme}://{userinfo}{at}{host}{sep}{query}"
    return masked


def _scrub(text: str, url: str) -> str:
    """Remove the secrets of ``url`` from a message (drivers sometimes echo the DSN)."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _SECRET_KEYWORD.sub(lambda m: m.group(1) + "***", text)


def driver_url(url: str) -> str:
    """``postgresql://`` with an explicit driver: SQLAlchemy ≥ 2.1 defaults to psycopg 3, this
    package installs psycopg2; a URL that names its driver is left alone."""
    if url.startswith("postgresql://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_storage(url: str, heartbeat_interval: int = 60, grace_period: int = 180) -> BaseStorage:
    """Open (creating if needed) the storage at ``url``.

    RDB storages get Optuna heartbeats (``heartbeat_interval``, ``grace_period``); trials
    whose worker stopped sending them are failed and re-queued by :mod:`.recovery`.
    Raises :class:`StorageError` (one line, password masked) when it cannot be opened.
    """
    if not is_rdb(url):
        path = journal_path(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(journal.JournalBackend(str(path)))
        except OSError as e:
            raise StorageError(f"cannot create the journal file {path} ({e.strerror}); "
                               "choose a writable --storage path") from None
        except ValueError:  # Optuna's reader: a line that is not one JSON record
            journal.check(path)
            raise
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme not in ("postgresql", "sqlite"):
        raise StorageError(f"storage {mask_url(url)}: unsupported scheme {scheme!r}; use "
                           "postgresql://…, sqlite:///FILE.db or a journal file path")
    if "@" in url.split("://", 1)[1].split("?", 1)[0].rpartition("@")[0]:
        raise StorageError(f"storage {mask_url(url)}: the user or password contains an "
                           "unencoded '@'; write it as %40 in --storage")
    engine_kwargs: dict = {"pool_pre_ping": True}
    if scheme == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        db = url.split(":///", 1)[-1]
        if db and db != ":memory:":
            try:
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"cannot create the folder of the SQLite file {db} "
                                   f"({e.strerror}); choose a writable --storage path") from None
    from sqlalchemy.exc import OperationalError

    attempt = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(driver_url(url), engine_kwargs=engine_kwargs,
                                  heartbeat_interval=heartbeat_interval,
                                  grace_period=grace_period)
        except Exception as e:  # noqa: BLE001 — SQLAlchemy and drivers raise many types
            # Workers that start together on an empty database race to create Optuna's tables
            # (a unique violation for all but one): try again. Unreachable servers fail at once.
            attempt += 1
            if attempt < CREATE_ATTEMPTS and not isinstance(e, OperationalError | ImportError):
                time.sleep(random.uniform(0.2, 1.0))
                continue
            text = str(e).strip()
            first = _scrub(text.splitlines()[0] if text else type(e).__name__, url)
            raise StorageError(f"cannot open storage {mask_url(url)} ({first}); check the host, "
                               "port, database and credentials of --storage") from None


@contextlib.contextmanager
def exclusive(storage: BaseStorage, url: str, name: str) -> Iterator[None]:
    """Hold a lock that only one process of all machines sharing ``url`` can hold: a
    PostgreSQL advisory lock (session-level, released if the holder dies) or an ``fcntl`` lock
    on a file next to a local journal/SQLite file. Used so that one coordinator plans."""
    if is_rdb(url) and url.startswith("postgresql"):
        import sqlalchemy

        key = zlib.crc32(f"lstm-odyssey/{name}".encode())
        assert isinstance(storage, RDBStorage)
        with storage.engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    target = journal_path(url) if not is_rdb(url) else Path(url.split(":///", 1)[-1])
    lock = target.with_name(target.name + ".plan.lock")
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
