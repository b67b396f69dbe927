"""Reading records for tables: damaged files are named (issue 20.7), and per-user values are
paired only across the same users with the same targets (issue 19.5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genrec_bench.records.record import DamagedRecordError, find_records, load_per_user
from genrec_bench.tables.cells import UnpairedUsersError, collect
from genrec_bench.tables.columns import measured_column

USERS = np.arange(6)


def write_run(results: Path, method: str, seed: int, users=USERS, targets=None, ranks=None) -> Path:
    """A minimal finished record of ``method`` on dataset ``d`` (profile cpu) with its test arrays."""
    targets = users + 100 if targets is None else np.asarray(targets)
    ranks = np.arange(1, len(users) + 1) if ranks is None else np.asarray(ranks)
    folder = results / "runs" / "d" / method / f"cpu-seed{seed}-abc"
    folder.mkdir(parents=True)
    np.savez(folder / "per_user.npz", test_users=np.asarray(users), test_targets=targets, test_ranks=ranks,
             test_tied=np.zeros(len(users)))
    record = {"run_id": folder.name, "method": method, "dataset": "d", "profile": "cpu", "seed": seed,
              "metrics": {"test": {}}, "finished_at": f"2026-01-0{seed + 1}"}
    (folder / "record.json").write_text(json.dumps(record))
    return folder / "record.json"


# --- 19.5: pairing ---------------------------------------------------------------------------

def test_seeds_with_the_same_count_of_different_users_are_not_paired(tmp_path):
    first = write_run(tmp_path, "m", 0)
    second = write_run(tmp_path, "m", 1, users=USERS + 1)
    with pytest.raises(UnpairedUsersError, match="different users") as error:
        collect(tmp_path, "d", "m", "cpu", None)
    assert str(first) in str(error.value) and str(second) in str(error.value)


def test_seeds_with_different_targets_are_not_paired(tmp_path):
    write_run(tmp_path, "m", 0)
    write_run(tmp_path, "m", 1, targets=np.r_[USERS[:-1] + 100, 7])
    with pytest.raises(UnpairedUsersError, match="different test targets for 1 of 6 users"):
        collect(tmp_path, "d", "m", "cpu", None)


def test_seeds_in_another_user_order_are_paired_by_user(tmp_path):
    write_run(tmp_path, "m", 0)
    write_run(tmp_path, "m", 1, users=USERS[::-1], targets=USERS[::-1] + 100, ranks=np.arange(6, 0, -1))
    found = collect(tmp_path, "d", "m", "cpu", None)
    assert np.array_equal(found.ranks[0], found.ranks[1])


@pytest.mark.parametrize(("users", "targets", "message"), [
    (USERS + 10, None, "different users"),                                   # same count, other users
    (USERS[:5], None, r"\(6 test users\) and .* \(5\)"),                     # fewer users
    (USERS, USERS + 200, "different test targets for 6 of 6 users"),          # same users, other targets
])
def test_methods_of_a_column_pair_only_the_same_users_and_targets(tmp_path, users, targets, message):
    a = write_run(tmp_path, "a", 0)
    b = write_run(tmp_path, "b", 0, users=users, targets=targets, ranks=np.ones(len(users), dtype=int))
    measured = {m: collect(tmp_path, "d", m, "cpu", None) for m in ("a", "b")}
    with pytest.raises(UnpairedUsersError, match=message) as error:
        measured_column(measured, "ndcg@10", "d")
    assert str(a) in str(error.value) and str(b) in str(error.value)


# --- 20.7: damaged records -------------------------------------------------------------------

@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.write_text(p.read_text()[:40]), "not valid JSON"),
    (lambda p: p.write_text(json.dumps({k: v for k, v in json.loads(p.read_text()).items() if k != "metrics"})),
     "lacks 'metrics'"),
    (lambda p: p.write_text("[]"), "not an object"),
])
def test_a_damaged_record_json_is_named(tmp_path, damage, message):
    path = write_run(tmp_path, "m", 0)
    damage(path)
    with pytest.raises(DamagedRecordError, match=message) as error:
        find_records(tmp_path, dataset="d")
    assert str(path) in str(error.value) and "--force" in str(error.value)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.unlink(), "missing"),
    (lambda p: p.write_bytes(b"garbage"), "not a readable .npz"),
    (lambda p: p.write_bytes(p.read_bytes()[:100]), "not a readable .npz"),
    (lambda p: np.savez(p, other=np.ones(2)), "lacks the arrays 'test_users', 'test_targets'"),
])
def test_a_damaged_per_user_file_is_named(tmp_path, damage, message):
    record = write_run(tmp_path, "m", 0)
    damage(record.parent / "per_user.npz")
    with pytest.raises(DamagedRecordError, match=message) as error:
        load_per_user(record)
    assert str(record.parent / "per_user.npz") in str(error.value)


def test_a_damaged_record_of_another_dataset_does_not_stop_this_one(tmp_path):
    write_run(tmp_path, "m", 0)
    other = tmp_path / "runs" / "e" / "m" / "cpu-seed0-x"
    other.mkdir(parents=True)
    (other / "record.json").write_text("{")
    assert [r["method"] for r in find_records(tmp_path, dataset="d")] == ["m"]
    with pytest.raises(DamagedRecordError):
        find_records(tmp_path)
