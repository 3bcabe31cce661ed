"""The on-disk cache of prepared corpora.

A corpus lives in ``<root>/<task>-<key>/`` as ``data.npz`` plus ``manifest.json``. The key is
the first 16 hex digits of SHA-256 over the JSON of (task, source, size, seed, generator
version, options); the manifest holds the config, the SHA-256 of ``data.npz`` and the corpus
facts. A file whose checksum does not match, or that cannot be read, is rebuilt. The root is
``<repo>/datasets`` unless the environment variable ``LSTM_ODYSSEY_DATA`` names another.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from ..errors import UserError
from .common import SPLITS, Corpus, RawSplit

ENV_VAR = "LSTM_ODYSSEY_DATA"
DATA_FILE = "data.npz"
MANIFEST = "manifest.json"


class CacheError(UserError, OSError):
    """A cache entry that that cannot be read or written."""


def cache_root() -> Path:
    """Where prepared corpora are cached: ``$LSTM_ODYSSEY_DATA`` or ``<repo>/datasets``."""
    env = os.environ.get(ENV_VAR)
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "datasets"
    if root.exists() and not root.is_dir():
        raise CacheError(f"the data cache {root} is a file, not a folder; "
                         + (f"set {ENV_VAR} to a folder" if env else "move that file away"))
    return root


def cache_key(config: dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-serialisable config."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def cache_dir(config: dict[str, Any]) -> Path:
    """The folder of one config's cache entry."""
    return cache_root() / f"{config['task']}-{cache_key(config)}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pack(corpus: Corpus) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for s in SPLITS:
        raw = corpus.split(s)
        for kind, seqs in (("x", raw.inputs), ("y", raw.targets)):
            arrays[f"{s}_{kind}_len"] = np.array([len(a) for a in seqs], dtype=np.int64)
            arrays[f"{s}_{kind}"] = (np.concatenate(seqs) if seqs else np.zeros(0))
        arrays[f"{s}_ids"] = np.array(raw.ids, dtype=str)
    return arrays


def _unpack(arrays: Any, meta: dict[str, Any]) -> Corpus:
    splits = []
    for s in SPLITS:
        seqs = {}
        for kind in ("x", "y"):
            flat, lens = arrays[f"{s}_{kind}"], arrays[f"{s}_{kind}_len"]
            seqs[kind] = np.split(flat, np.cumsum(lens)[:-1]) if len(lens) else []
        splits.append(RawSplit(seqs["x"], seqs["y"], [str(i) for i in arrays[f"{s}_ids"]]))
    return Corpus(*splits, meta=meta)


def load(config: dict[str, Any]) -> Corpus | None:
    """The cached corpus of ``config``, or None when absent, unreadable or corrupted."""
    folder = cache_dir(config)
    if (folder / DATA_FILE).is_dir():
        raise CacheError(f"the cache entry {folder} holds a folder named {DATA_FILE}; delete "
                         f"that entry (it is rebuilt) or set {ENV_VAR} to another folder")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        data = folder / DATA_FILE
        if manifest["config"] != json.loads(json.dumps(config, default=str)):
            return None
        if _sha256(data) != manifest["sha256"]:
            warnings.warn(f"cache {data} is corrupted (checksum mismatch); rebuilding",
                          stacklevel=2)
            return None
        with np.load(data, allow_pickle=False) as arrays:
            return _unpack(arrays, manifest["meta"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # wrong shape too
        warnings.warn(f"cache {folder} is unreadable ({e}); rebuilding", stacklevel=2)
        return None


# Temporary files carry the writer's host and pid: a killed writer's are removed by the next
# process on that host that uses the entry (see _remove_stale); any temp file (other hosts',
# and the unnamed ones of earlier versions) once it is a day old.
_TMP = "tmp-"
STALE_TMP_S = 24 * 3600.0


def _host() -> str:
    return socket.gethostname().replace("-", "_")


def _remove_stale(folder: Path) -> None:
    """Delete the temporary files that killed writers left in ``folder``."""
    for path in folder.glob("tmp*"):
        _, host, pid = (path.name.split("-", 3) + ["", "", ""])[:3]
        try:
            dead = host == _host() and not psutil.pid_exists(int(pid))
        except ValueError:
            dead = False
        try:
            if dead or time.time() - path.stat().st_mtime > STALE_TMP_S:
                path.unlink()
        except OSError:
            pass  # removed meanwhile, or not ours to remove


def save(config: dict[str, Any], corpus: Corpus) -> Path:
    """Write ``corpus`` atomically (temp file + rename) and return its folder."""
    folder = cache_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{_TMP}{_host()}-{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **_pack(corpus))
        manifest = {
            "config": config,
            "key": cache_key(config),
            "file": DATA_FILE,
            "sha256": _sha256(Path(tmp)),
            "bytes": os.path.getsize(tmp),
            "sequences": {s: len(corpus.split(s)) for s in SPLITS},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "meta": corpus.meta,
        }
        os.replace(tmp, folder / DATA_FILE)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(manifest, f, indent=1, default=str)
        os.replace(tmp, folder / MANIFEST)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise CacheError(f"cannot write the cache entry {folder} ({e.strerror}: "
                         f"{e.filename}); delete that entry or set {ENV_VAR} to another "
                         "folder") from None
    return folder


def cached(config: dict[str, Any], build: Callable[[], Corpus]) -> Corpus:
    """The corpus of ``config`` from the cache, built and saved first when needed."""
    if cache_dir(config).is_dir():
        _remove_stale(cache_dir(config))
    corpus = load(config)
    if corpus is None:
        corpus = build()
        save(config, corpus)
        corpus = load(config) or corpus
    return corpus


def stamp(path: Path) -> dict[str, Any]:
    """Identity of a real corpus for a cache key: resolved path, file count, bytes, newest
    modification time (a changed corpus gets a new cache entry)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.stat() for p in files]
    return {"path": str(path.resolve()), "files": len(stats),
            "bytes": sum(s.st_size for s in stats),
            "mtime": int(max((s.st_mtime for s in stats), default=0))}
