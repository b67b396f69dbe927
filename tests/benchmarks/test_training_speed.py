"""Training-step throughput of the semantic-ID T5 (``tox -e bench``): the former path against
``SemanticIdSeq2Seq.loss`` as it is now, at the cpu profile's size and the paper size.

Paths, one model copy and one AdamW each, same initial weights, same Beauty batches in the
same order, timed interleaved step by step in one process (so a busy machine slows all alike):

* ``labels-bf16``: the former training path: transformers' ``T5ForConditionalGeneration``
  called with ``labels=`` (it computes a loss of its own that was thrown away) under bf16
  autocast, then the cross-entropy of its logits;
* ``fast-bf16`` / ``fast-fp32``: ``SemanticIdSeq2Seq.loss`` (the written-out forward of
  ``generative/t5_training.py``) with ``train_precision`` bf16 / fp32.

Batches: one random training prefix per Beauty user (the cpu profiles' sampling), grouped by
length into batches of 256 (as ``fit_seq2seq`` does); the first ``STEPS`` batches are timed
after one warm-up step. Sizes: TIGER's cpu profile (2+2 layers, d_model 128, d_ff 512, 4 heads
of 32) and the paper size (4+4 layers, d_ff 1024, 6 heads of 64). IDs: 3 x 256 codes + a
disambiguation code. Losses of the bf16 paths are compared on every batch; they differ by
their dropout masks (different random streams) and bf16 rounding, so only their means over
the run are compared (within 2 %); ``tests/generative/test_t5_training.py`` checks equality
without dropout.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genrec_bench.generative.samples import history_windows, one_random_prefix, targets_of
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level
from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
from genrec_bench.generative.t5_generator import T5GeneratorConfig
from genrec_bench.training.batching import length_grouped_batches

STEPS = 20
BATCH = 256
SIZES = {
    "cpu-profile": dict(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=32),
    "paper": {},
}
MIN_SPEEDUP = 1.3   #: fails if the gain is lost; the issue's target (1.5x) is reported, machine noise is ~20 %


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
    batches = list(length_grouped_batches(np.minimum(ends, 20), BATCH, rng))[:STEPS + 1]
    data = [(history_windows(train, rows[b], ends[b], 20), targets_of(train, rows[b], ends[b])) for b in batches]
    return ids, data


def labels_path_loss(seq2seq: SemanticIdSeq2Seq, history: np.ndarray, targets: np.ndarray) -> torch.Tensor:
    """The training loss as computed before the written-out forward (bf16 autocast)."""
    input_ids, mask = seq2seq.encoder_inputs(history)
    labels = seq2seq.item_tokens[torch.from_numpy(targets)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = seq2seq.model(input_ids=input_ids, attention_mask=mask, labels=labels).logits
    logits = logits.float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def interleaved_seconds(ids, data, size: dict) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per step and mean loss of each path, timed step by step in turn."""
    torch.manual_seed(0)
    base = SemanticIdSeq2Seq(ids, T5GeneratorConfig(**size), torch.device("cpu"))
    paths = {}
    for name, precision in (("labels-bf16", "bf16"), ("fast-bf16", "bf16"), ("fast-fp32", "fp32")):
        seq2seq = copy.deepcopy(base)
        seq2seq.precision = precision
        seq2seq.model.train()
        loss_fn = (lambda s, h, t: labels_path_loss(s, h, t)) if name == "labels-bf16" else \
            (lambda s, h, t: s.loss(h, t))
        paths[name] = (seq2seq, torch.optim.AdamW(seq2seq.model.parameters(), lr=1e-3), loss_fn)
    seconds = {name: 0.0 for name in paths}
    losses = {name: [] for name in paths}
    for step, (history, targets) in enumerate(data):
        for name, (seq2seq, optimizer, loss_fn) in paths.items():
            start = time.perf_counter()
            loss = loss_fn(seq2seq, history, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            elapsed = time.perf_counter() - start
            if step > 0:                                 # step 0 is the warm-up
                seconds[name] += elapsed
                losses[name].append(loss.item())
    timed = len(data) - 1
    return ({name: s / timed for name, s in seconds.items()},
            {name: float(np.mean(values)) for name, values in losses.items()})


@pytest.mark.parametrize("size", list(SIZES))
def test_training_step_throughput(size, beauty_batches, benchmark):
    if benchmark.disabled:
        pytest.skip("a timing comparison: run with tox -e bench (--benchmark-enable)")
    torch.set_num_threads(1)
    ids, data = beauty_batches
    seconds, losses = interleaved_seconds(ids, data, SIZES[size])
    per_second = {name: BATCH / s for name, s in seconds.items()}
    speedup = seconds["labels-bf16"] / seconds["fast-bf16"]
    benchmark.extra_info.update(samples_per_second=per_second, mean_loss=losses, speedup=speedup,
                                threads=torch.get_num_threads(), cpu_bf16=cpu_has_bf16(), steps=len(data) - 1)
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\n{size}: samples/s " + ", ".join(f"{name} {value:.0f}" for name, value in per_second.items())
          + f"; fast-bf16 / labels-bf16 {speedup:.2f}x; mean losses "
          + ", ".join(f"{name} {value:.4f}" for name, value in losses.items())
          + f" ({torch.get_num_threads()} thread, cpu bf16: {cpu_has_bf16()})")
    assert losses["fast-bf16"] == pytest.approx(losses["labels-bf16"], rel=2e-2)
    assert speedup >= MIN_SPEEDUP
    if cpu_has_bf16():
        assert seconds["fast-bf16"] < seconds["fast-fp32"]
