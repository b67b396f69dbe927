"""``runners.gencdr_efficiency`` at smoke size on the real Beauty + Sports data: LoRA trains
exactly the experts' parameters (peft's count and the LoRA formula), every (method, pool)
is measured in its own process with valid recommendations, the outputs carry the
environment and the random-weights note, and bad options are argparse errors."""

from __future__ import annotations

import json

import pytest
from torch import nn

from baselines.sasrec import PROFILES as SASREC_PROFILES
from runners import gencdr_efficiency as study

DATASET = "amazon2014-beauty+amazon2014-sports"
POOLS = (50, 100)


@pytest.fixture(scope="module")
def result(real_data_root, tmp_path_factory):
    if not (real_data_root / "amazon2014-sports").is_dir():
        pytest.skip(f"amazon2014-sports not found under {real_data_root}")
    out = tmp_path_factory.mktemp("gencdr-efficiency")
    code = study.main(["--profile", "smoke", "--steps", "3", "--pools", ",".join(map(str, POOLS)), "--users", "8",
                       "--repeats", "1", "--threads", "1", "--data-root", str(real_data_root), "--out", str(out)])
    assert code == 0
    stem = out / f"gencdr-efficiency-{DATASET}-smoke"
    files = {ext: stem.with_name(stem.name + ext) for ext in (".json", ".md", ".png")}
    return json.loads(files[".json"].read_text()), files


def _lora_parameters(module: nn.Module, r: int, targets: list[str]) -> int:
    """``r x (in + out)`` summed over the targeted ``Linear`` layers (LoRA's A and B)."""
    return sum(r * (m.in_features + m.out_features) for name, m in module.named_modules()
               if isinstance(m, nn.Linear) and name.split(".")[-1] in targets)


def test_lora_trains_only_the_experts_and_fewer_parameters_than_full_fine_tuning(result):
    from methods.gencdr import LORA_TARGETS, PROFILES, build_lm, lm_max_positions

    data, _ = result
    full, lora = data["training"]["full"], data["training"]["lora"]
    g = PROFILES["smoke"].generator
    assert full["level_sizes"][:3] == [PROFILES["smoke"].tokenizer.rqvae.codebook_size] * 3
    assert full["vocab_size"] == 2 + sum(full["level_sizes"])
    lm = build_lm(g, full["vocab_size"], lm_max_positions(PROFILES["smoke"].max_history, len(full["level_sizes"])))
    base = sum(p.numel() for p in lm.parameters())
    expert, domain = _lora_parameters(lm, g.expert_r, LORA_TARGETS), _lora_parameters(lm, g.domain_r, LORA_TARGETS)
    assert full["trainable_parameters"] == full["total_parameters"] == base
    assert lora["trainable_parameters"] == lora["peft_trainable_parameters"] == g.universal_experts * expert
    assert lora["total_parameters"] == lora["peft_total_parameters"] == base + g.universal_experts * expert + 2 * domain
    assert lora["trainable_parameters"] < full["trainable_parameters"]
    for m in (full, lora):
        assert m["domains"] == DATASET.split("+") and m["n_items"] > 1000
        assert len(m["step_seconds"]) == 3 and m["s_per_step_median"] == m["step_seconds"][2] > 0
        assert m["peak_rss_mb"] > 0 and m["hwm_reset"] in (True, False)
        assert m["torch_threads"] == 1


def test_every_method_and_pool_is_measured_with_valid_recommendations(result):
    data, _ = result
    cells = {(m["method"], m["pool"]): m for m in data["inference"]}
    assert set(cells) == {(method, pool) for method in ("gencdr", "tiger", "sasrec") for pool in POOLS}
    for m in cells.values():
        assert m["ms_per_user"] > 0 and m["peak_rss_mb"] >= 0 and m["users"] == 8
        assert m["returned_valid_fraction"] == 1.0      # every returned item lies in the pool
    # SASRec's item table has one row per item (+ padding): its size follows the pool
    hidden = SASREC_PROFILES["smoke"].hidden_size
    assert cells[("sasrec", 100)]["parameters"] - cells[("sasrec", 50)]["parameters"] == 50 * hidden
    assert cells[("sasrec", 100)]["item_table_rows"] == 101
    for method in ("gencdr", "tiger"):
        assert cells[(method, 100)]["beam_width"] == 20


def test_outputs_hold_the_environment_the_note_and_both_tables(result):
    data, files = result
    env = data["environment"]
    assert {"code", "processor", "cpu_count", "packages"} <= set(env) and "commit" in env["code"]
    assert env["torch_threads"] == 1
    assert data["random_weights"] is True and "random" in data["note"] and "1 torch thread" in data["note"]
    assert data["command"].startswith("python -m runners.gencdr_efficiency --profile smoke")
    assert data["settings"]["pools"] == list(POOLS) and data["settings"]["steps"] == 3
    markdown = files[".md"].read_text()
    assert "| full fine-tuning" in markdown and "GenCDR ms/user" in markdown and "random" in markdown
    assert files[".png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("option,value", [("--pools", "0"), ("--pools", "abc"), ("--pools", "100,-5"),
                                          ("--steps", "2"), ("--users", "0")])
def test_a_bad_value_is_an_argparse_error_naming_the_option(option, value, capsys):
    with pytest.raises(SystemExit) as stop:
        study.main([option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and value.split(",")[-1] in err


def test_an_unknown_dataset_is_a_clear_error(tmp_path, capsys):
    assert study.main(["--dataset", "amazon2014-beauty+nope", "--out", str(tmp_path)]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
