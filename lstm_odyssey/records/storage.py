"""Where a sweep's records live: a storage string parsed once into a :class:`StorageURL`.

* A journal file (a path, or ``journal://PATH``; the default is ``results/<study>/journal.log``):
  an Optuna journal, appended under a file lock, so any number of local worker processes can
  share it; it is for one machine. ``journal.log.xz`` (a finished study as shipped) is read
  directly and refuses new records; it is the default where ``journal.log`` does not exist.
* A journal on a *base* (``[storage] base`` of a study file): the base journal (plain or
  compressed) is read first and never written, the study's own journal holds only what came
  after; together they are one storage (:class:`~.journal.LayeredJournal`). This is how a
  study extends a shipped one without copying it.
* ``postgresql://…`` for many machines. Workers send a heartbeat every ``heartbeat_interval``
  seconds while a trial runs; a RUNNING trial without one for ``grace_period`` seconds is failed
  and its configuration re-queued (:mod:`lstm_odyssey.sweep.recovery`).
* ``sqlite:///file.db`` also works for local processes (a long busy timeout so that parallel
  writers wait instead of failing), but the journal file is the better local choice.

A sweep opens its storage with ``create=True``; everything that only reads (``status``, the
analysis, the dashboard) with ``create=False``, which never makes an empty storage. Passwords
never leave this module: :attr:`StorageURL.masked` is what everything prints.
"""

from __future__ import annotations

import enum
import random
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus

from ..errors import UserError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

JOURNAL_FILE = "journal.log"
COMPRESSED_SUFFIX = ".xz"  # a journal compressed with xz: read-only (records/journal.py)
SQLITE_TIMEOUT_S = 120
CREATE_ATTEMPTS = 5


class StorageError(UserError, ConnectionError):
    """A storage URL that is malformed, unsupported or unreachable."""


class StorageNotFound(StorageError, FileNotFoundError):
    """A storage that does not exist, opened by a reader (which never creates one)."""


class Kind(enum.StrEnum):
    """The kinds of storage."""

    JOURNAL = "journal"
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


def journal_in(directory: Path) -> Path:
    """The journal file of a results directory: ``journal.log``, or its compressed form
    ``journal.log.xz`` where only that exists."""
    plain = directory / JOURNAL_FILE
    compressed = plain.with_name(JOURNAL_FILE + COMPRESSED_SUFFIX)
    return compressed if not plain.exists() and compressed.exists() else plain


def default_location(study: str) -> str:
    """The embedded storage of a study: its journal file in ``results/<study>/``."""
    return str(journal_in(Path("results") / study))


