"""A database that blinks: every call to a server storage waits out an outage, with backoff.

A PostgreSQL (or SQLite) storage opened by :meth:`.storage.StorageURL.open` is a
:class:`PatientRDBStorage`: each of its calls that fails because the connection is gone (the
server stopped, restarted or is unreachable; :func:`is_outage`) is tried again after
``0.25 · 2^k`` seconds (at most :data:`MAX_DELAY_S`), until the call has been failing for
``outage_s`` seconds (:data:`OUTAGE_S` by default, ``[storage] outage_s`` of a study file).
Then it raises :class:`StorageUnavailable`, one line naming the storage (masked) and what to
do: nothing recorded is lost, the same command resumes once the server is back.

So heartbeats, tells, pops and the coordinator's progress all survive a restart of the server;
an error that is not an outage (a constraint, a bug) is raised at once.

During an outage nobody's heartbeats reach the server, so once it is back every running trial
looks silent. A storage that has itself waited out an outage therefore declares no trial lost
for ``grace_period + MAX_DELAY_S`` seconds afterwards (the time the other workers need to beat
again), and the heartbeat thread beats again as soon as the server answers.

Retrying is safe: Optuna writes each call in one transaction, a stopped server aborts the
open ones, and the calls the workers repeat are claims (an already claimed trial is refused),
state changes (an already finished trial raises ``UpdateFinishedTrialError``, which the
worker handles) and attribute writes (idempotent). The one window left is a commit that the
server made but whose acknowledgement was lost; a re-queue repeated through it adds a second
waiting copy of a configuration.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy.exc
from optuna.exceptions import StorageInternalError
from optuna.storages import RDBStorage

from .storage import StorageError

OUTAGE_S = 60.0       # how long a storage call waits for the server to come back
FIRST_DELAY_S = 0.25  # the first wait between tries; it doubles up to MAX_DELAY_S
MAX_DELAY_S = 4.0

# SQLAlchemy's errors of a lost or refused connection (the driver's OperationalError, e.g.
# "server closed the connection unexpectedly", "Connection refused", "the database system is
# shutting down"); Optuna wraps them in StorageInternalError.
_OUTAGES = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
            sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError)

T = TypeVar("T")


class StorageUnavailable(StorageError):
    """The storage's server did not answer for the whole outage window."""


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what it was raised from) is a lost or refused connection."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, _OUTAGES):
            return True
        # Optuna's wrapper, or SQLAlchemy's own (PendingRollbackError: the transaction died
        # with its connection): look at what it was raised from
        if not isinstance(e, StorageInternalError | sqlalchemy.exc.SQLAlchemyError):
            return False
        e = e.__cause__ or e.__context__
    return False


def first_line(error: BaseException) -> str:
    """The driver's first line of what ``error`` wraps (``Type: text``)."""
    e = error
    while isinstance(e, StorageInternalError) and (e.__cause__ or e.__context__) is not None:
        e = e.__cause__ or e.__context__
    if isinstance(e, sqlalchemy.exc.DBAPIError) and e.orig is not None:
        e = e.orig
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


