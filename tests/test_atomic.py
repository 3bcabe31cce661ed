"""Outputs appear whole or not at all: records.atomic's folder and file swaps, interrupted by an
error, by a full disk (a real small tmpfs) and by an interrupted swap."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from lstm_odyssey.records.atomic import OutputError, atomic_directory, atomic_file


def _tree(root):
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_a_folder_is_replaced_whole(tmp_path) -> None:
    out = tmp_path / "report"
    with atomic_directory(out) as tmp:
        (tmp / "report.html").write_text("one")
        (tmp / "trials.csv").write_text("a")
        assert not out.exists()                 # nothing visible before the end
    assert _tree(out) == {"report.html": "one", "trials.csv": "a"}
    with atomic_directory(out) as tmp:
        (tmp / "report.html").write_text("two")
    assert _tree(out) == {"report.html": "two"}  # no file of the old one is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_an_error_in_the_block_leaves_the_old_folder(tmp_path) -> None:
    out = tmp_path / "report"
    with atomic_directory(out) as tmp:
        (tmp / "report.html").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_directory(out) as tmp:
        (tmp / "trials.csv").write_text("new")
        raise KeyboardInterrupt
    assert _tree(out) == {"report.html": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_an_interrupted_swap_is_undone_by_the_next_call(tmp_path) -> None:
    out = tmp_path / "report"
    old = tmp_path / ".report.old-123"           # killed between the two renames
    old.mkdir()
    (old / "report.html").write_text("old")
    (tmp_path / ".report.tmp-abc").mkdir()
    with pytest.raises(RuntimeError), atomic_directory(out):
        raise RuntimeError("the next writer fails too")
    assert _tree(out) == {"report.html": "old"}  # the old folder is back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_file_target_is_one_line(tmp_path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file"), atomic_directory(tmp_path / "f"):
        pass


def test_a_file_is_replaced_whole(tmp_path) -> None:
    target = tmp_path / "trials.csv"
    target.write_text("old")
    with pytest.raises(ValueError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise ValueError
    assert target.read_text() == "old"
    with atomic_file(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["trials.csv"]


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 KiB file system (tmpfs; needs root)."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_line_naming_the_folder_and_keeps_the_old_output(small_disk):
    out = small_disk / "report"
    with atomic_directory(out) as tmp:
        (tmp / "report.html").write_text("old")
    with pytest.raises(OutputError) as e, atomic_directory(out) as tmp:
        (tmp / "trials.csv").write_bytes(os.urandom(1024 * 1024))  # more than the disk holds
    text = str(e.value)
    assert "\n" not in text and str(out) in text and "no space left" in text, text
    assert _tree(out) == {"report.html": "old"}
    assert sorted(p.name for p in small_disk.iterdir()) == ["report"]  # the partial one: gone
