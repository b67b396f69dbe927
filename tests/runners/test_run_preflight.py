"""``runners.run`` checks what a user typed before any data is loaded or trained, reports every
user error in one line with exit code 2, and writes records that are the same on every
machine (issues 20.3, 20.5, 20.6, 20.8, 20.10)."""

from __future__ import annotations

import json

import pytest
import torch

from genrec_bench.evaluation import EvalConfig
from genrec_bench.experiment import api
from runners import run

SMOKE = ["--method", "sasrec", "--dataset", "amazon2014-beauty", "--profile", "smoke", "--no-progress"]


@pytest.fixture
def no_loading(monkeypatch):
    """Any input that reaches the data (let alone training) fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the error was found")

    monkeypatch.setattr(api, "load_dataset", refuse)   # the run itself is genrec_bench.run


def one_line(capsys, *words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(("argv", "words"), [
    (["--seed", "-1"], ["--seed", "0..4294967295"]),
    (["--seed", str(2**32)], ["--seed", "0..4294967295"]),
    (["--seed", "abc"], ["--seed", "'abc'"]),
    (["--eval-batch-size", "0"], ["--eval-batch-size", "positive"]),
    (["--threads", "0"], ["--threads", "positive"]),
])
def test_bad_numbers_are_one_line_usage_errors(argv, words, tmp_path, capsys, no_loading):
    with pytest.raises(SystemExit) as stop:
        run.main([*SMOKE, "--results-dir", str(tmp_path), *argv])
    assert stop.value.code == 2
    one_line(capsys, *words)


@pytest.mark.parametrize(("argv", "words"), [
    (["--device", "cuda:99"], ["--device 'cuda:99'"]),
    (["--device", "nonsense"], ["--device 'nonsense'"]),
    (["--set", "selection_metric=foo"], ["selection_metric", "'foo'"]),
    (["--set", "selection_metric=ndcg@0"], ["selection_metric"]),
])
def test_bad_options_are_found_before_the_data_is_loaded(argv, words, tmp_path, capsys, no_loading):
    assert run.main([*SMOKE, "--results-dir", str(tmp_path), *argv]) == 2
    one_line(capsys, *words)
    assert not (tmp_path / "checkpoints").exists()


def test_a_results_dir_that_is_a_file_is_found_before_the_data_is_loaded(tmp_path, capsys, no_loading):
    (tmp_path / "results").write_text("not a folder")
    assert run.main([*SMOKE, "--results-dir", str(tmp_path / "results")]) == 2
    one_line(capsys, "not a folder")


def test_a_results_dir_without_write_permission_is_refused(tmp_path, capsys, no_loading):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through permission bits")
    (tmp_path / "ro").mkdir(mode=0o555)
    assert run.main([*SMOKE, "--results-dir", str(tmp_path / "ro")]) == 2
    one_line(capsys, "cannot write")


def test_the_world_size_is_part_of_the_run_identity():
    config, evaluation = {"batch_size": 256}, EvalConfig()
    single = api.run_identity(config, evaluation)
    assert "world_size" not in single                       # the ids of existing records stay
    assert api.run_identity(config, evaluation, world_size=2) == {**single, "world_size": 2}


def test_a_torchrun_record_says_torchrun(monkeypatch):
    argv = ["--method", "sasrec", "--seed", "0"]
    assert run.launch_command(argv, 1) == "python -m runners.run --method sasrec --seed 0"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert run.launch_command(argv, 2) == "torchrun --nproc_per_node 2 -m runners.run --method sasrec --seed 0"
    assert run.launch_command(argv, 4) == \
        "torchrun --nnodes 2 --nproc_per_node 2 -m runners.run --method sasrec --seed 0"


def test_epoch_samples_count_every_rank(monkeypatch):
    monkeypatch.setattr(api, "all_gather_objects", lambda obj: [obj, [s + 1 for s in obj]])
    assert api._all_ranks_samples([{"samples": 10}, {"samples": 12}]) == [21, 25]


def test_interrupted_message_names_the_epoch_to_resume_from(tmp_path):
    checkpoint = tmp_path / "training.pt"
    assert run.interrupted_message(checkpoint) == "interrupted; rerun the same command to resume from epoch 1"
    torch.save({"epoch": 3, "train_time_s": 1.0, "finished": False}, checkpoint)
    assert run.interrupted_message(checkpoint) == "interrupted; rerun the same command to resume from epoch 4"


def test_a_record_names_data_files_relative_to_the_root_and_its_threads(tmp_path, real_data_root):
    before = torch.get_num_threads()
    try:
        assert run.main(["--method", "popularity", "--dataset", "amazon2014-beauty", "--profile", "smoke",
                         "--results-dir", str(tmp_path), "--data-root", str(real_data_root), "--no-progress",
                         "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    (path,) = tmp_path.glob("runs/*/*/*/record.json")
    record = json.loads(path.read_text())
    provenance = record["data"]["provenance"]
    assert provenance["folder"] == "amazon2014-beauty"
    assert [f["path"] for f in provenance["files"]][0] == "amazon2014-beauty/sequential_data.txt"
    assert str(real_data_root) not in json.dumps(record["data"])     # (the command keeps what was typed)
    assert record["environment"]["torch_threads"] == 1 and "--threads 1" in record["command"]
    assert record["timings"]["processes"] == 1 and "resumes" not in record["training"]
    assert not list(tmp_path.glob("checkpoints/**/*.*"))      # checkpoint and process log removed