@dataclass(frozen=True)
class StorageURL:
    """A parsed storage string: the text as given, its kind and the local file that holds it
    (None for a server database or an in-memory SQLite one)."""

    text: str
    kind: Kind
    path: Path | None
    base: Path | None = None  # a journal read before ``path`` (journal storages only)

    def __repr__(self) -> str:  # never the password, even in a traceback or a log
        return f"StorageURL({self.masked!r})"

    @classmethod
    def parse(cls, text: str) -> StorageURL:
        """Parse what the user wrote; an unsupported scheme or an unencoded ``@`` in the
        user-info is a :class:`StorageError`."""
        if "://" not in text or text.startswith("journal://"):
            return cls(text, Kind.JOURNAL, Path(text.removeprefix("journal://")))
        scheme, rest = text.split("://", 1)
        scheme = scheme.split("+", 1)[0]
        if scheme not in (Kind.POSTGRESQL, Kind.SQLITE):
            raise StorageError(f"storage {mask_url(text)}: unsupported scheme {scheme!r}; use "
                               "postgresql://…, sqlite:///FILE.db or a journal file path")
        if _parts(text).ambiguous:  # the driver would take its start for the password
            raise StorageError(f"storage {mask_url(text)}: the user or password contains an "
                               "unencoded '@'; write it as %40 in --storage")
        path = None
        if scheme == Kind.SQLITE and rest.startswith("/") and rest[1:] not in ("", ":memory:"):
            path = Path(rest[1:])
        return cls(text, Kind(scheme), path)

    @property
    def masked(self) -> str:
        """The text with every password replaced by ``***`` (and the base journal, if any)."""
        return mask_url(self.text) + (f" on base {self.base}" if self.base else "")

    def on_base(self, base: str | Path) -> StorageURL:
        """The same journal storage on the base journal ``base`` (see the module docstring)."""
        if self.kind != Kind.JOURNAL:
            raise StorageError(f"storage {self.masked}: a base journal works with journal "
                               "storages only")
        return StorageURL(self.text, self.kind, self.path, Path(base))

    def resolved(self) -> StorageURL:
        """The same storage with journal paths made absolute (so that processes started
        elsewhere agree on it)."""
        if self.kind != Kind.JOURNAL:
            return self
        path = self.path.resolve()
        return StorageURL(str(path), Kind.JOURNAL, path,
                          None if self.base is None else self.base.resolve())

    def exists(self) -> bool:
        """Whether there is a storage to read: its journal (or its base journal) or SQLite
        file exists (a server database is assumed to)."""
        if self.base is not None and self.base.is_file():
            return True
        return self.path is None or self.path.is_file()

    def open(self, create: bool, heartbeat_interval: int = 60,
             grace_period: int = 180, outage_s: float | None = None) -> BaseStorage:
        """Open the storage, creating it (and its folder) if ``create``; without ``create`` a
        missing one is a :class:`StorageNotFound`.

        RDB storages get Optuna heartbeats (``heartbeat_interval``, ``grace_period``), and
        each of their calls waits out a lost connection for up to ``outage_s`` seconds
        (:data:`.outage.OUTAGE_S` if None; :mod:`.outage`). Raises :class:`StorageError` (one
        line, password masked) when it cannot be opened."""
        if not create and not self.exists():
            raise StorageNotFound(f"no sweep storage at {self.masked}; run `lstm-odyssey sweep "
                                  "STUDY.toml` first or fix --storage")
        if self.kind == Kind.JOURNAL:
            return self._open_journal(create)
        return self._open_rdb(heartbeat_interval, grace_period, outage_s)

    def _open_journal(self, create: bool) -> BaseStorage:
        from optuna.storages.journal import JournalStorage

        from . import journal

        if self.base is not None:
            if not self.base.is_file():
                raise StorageNotFound(f"the base journal {self.base} of storage {self.path} does "
                                      "not exist; fix 'storage.base' of the study file")
            own = self.path if create or self.path.is_file() else None
            if own is not None:
                refuse_non_journal(own)
            if own is not None and create and journal.is_compressed(own):
                raise journal.read_only_error(own)
            if own is not None and not journal.is_compressed(own):
                try:
                    own.parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise StorageError(f"cannot create the journal file {own} ({e.strerror}); "
                                       "choose a writable --storage path") from None
            return JournalStorage(journal.LayeredJournal(self.base, own))
        if journal.is_compressed(self.path):
            if create:  # only a sweep creates: it would fail at its first record
                raise journal.read_only_error(self.path)
            try:
                return JournalStorage(journal.CompressedJournal(self.path))
            except OSError as e:
                raise StorageError(f"cannot read the journal file {self.path} ({e.strerror}); "
                                   "check --storage") from None
        refuse_non_journal(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(journal.JournalBackend(str(self.path)))
        except OSError as e:
            if self.path.is_file():
                raise StorageError(f"cannot open the journal file {self.path} ({e.strerror}); "
                                   "check its permissions or --storage") from None
            raise StorageError(f"cannot create the journal file {self.path} ({e.strerror}); "
                               "choose a writable --storage path") from None
        except ValueError:  # Optuna's reader: a line that is not one JSON record
            journal.check(self.path)
            raise
        except (KeyError, TypeError, AttributeError, IndexError, AssertionError) as e:  # replay
            raise StorageError(f"{self.path} is not an Optuna journal: a record lacks what "
                               f"Optuna's records hold ({type(e).__name__}: {e}); point "
                               "--storage at a sweep's journal.log or at a new file") from None

    def _open_rdb(self, heartbeat_interval: int, grace_period: int,
                  outage_s: float | None) -> BaseStorage:
        import functools

        import optuna
        from sqlalchemy.exc import OperationalError

        from . import outage

        engine_kwargs: dict = {"pool_pre_ping": True}
        if self.kind == Kind.SQLITE:
            engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"cannot create the folder of the SQLite file {self.path} "
                                   f"({e.strerror}); choose a writable --storage path") from None
        attempt = 0
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return outage.open_patient(
                        driver_url(self.text), self.masked,
                        outage.OUTAGE_S if outage_s is None else outage_s,
                        functools.partial(_scrub, url=self.text), engine_kwargs=engine_kwargs,
                        heartbeat_interval=heartbeat_interval, grace_period=grace_period)
            except Exception as e:  # noqa: BLE001 — SQLAlchemy and drivers raise many types
                # Workers that start together on an empty database race to create Optuna's
                # tables (a unique violation for all but one): try again. Unreachable servers
                # fail at once.
                attempt += 1
                if attempt < CREATE_ATTEMPTS and not isinstance(e, OperationalError | ImportError):
                    time.sleep(random.uniform(0.2, 1.0))
                    continue
                text = str(e).strip()
                first = _scrub(text.splitlines()[0] if text else type(e).__name__, self.text)
                raise StorageError(f"cannot open storage {self.masked} ({first}); check the "
                                   "host, port, database and credentials of --storage") from None


