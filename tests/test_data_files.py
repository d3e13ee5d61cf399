"""data/files.py: the one atomic write (the job's files, the dataset cache, the docs' generated blocks)."""
import errno
import hashlib
import os

import pytest

from merlin_mlm_ops.data.files import sha256, write_atomic


def test_write_atomic_replaces_the_file_as_a_whole_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "out.json"
    write_atomic(str(path), b"first")
    write_atomic(str(path), b"second, longer")
    assert path.read_bytes() == b"second, longer" and os.listdir(tmp_path) == ["out.json"]
    assert sha256(str(path)) == hashlib.sha256(b"second, longer").hexdigest()


def test_a_failed_write_raises_naming_the_path_and_removes_the_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "out.parquet"
    path.write_bytes(b"previous")

    def full(src, dst):  # the data is written, the rename fails as on a full disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as info:
        write_atomic(str(path), b"new data")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["out.parquet"]


def test_a_write_into_a_removed_folder_raises_enoent_naming_the_path_and_creates_nothing(tmp_path):
    path = tmp_path / "gone" / "part_00000.parquet"  # the folder a cancelled job removed
    with pytest.raises(OSError) as info:
        write_atomic(str(path), b"late task")
    assert info.value.errno == errno.ENOENT and info.value.filename == str(path)
    assert not os.path.exists(tmp_path / "gone")
