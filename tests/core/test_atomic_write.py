"""Atomic writes: whole files only, and the same permissions as any new file (issue 20.2)."""

import os
import stat

import pytest

from genrec_bench.records.atomic import atomic_write_bytes, atomic_write_json


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        written = [atomic_write_bytes(tmp_path / "a.bin", b"x"), atomic_write_json(tmp_path / "b.json", {"a": 1})]
    finally:
        os.umask(old)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_the_umask_is_left_as_it_was(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(old)


def test_no_temporary_file_is_left_behind(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"old")
    atomic_write_bytes(tmp_path / "a.bin", b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"] and (tmp_path / "a.bin").read_bytes() == b"new"
