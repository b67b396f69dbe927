"""Training-step speed of the semantic-ID T5 in fp32 and with ``train_precision="bf16"``
(``tox -e bench``). Same model, same Beauty batches, same order.

Batches: one random training prefix per Beauty user (the cpu profiles' sampling), grouped by
length into batches of 256 (as ``fit_seq2seq`` does); the first ``STEPS`` batches are timed
after one warm-up step. Sizes: TIGER's cpu profile (2+2 layers, d_model 128, d_ff 512) and the
paper size (4+4 layers, d_ff 1024, 6 heads of 64). IDs: 3 x 256 codes + a disambiguation code.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from genrec_bench.generative.samples import history_windows, one_random_prefix, targets_of
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.training.batching import length_grouped_batches

STEPS = 20
SIZES = {
    "cpu-profile": dict(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=32),
    "paper": {},
}


def cpu_has_bf16() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


@pytest.fixture(scope="module")
def beauty_batches(real_data_root):
    from genrec_bench.data import load_dataset
    from genrec_bench.data.split import leave_last_out

    splits = leave_last_out(load_dataset("amazon2014-beauty", real_data_root))
    rng = np.random.default_rng(0)
    codes, dedup = add_dedup_level(rng.integers(0, 256, size=(splits.n_items, 3)))
    ids = SemanticIds(codes=np.vstack([np.zeros((1, 4), dtype=np.int64), codes]), level_sizes=(256, 256, 256, dedup))
    train = splits.train
    rows, ends = one_random_prefix(train, rng)
    batches = list(length_grouped_batches(np.minimum(ends, 20), 256, rng))[:STEPS + 1]
    data = [(history_windows(train, rows[b], ends[b], 20), targets_of(train, rows[b], ends[b])) for b in batches]
    return ids, data


def seconds_per_step(ids, data, size: dict, precision: str) -> float:
    torch.manual_seed(0)
    seq2seq = SemanticIdSeq2Seq(ids, T5GeneratorConfig(**size, train_precision=precision), torch.device("cpu"))
    optimizer = torch.optim.AdamW(seq2seq.model.parameters(), lr=1e-3)
    seq2seq.model.train()
    t0 = 0.0
    for step, (history, targets) in enumerate(data):
        if step == 1:
            t0 = time.perf_counter()                     # step 0 is the warm-up
        loss = seq2seq.loss(history, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - t0) / (len(data) - 1)


@pytest.mark.parametrize("size", list(SIZES))
def test_bf16_training_step_speed(size, beauty_batches, benchmark):
    if benchmark.disabled:
        pytest.skip("a timing comparison: run with tox -e bench (--benchmark-enable)")
    ids, data = beauty_batches
    fp32 = seconds_per_step(ids, data, SIZES[size], "fp32")
    bf16 = seconds_per_step(ids, data, SIZES[size], "bf16")
    benchmark.extra_info.update(fp32_s_per_step=fp32, bf16_s_per_step=bf16, speedup=fp32 / bf16,
                                threads=torch.get_num_threads(), cpu_bf16=cpu_has_bf16())
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\n{size}: fp32 {fp32 * 1000:.0f} ms/step, bf16 {bf16 * 1000:.0f} ms/step, "
          f"speed-up {fp32 / bf16:.2f}x ({torch.get_num_threads()} threads, cpu bf16: {cpu_has_bf16()})")
    if cpu_has_bf16():
        assert bf16 < fp32