class Patience:
    """Waits out one outage: :meth:`call` runs a function until it does not fail with an
    outage or the outage has lasted ``outage_s`` seconds (then :class:`StorageUnavailable`).
    ``on_wait(seconds so far, error)`` is told before each wait; :attr:`recovered_at` is the
    monotonic time the last outage ended (None: none seen)."""

    def __init__(self, masked: str, outage_s: float = OUTAGE_S,
                 on_wait: Callable[[float, BaseException], object] | None = None,
                 scrub: Callable[[str], str] = str) -> None:
        self.masked, self.outage_s, self.on_wait, self.scrub = masked, outage_s, on_wait, scrub
        self.recovered_at: float | None = None
        self._local = threading.local()  # nested calls wait in the outermost only

    def __getstate__(self) -> dict:  # (a storage is pickled for Dask and spawned processes)
        return {**self.__dict__, "_local": None, "on_wait": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _local=threading.local())

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if getattr(self._local, "inside", False):
            return fn(*args, **kwargs)
        self._local.inside = True
        try:
            return self._call(fn, *args, **kwargs)
        finally:
            self._local.inside = False

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started: float | None = None
        delay = FIRST_DELAY_S
        while True:
            try:
                result = fn(*args, **kwargs)
            except Exception as e:
                if not is_outage(e):
                    raise
                now = time.monotonic()
                started = now if started is None else started
                if now - started >= self.outage_s:
                    raise self.unavailable(e) from None
                if self.on_wait is not None:
                    self.on_wait(now - started, e)
                time.sleep(min(delay, self.outage_s - (now - started)) * random.uniform(0.8, 1))
                delay = min(2 * delay, MAX_DELAY_S)
                continue
            if started is not None:
                self.recovered_at = time.monotonic()
            return result

    def unavailable(self, error: BaseException) -> StorageUnavailable:
        """The one-line error of an outage that outlasted the window."""
        return StorageUnavailable(
            f"storage {self.masked} has not answered for {self.outage_s:.0f} s "
            f"({self.scrub(first_line(error))}); nothing recorded is lost: start the database "
            "server (or fix the network to it), then run the same command again to resume")

    def in_aftermath(self, grace_period: float) -> bool:
        """Whether an outage ended less than ``grace_period + MAX_DELAY_S`` seconds ago."""
        return (self.recovered_at is not None
                and time.monotonic() - self.recovered_at < grace_period + MAX_DELAY_S)


# Every call of Optuna's storage API that reaches the server (heartbeats included; Optuna 5).
_CALLS = ("create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
          "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
          "get_study_user_attrs", "get_study_system_attrs", "get_all_studies",
          "create_new_trial", "set_trial_param", "get_trial_id_from_study_id_trial_number",
          "get_trial_number_from_id", "get_trial_param", "set_trial_state_values",
          "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr",
          "get_trial", "get_all_trials", "get_n_trials", "get_best_trial", "get_trial_params",
          "get_trial_user_attrs", "get_trial_system_attrs", "record_heartbeat",
          # and the private ones Optuna's _CachedStorage calls on its backend
          "_create_new_trial", "_get_best_trial_id", "_get_trials", "_set_trial_param")


class PatientRDBStorage(RDBStorage):
    """Optuna's RDB storage whose calls wait out an outage (:class:`Patience`); still an
    ``RDBStorage``, so Optuna caches and heartbeats it as usual."""

    patience: Patience

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        # right after an outage every heartbeat is old: wait until the live workers beat again
        if self.patience.in_aftermath(self.grace_period or 2 * (self.heartbeat_interval or 0)):
            return []
        return self.patience.call(super()._get_stale_trial_ids, study_id)


def _patient(name: str) -> Callable:
    method = getattr(RDBStorage, name)

    @functools.wraps(method)
    def call(self: PatientRDBStorage, *args: Any, **kwargs: Any) -> Any:
        patience = self.__dict__.get("patience")  # (not yet set while RDBStorage initialises)
        if patience is None:
            return method(self, *args, **kwargs)
        return patience.call(method, self, *args, **kwargs)
    return call


for _name in _CALLS:
    setattr(PatientRDBStorage, _name, _patient(_name))


def _not_an_outage_warning(record: logging.LogRecord) -> bool:
    """Drops Optuna's multi-line warning about a failed query that it then tries another way
    (the outage is waited out here; the driver's text may hold the URL)."""
    return not record.getMessage().startswith("Caught an error from sqlalchemy")


def open_patient(url: str, masked: str, outage_s: float, scrub: Callable[[str], str],
                 **kwargs: Any) -> PatientRDBStorage:
    """``PatientRDBStorage(url, **kwargs)`` waiting out outages of up to ``outage_s`` seconds;
    ``masked`` names it in errors, ``scrub`` removes its secrets from the driver's text."""
    logger = logging.getLogger("optuna.storages._rdb.storage")
    if _not_an_outage_warning not in logger.filters:
        logger.addFilter(_not_an_outage_warning)
    storage = PatientRDBStorage(url, **kwargs)
    storage.patience = Patience(masked, outage_s, scrub=scrub)
    return storage
