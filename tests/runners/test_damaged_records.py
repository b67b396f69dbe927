"""Every command that reads records names a damaged one and stops: one line, exit code 2
(issue 20.7; the rule is in ``genrec_bench/records/record.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runners import compare, efficiency, reproduction, run, table1

REPO = Path(__file__).resolve().parents[2]
SASREC = "amazon2014-beauty/sasrec/cpu-seed0-2693e2b789"
POPULARITY = "amazon2014-beauty/popularity/cpu-seed0-e102a6ea0e"


def truncate_json(folder: Path) -> Path:
    path = folder / "record.json"
    path.write_text(path.read_text()[:500])
    return path


def drop_metrics(folder: Path) -> Path:
    import json

    path = folder / "record.json"
    record = json.loads(path.read_text())
    del record["metrics"]
    path.write_text(json.dumps(record))
    return path


def remove_per_user(folder: Path) -> Path:
    (folder / "per_user.npz").unlink()
    return folder / "per_user.npz"


def garble_per_user(folder: Path) -> Path:
    (folder / "per_user.npz").write_bytes(b"PK\x03\x04 not a zip")
    return folder / "per_user.npz"


COMMANDS = {
    "table1": lambda d: table1.main(["--results-dir", str(d), "--datasets", "amazon2014-beauty",
                                     "--methods", "sasrec", "popularity"]),
    "compare": lambda d: compare.main(["--results-dir", str(d), "--dataset", "amazon2014-beauty",
                                       "--methods", "sasrec", "popularity"]),
    "efficiency": lambda d: efficiency.main(["--results-dir", str(d), "--dataset", "amazon2014-beauty"]),
    "reproduction": lambda d: reproduction.main(["--results-dir", str(d)]),
}
#: what each command reads: efficiency and reproduction need no per-user file
READS_PER_USER = {"table1", "compare"}


@pytest.mark.parametrize("damage", [truncate_json, drop_metrics, remove_per_user, garble_per_user])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_record_is_named_with_exit_code_2(command, damage, tmp_path, real_data_root, monkeypatch,
                                                   capsys):
    if damage in (remove_per_user, garble_per_user) and command not in READS_PER_USER:
        pytest.skip(f"{command} does not read per_user.npz")
    monkeypatch.setenv("GENREC_DATA", str(real_data_root))
    for run_dir in (SASREC, POPULARITY):
        shutil.copytree(REPO / "results/runs" / run_dir, tmp_path / "runs" / run_dir)
    damaged = damage(tmp_path / "runs" / SASREC)
    capsys.readouterr()
    assert COMMANDS[command](tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: damaged run record ")
    assert str(damaged) in err and "--force" in err


def test_run_names_a_damaged_record_of_its_own_run(tmp_path, capsys):
    """``run`` reads the record of a finished run to say "already finished": a truncated one is named."""
    folder = tmp_path / "runs" / POPULARITY.replace("cpu-", "smoke-")
    shutil.copytree(REPO / "results/runs" / POPULARITY.replace("cpu-", "smoke-"), folder)
    damaged = truncate_json(folder)
    argv = ["--method", "popularity", "--dataset", "amazon2014-beauty", "--profile", "smoke",
            "--results-dir", str(tmp_path), "--no-progress"]
    assert run.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(damaged) in err and "--force" in err
