"""Records name data files relative to the data root (issue 20.3), and the one-time migration
of the committed records changed nothing but those paths."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from genrec_bench.records.data_paths import migrate_record, record_text, relative_to_root

REPO = Path(__file__).resolve().parents[2]
RECORDS = sorted(REPO.glob("results/runs/*/*/*/record.json"))
#: the commit before the migration, and the data root the records named then
MIGRATED_FROM, OLD_ROOT = "6e4110fdfe9d2f94576dbe3a4c5d8b1d56564b14", "/work/shared/data"


def strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from strings(value)


def test_relative_to_root_rewrites_only_paths_under_the_root():
    provenance = {"folder": "/data/root/beauty", "root": "/data/root", "other": "/data/rooted/x",
                  "files": [{"path": "/data/root/beauty/a.txt", "sha256": "ab", "bytes": 3}], "n": 1.5}
    assert relative_to_root(provenance, "/data/root/") == {
        "folder": "beauty", "root": ".", "other": "/data/rooted/x",
        "files": [{"path": "beauty/a.txt", "sha256": "ab", "bytes": 3}], "n": 1.5}


def test_committed_records_name_no_absolute_data_path():
    assert RECORDS
    for path in RECORDS:
        absolute = [s for s in strings(json.loads(path.read_text())["data"]) if s.startswith("/")]
        assert not absolute, f"{path}: {absolute[:2]}"


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True)


def test_the_migration_changed_the_paths_and_nothing_else(tmp_path):
    if git("cat-file", "-e", f"{MIGRATED_FROM}^{{commit}}").returncode != 0:
        pytest.skip("the history before the migration is not in this clone")
    compared = 0
    for path in RECORDS:
        relative = path.relative_to(REPO).as_posix()
        old = git("show", f"{MIGRATED_FROM}:{relative}")
        if old.returncode != 0:
            continue                                   # a record made after the migration
        copy = tmp_path / f"{compared}.json"
        copy.write_bytes(old.stdout)
        migrate_record(copy, OLD_ROOT)
        if copy.read_bytes() != path.read_bytes():
            continue                                   # re-made since: not the migration's doing
        before, after = json.loads(old.stdout), json.loads(path.read_text())
        assert after["run_id"] == path.parent.name == before["run_id"]
        assert {k: v for k, v in after.items() if k != "data"} == {k: v for k, v in before.items() if k != "data"}
        assert after["data"]["counts"] == before["data"]["counts"]
        assert record_text(after) == path.read_text()
        per_user = f"{path.parent.relative_to(REPO).as_posix()}/per_user.npz"
        blob = git("rev-parse", f"{MIGRATED_FROM}:{per_user}").stdout.strip()
        assert git("hash-object", str(path.parent / "per_user.npz")).stdout.strip() == blob, per_user
        compared += 1
    assert compared >= 40          # the 49 records of the migration, less any re-made since
