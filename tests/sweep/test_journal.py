"""The journal file under a crash in mid-append: a torn last line is cut off
(and saved) before the next append; a corrupt line in the middle is a one-line error with its
line number; ``repair-journal`` salvages every readable record into a new file. A journal
compressed with xz (how a finished study is shipped) reads like the plain one and takes no
records."""

from __future__ import annotations

import json
import lzma
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from lstm_odyssey.records import StorageURL, journal_in
from lstm_odyssey.records.journal import JournalCorrupt, JournalReadOnly, salvage

from .conftest import CLI


def _journal(path: Path, trials: int) -> None:
    """A journal with one study of ``trials`` finished trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = StorageURL.parse(str(path)).open(create=True)
    study = optuna.create_study(study_name="s", storage=storage, load_if_exists=True)
    study.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=trials)


def _n_trials(path: Path) -> int:
    """Trials of study ``s`` as Optuna's own journal reader sees them."""
    storage = JournalStorage(JournalFileBackend(str(path)))
    return len(optuna.load_study(study_name="s", storage=storage).trials)


def _tear(path: Path) -> bytes:
    """Append the first half of a record, as a process killed in mid-append leaves it."""
    torn = path.read_bytes().splitlines()[-1][:25]
    with open(path, "ab") as f:
        f.write(torn)
    return torn


def test_a_torn_last_line_is_cut_off_before_the_next_append(tmp_path) -> None:
    path = tmp_path / "journal.log"
    _journal(path, 3)
    torn = _tear(path)
    assert _n_trials(path) == 3            # Optuna's reader skips a torn last line ...
    _journal(path, 2)                       # ... but an append would glue onto it
    assert _n_trials(path) == 5
    (backup,) = tmp_path.glob("journal.log.torn-*")
    assert backup.read_bytes() == torn
    assert path.read_bytes().endswith(b"\n")


def test_a_corrupt_middle_line_is_one_line_naming_it_and_the_rest_is_salvaged(tmp_path) -> None:
    path = tmp_path / "journal.log"
    _journal(path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    # damage a line that sets a trial's state (not one that creates something)
    number = next(i for i, line in enumerate(lines, 1) if json.loads(line)["op_code"] == 6)
    lines[number - 1] = b'{"op_code": 6, "trial_id"\x00\x00 garbage\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalCorrupt) as e:
        StorageURL.parse(str(path)).open(create=True)
    message = str(e.value)
    assert f"line {number} " in message and "repair-journal" in message and "\n" not in message
    out = subprocess.run([*CLI, "repair-journal", str(path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    salvaged = tmp_path / "journal.log.salvaged"
    assert f"wrote {len(lines) - 1} of {len(lines)} records to {salvaged}" in out
    assert f"dropped unreadable line(s) {number}" in out
    assert _n_trials(salvaged) == 4 and path.read_bytes() == b"".join(lines)  # original kept


def test_a_record_glued_onto_a_torn_line_is_recovered(tmp_path) -> None:
    """What Optuna's own backend leaves: a torn line, then the next append glued onto it."""
    path = tmp_path / "journal.log"
    _journal(path, 2)
    _tear(path)
    backend = JournalFileBackend(str(path))    # Optuna's own append: glued onto the torn line
    for k in ("glued", "after"):
        backend.append_logs([{"op_code": 2, "worker_id": "w", "study_id": 0,
                              "user_attr": {k: 1}}])
    with pytest.raises(JournalCorrupt, match="line"):
        StorageURL.parse(str(path)).open(create=True)
    result = salvage(path, tmp_path / "fixed.log")
    assert result.recovered == 1 and result.dropped == [] and not result.dropped_a_create
    assert _n_trials(tmp_path / "fixed.log") == 2
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "fixed.log")))
    assert optuna.load_study(study_name="s", storage=storage).user_attrs == {"glued": 1,
                                                                            "after": 1}
    with pytest.raises(Exception, match="exists"):
        salvage(path, tmp_path / "fixed.log")


def _trials(storage) -> list[tuple]:
    return [(t.number, t.state, t.params, t.value, t.user_attrs)
            for t in optuna.load_study(study_name="s", storage=storage).trials]


def test_a_compressed_journal_reads_like_the_plain_one_and_takes_no_records(tmp_path) -> None:
    plain = tmp_path / "journal.log"
    _journal(plain, 4)
    packed = tmp_path / "journal.log.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes()))
    reader = StorageURL.parse(str(packed)).open(create=False)
    assert _trials(reader) == _trials(StorageURL.parse(str(plain)).open(create=False))
    assert len(_trials(reader)) == 4
    with pytest.raises(JournalReadOnly, match=r"compressed and read-only; .*xz -dk") as e:
        StorageURL.parse(str(packed)).open(create=True)    # a sweep would append
    assert "\n" not in str(e.value)
    with pytest.raises(JournalReadOnly):                   # so would a reader that writes
        optuna.create_study(study_name="t", storage=reader)
    assert len(_trials(StorageURL.parse(str(packed)).open(create=False))) == 4


def test_the_default_journal_is_the_plain_file_else_the_compressed_one(tmp_path) -> None:
    assert journal_in(tmp_path) == tmp_path / "journal.log"            # neither: a new study
    (tmp_path / "journal.log.xz").write_bytes(lzma.compress(b""))
    assert journal_in(tmp_path) == tmp_path / "journal.log.xz"         # as shipped
    (tmp_path / "journal.log").write_bytes(b"")
    assert journal_in(tmp_path) == tmp_path / "journal.log"            # decompressed to resume


def test_a_damaged_compressed_journal_is_a_one_line_error(tmp_path) -> None:
    plain = tmp_path / "journal.log"
    _journal(plain, 2)
    packed = tmp_path / "journal.log.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes())[:-40])       # cut short
    with pytest.raises(JournalCorrupt, match="not a readable xz file") as e:
        StorageURL.parse(str(packed)).open(create=False)
    assert "\n" not in str(e.value)
    lines = plain.read_bytes().split(b"\n")
    lines[1] = lines[1][:30]                                             # a bad record inside
    packed.write_bytes(lzma.compress(b"\n".join(lines)))
    with pytest.raises(JournalCorrupt, match="line 2 "):
        StorageURL.parse(str(packed)).open(create=False)