# Query or DSN keywords whose value is a secret (libpq's names), e.g. ``?password=…``.
_SECRET_KEYS = r"(?:password|passwd|pwd|sslpassword)"
# A DSN keyword string (``host=h password=x``): the value runs to the next blank (or is quoted).
_SECRET_KEYWORD = re.compile(rf"(?i)\b({_SECRET_KEYS}\s*=\s*)('[^']*'|[^\s&;]*)")
# In a URL's query the value runs to the next ``&`` (Python's parse_qsl, which SQLAlchemy uses).
_SECRET_QUERY = re.compile(rf"(?i)(?:(?<=[?&])|^)({_SECRET_KEYS}=)([^&]*)")
# SQLAlchemy's own URL pattern (``sqlalchemy.engine.url._parse_url``) up to the user-info, so
# that the password is found exactly where the driver takes it: the user name runs to the
# first ':' or '/', the password from there to the FIRST '@' (so '?', '#', '/' and ':' are
# part of it, unencoded or not).
_USERINFO = re.compile(r"(?P<scheme>[\w+]+)://(?:(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@)?")
# Where a URL's query starts once an unencoded '@' made the end of the password ambiguous:
# the first '?' followed by a key and '='.
_QUERY_KEY = re.compile(r"\?[\w.\-]+=")


@dataclass(frozen=True)
class _Parts:
    """A URL cut where SQLAlchemy cuts it: ``text[:secret[0]]`` up to the password,
    ``text[secret[0]:secret[1]]`` the password (empty span: none), the host part after it, and
    the query (``text[query:]``, after its '?'; None: no query)."""

    secret: tuple[int, int]
    query: int | None
    ambiguous: bool  # the password holds an unencoded '@': the driver would cut it short


def _parts(url: str) -> _Parts | None:
    """The password's span in ``url`` as SQLAlchemy's parser finds it, widened to the LAST
    '@' before the query where the text after the driver's password holds another '@' (an
    unencoded '@' in the password: all of it is secret, though the driver would take only its
    start); None where ``url`` is not a URL."""
    m = _USERINFO.match(url)
    if m is None:
        return None
    start = end = m.end()
    if m.group("password") is not None:
        start, end = m.span("password")
    rest = url[m.end():]
    ambiguous = False
    if m.group("password") is not None:
        q = _QUERY_KEY.search(rest)
        head = rest[:q.start() if q else len(rest)]
        if "@" in head:  # the driver's host would hold an '@': the password went on
            ambiguous = True
            end = m.end() + head.rindex("@")
            rest = url[end + 1:]
    q = rest.find("?")
    query = None if q < 0 else len(url) - len(rest) + q + 1
    return _Parts((start, end), query, ambiguous)


def _secrets(url: str) -> list[str]:
    """Every secret a storage string carries, as written and as the driver decodes it: the
    user-info password (:func:`_parts`) and the values of password keywords (query
    parameters of a URL, or the keywords of a DSN string)."""
    found = []
    parts = _parts(url)
    if parts is None:
        found += [m.group(2).strip("'") for m in _SECRET_KEYWORD.finditer(url)]
    else:
        found.append(url[slice(*parts.secret)])
        if parts.query is not None:
            found += [m.group(2) for m in _SECRET_QUERY.finditer(url, parts.query)]
    decoded = {unquote(f) for f in found} | {unquote_plus(f) for f in found}
    return [v for v in {*found, *decoded} if v]


def mask_url(url: str) -> str:
    """The storage string with every password replaced by ``***`` (what logs, errors, status
    and reports show): the user-info password where SQLAlchemy and the driver find it (with
    unencoded '?', '#', '/', ':' or '@' in it), ``?password=…`` and DSN keywords alike.
    Written by hand rather than with SQLAlchemy's ``render_as_string`` because that masks only
    the user-info part and an unencoded '@' leaves the rest of the password in its host."""
    parts = _parts(url)
    if parts is None:
        return _SECRET_KEYWORD.sub(lambda m: m.group(1) + "***", url)
    (start, end), query = parts.secret, parts.query
    if query is None:
        tail = url[end:]
    else:
        tail = url[end:query] + _SECRET_QUERY.sub(lambda m: m.group(1) + "***", url[query:])
    return url[:start] + ("***" if end > start else "") + tail


def _scrub(text: str, url: str) -> str:
    """Remove the secrets of ``url`` from a message (drivers sometimes echo the DSN)."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _SECRET_KEYWORD.sub(lambda m: m.group(1) + "***", text)


def refuse_non_journal(path: Path) -> None:
    """Refuse, before anything reads or appends to it, a file that is not an Optuna journal:
    every journal starts with the record that creates a study (``op_code`` 0, with a
    ``worker_id``). An empty or missing file is a new journal; a torn first record (a crash in
    the first append) is one too."""
    import json

    try:
        with open(path, "rb") as f:
            first = f.readline()
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StorageError(f"--storage {path} is a folder; give the journal file inside it "
                           f"({path}/{JOURNAL_FILE})") from None
    except OSError as e:
        raise StorageError(f"cannot read the journal file {path} ({e.strerror}); check its "
                           "permissions or --storage") from None
    if not first or (not first.endswith(b"\n") and first.startswith(b'{"op_code":')):
        return
    try:
        record = json.loads(first)
    except ValueError:
        if first.startswith(b'{"op_code":'):
            return  # a damaged record: the journal's own check names the line and the repair
        record = None
    if not (isinstance(record, dict) and record.get("op_code") == 0
            and isinstance(record.get("worker_id"), str)):
        raise StorageError(f"{path} is not an Optuna journal (its first line is not the record "
                           "that creates a study); point --storage at a sweep's journal.log or "
                           "at a new file")


def driver_url(url: str) -> str:
    """``postgresql://`` with an explicit driver: SQLAlchemy ≥ 2.1 defaults to psycopg 3, this
    package installs psycopg2; a URL that names its driver is left alone."""
    if url.startswith("postgresql://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url
