"""What one fresh process of ``runners.gencdr_efficiency`` measures.

(It lives beside the methods it builds, not in ``runners/``: no runner imports another
runner's module, and the core never imports ``methods``.)

Each probe runs alone in its own process (the runner starts one per probe), so peak memory
is that probe's own: ``ru_maxrss`` growth over the process's baseline taken after its
imports and data preparation (on Linux the high-water mark is first reset to the current
RSS through ``/proc/self/clear_refs``, so memory the imports touched and released does not
hide the probe's growth).

* :class:`TrainProbe`: GenCDR's decoder-only LM (``methods.gencdr.build_lm`` at a profile's
  ``GenCDRGeneratorConfig``) trained for a few AdamW steps on real training windows of a
  dataset (``random_windows`` + ``sequence_batch``, the profile's batch size, GenCDR's lr,
  weight decay and gradient clipping), either fully (every parameter trainable) or as
  GenCDR's phase 1 trains it: the base frozen, the profile's ``universal_experts`` peft LoRA
  experts (``expert_r``, ``expert_alpha``, ``lora_dropout``, ``LORA_TARGETS``) active and
  trained together, one inactive domain adapter per domain attached (``GenCDR._fit_lm``).
  The vocabulary is sized as GenCDR sizes it: random codes for every item of the dataset
  at the tokenizer's level sizes plus the disambiguation level (``add_dedup_level``). Random
  codes collide less than learned ones, so the disambiguation level (and the vocabulary) may
  be a few tokens smaller than after a real tokenizer fit.
* :class:`DecodeProbe`: one method's real decoding path for ``users`` random histories of
  ``history`` items over a catalogue of ``pool`` items, in chunks of the evaluator's batch
  size, ``top_k`` items per user:

  - ``gencdr``: ``GenCDR.recommend`` (``_decode``: the universal and the domain model with
    one KV cache each, mixed by the user router, beam search constrained by the domain's
    prefix trie). The instance is assembled without ``fit``: a random LM with the
    universal experts and one domain adapter attached as ``_fit_lm`` attaches them, an
    untrained user router, one domain holding the whole pool. Left out: the tokenizer
    (RQ-VAE, encoder adapters, item router), which decoding never runs: it reads the
    items' codes only.
  - ``tiger``: ``TIGER.recommend`` -> ``SemanticIdSeq2Seq.decode`` (encoder once per user,
    trie-constrained beam search, the profile's beam width).
  - ``sasrec``: ``SASRec.recommend``: scores of the whole catalogue (``pool + 1`` rows)
    and top-k.

  Weights are random (untrained; peft's LoRA B matrices are zero at initialisation): the
  cost of a forward pass, a beam step or a top-k does not depend on their values.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
import traceback
from dataclasses import dataclass

import numpy as np

METHODS = ("gencdr", "tiger", "sasrec")
MODES = ("full", "lora")
WARMUP_STEPS = 2  #: training steps excluded from the timing


@dataclass(frozen=True)
class TrainProbe:
    """Attributes:
    mode: ``full`` (every parameter trainable) or ``lora`` (GenCDR's universal experts).
    dataset, data_root: the real dataset whose training windows are used.
    profile: the GenCDR profile (model size, batch size, LoRA settings).
    steps: optimizer steps (the first ``WARMUP_STEPS`` are not timed).
    seed: codes, windows and weights (both modes see the same batches).
    threads: ``torch.set_num_threads`` in the probe's process (None = torch's default).
    """

    mode: str
    dataset: str
    data_root: str | None
    profile: str
    steps: int
    seed: int
    threads: int | None

    def label(self) -> str:
        return f"training ({self.mode})"


@dataclass(frozen=True)
class DecodeProbe:
    """Attributes:
    method: ``gencdr``, ``tiger`` or ``sasrec``.
    pool: catalogue size (items ``1..pool``).
    users, history: how many users, and items per history (random items of the pool).
    profile: each method's profile (model size, beam width, history read).
    top_k: items asked per user.
    repeats: timed passes over all users (the median is reported), after one warm-up call.
    seed, threads: as in :class:`TrainProbe`.
    """

    method: str
    pool: int
    users: int
    history: int
    profile: str
    top_k: int
    repeats: int
    seed: int
    threads: int | None

    def label(self) -> str:
        return f"decoding ({self.method}, {self.pool} items)"


def run_probe(probe: TrainProbe | DecodeProbe, conn) -> None:
    """Process entry point: measure ``probe`` and send ``("ok", dict)`` or ``("error", traceback)``."""
    try:
        result = measure_training(probe) if isinstance(probe, TrainProbe) else measure_decoding(probe)
        conn.send(("ok", result))
    except BaseException:  # noqa: B036 - the parent must hear about any failure
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


# ----------------------------------------------------------------------------- memory


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0); False
    where that is not possible (then growth is measured from the inherited high-water mark)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def max_rss_mb() -> float:
    """``ru_maxrss`` of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _baseline() -> dict:
    gc.collect()
    reset = reset_peak_rss()
    return {"hwm_reset": reset, "baseline_rss_mb": max_rss_mb()}


def _set_threads(threads: int | None) -> int:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


# ----------------------------------------------------------------------------- shared pieces


def random_semantic_ids(n_items: int, level_sizes: tuple[int, ...], rng: np.random.Generator):
    """``SemanticIds`` of ``n_items`` items: uniform random codes of ``level_sizes`` plus
    the disambiguation level (row 0 = the padding item)."""
    from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level

    codes = np.stack([rng.integers(0, size, n_items) for size in level_sizes], axis=1)
    full, dedup = add_dedup_level(codes)
    return SemanticIds(codes=np.vstack([np.zeros((1, full.shape[1]), dtype=np.int64), full]),
                       level_sizes=(*level_sizes, dedup), dedup_level=True,
                       config={"codes": "uniform random (efficiency study)"})


def gencdr_level_sizes(cfg) -> tuple[int, ...]:
    """GenCDR's code levels before disambiguation (its universal RQ-VAE)."""
    rq = cfg.tokenizer.rqvae
    return (rq.codebook_size,) * rq.levels


def tiger_level_sizes(cfg) -> tuple[int, ...]:
    """TIGER's code levels before disambiguation (its configured tokenizer)."""
    tok = cfg.rqvae if cfg.tokenizer == "rqvae" else cfg.rqkmeans
    return (tok.codebook_size,) * tok.levels


def attach_gencdr_adapters(lm, g, n_domains: int):
    """``methods.gencdr.attach_lora`` with the universal experts active and trainable (phase 1)."""
    from methods.gencdr import attach_lora, set_active

    peft_lm, experts = attach_lora(lm, g, n_domains)
    set_active(peft_lm, experts, trainable=experts)
    return peft_lm, experts


# ----------------------------------------------------------------------------- training


def training_batches(tokens: np.ndarray, train, users: np.ndarray, max_items: int, batch_size: int,
                     steps: int, rng: np.random.Generator) -> list:
    """``steps`` batches ``(input_ids [B, T], attention_mask [B, T])`` as GenCDR's LM stages
    make them: per pass one random window of up to ``max_items`` items per user, shuffled,
    cut into batches of ``batch_size`` (further passes when one is not enough)."""
    from methods.gencdr import random_windows, sequence_batch

    batches: list = []
    while len(batches) < steps:
        rows, ends = random_windows(train, users, max_items, rng)
        order = rng.permutation(rows.shape[0])
        for start in range(0, order.shape[0], batch_size):
            b = order[start:start + batch_size]
            batches.append(sequence_batch(tokens, train, rows[b], ends[b], max_items))
            if len(batches) == steps:
                break
    return batches


def measure_training(probe: TrainProbe) -> dict:
    """Train GenCDR's LM for ``probe.steps`` steps; parameters, seconds per step, peak memory."""
    import torch

    from genrec_bench.data.catalog import load_dataset, resolve_data_root
    from genrec_bench.data.split import leave_last_out
    from methods.gencdr import PROFILES, build_lm, lm_logits, lm_max_positions, token_nll

    threads = _set_threads(probe.threads)
    cfg = PROFILES[probe.profile]
    g = cfg.generator
    splits = leave_last_out(load_dataset(probe.dataset, resolve_data_root(probe.data_root)))
    n_domains = max(1, len(splits.dataset.domains))
    rng = np.random.default_rng(probe.seed)
    ids = random_semantic_ids(splits.n_items, gencdr_level_sizes(cfg), rng)
    users = np.flatnonzero(splits.train.lengths >= 1)
    batches = training_batches(ids.tokens(), splits.train, users, cfg.max_history + 1, cfg.batch_size,
                               probe.steps, rng)
    memory = _baseline()   # after imports and data preparation

    torch.manual_seed(probe.seed)
    model = build_lm(g, ids.vocab_size, lm_max_positions(cfg.max_history, ids.length))
    facts: dict = {}
    if probe.mode == "lora":
        model, experts = attach_gencdr_adapters(model, g, n_domains)
        peft_trainable, peft_total = model.get_nb_trainable_parameters()
        facts = {"adapters_trained": experts, "domain_adapters_attached": n_domains,
                 "lora_r": g.expert_r, "lora_alpha": g.expert_alpha, "lora_dropout": g.lora_dropout,
                 "peft_trainable_parameters": int(peft_trainable), "peft_total_parameters": int(peft_total)}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    seconds, losses = [], []
    for input_ids, mask in batches:
        start = time.perf_counter()
        loss = token_nll(lm_logits(model, input_ids, mask), input_ids, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        seconds.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))
    peak = max_rss_mb()
    timed = seconds[WARMUP_STEPS:]
    return {
        "mode": probe.mode,
        "trainable_parameters": int(sum(p.numel() for p in params)),
        "total_parameters": int(sum(p.numel() for p in model.parameters())),
        **facts,
        "steps": probe.steps, "warmup_steps": WARMUP_STEPS, "step_seconds": seconds,
        "s_per_step_median": statistics.median(timed) if timed else None,
        "loss_first": losses[0], "loss_last": losses[-1],
        "peak_rss_mb": peak - memory["baseline_rss_mb"], "peak_rss_abs_mb": peak, **memory,
        "batch_size": cfg.batch_size, "tokens_per_batch_mean": float(np.mean([int(m.sum()) for _, m in batches])),
        "sequence_tokens_max": int(max(ids_.shape[1] for ids_, _ in batches)),
        "n_items": splits.n_items, "n_users": splits.n_users, "domains": list(splits.dataset.domains),
        "level_sizes": list(ids.level_sizes), "vocab_size": ids.vocab_size,
        "generator": {"hidden_size": g.hidden_size, "layers": g.layers, "heads": g.heads,
                      "kv_heads": g.kv_heads, "intermediate_size": g.intermediate_size},
        "torch_threads": threads,
    }


# ----------------------------------------------------------------------------- decoding


def random_histories(pool: int, users: int, history: int, seed: int):
    """``HistoryBatch`` of ``users`` histories of ``history`` uniform random items of ``1..pool``
    (the same for every method at this pool size)."""
    from genrec_bench.data.types import Sequences
    from genrec_bench.recommender import HistoryBatch

    rng = np.random.default_rng([seed, pool])
    items = rng.integers(1, pool + 1, size=users * history).astype(np.int64)
    offsets = np.arange(0, users * history + 1, history, dtype=np.int64)
    return HistoryBatch(users=np.arange(users, dtype=np.int64), sequences=Sequences(items=items, offsets=offsets))


def build_gencdr(profile: str, pool: int, users: int, seed: int):
    """A ``GenCDR`` ready for ``recommend`` over ``pool`` items (one domain), random weights."""
    import torch

    from methods.gencdr import (
        PROFILES,
        GenCDR,
        VIBRouter,
        build_lm,
        domain_tries,
        lm_max_positions,
        set_active,
    )

    cfg = PROFILES[profile]
    g = cfg.generator
    ids = random_semantic_ids(pool, gencdr_level_sizes(cfg), np.random.default_rng([seed, pool, 1]))
    model = GenCDR(cfg, device=torch.device("cpu"), seed=seed)
    model.domains = ("pool",)
    model.item_domain = np.zeros(pool + 1, dtype=np.int64)
    model.item_domain[0] = -1
    model.user_domain = np.zeros(users, dtype=np.int64)
    model.ids, model.tokens = ids, ids.tokens()
    model.tries = domain_tries(ids, model.item_domain, 1)
    lm = build_lm(g, ids.vocab_size, lm_max_positions(cfg.max_history, ids.length))
    model.lm, model.experts = attach_gencdr_adapters(lm, g, n_domains=1)
    set_active(model.lm, model.experts)
    model.lm.eval()
    model.user_router = VIBRouter(g.hidden_size, g.router_hidden, g.router_bottleneck).eval()
    return model, {"level_sizes": list(ids.level_sizes), "vocab_size": ids.vocab_size,
                   "beam_width": cfg.beam_width, "history_read": cfg.max_history}


def build_tiger(profile: str, pool: int, users: int, seed: int):
    """A ``TIGER`` ready for ``recommend`` over ``pool`` items, random weights."""
    import torch

    from genrec_bench.generative.seq2seq import SemanticIdSeq2Seq
    from methods.tiger import PROFILES, TIGER

    cfg = PROFILES[profile]
    ids = random_semantic_ids(pool, tiger_level_sizes(cfg), np.random.default_rng([seed, pool, 2]))
    model = TIGER(cfg, device=torch.device("cpu"), seed=seed)
    model.seq2seq = SemanticIdSeq2Seq(ids, cfg.generator, torch.device("cpu"))
    model.model = model.seq2seq.model.eval()
    return model, {"level_sizes": list(ids.level_sizes), "vocab_size": ids.vocab_size,
                   "beam_width": cfg.training.beam_width, "history_read": cfg.training.max_history}


def build_sasrec(profile: str, pool: int, users: int, seed: int):
    """A ``SASRec`` with an item table of ``pool + 1`` rows, random weights."""
    import torch

    from baselines.sasrec import PROFILES, SASRec
    from genrec_bench.modules import SequenceTransformer

    cfg = PROFILES[profile]
    model = SASRec(cfg, device=torch.device("cpu"), seed=seed)
    model.net = SequenceTransformer(n_tokens=pool + 1, hidden_size=cfg.hidden_size, n_layers=cfg.n_layers,
                                    n_heads=cfg.n_heads, inner_size=cfg.inner_size, dropout=cfg.dropout,
                                    max_len=cfg.max_len, causal=True).eval()
    return model, {"item_table_rows": pool + 1, "history_read": cfg.max_len}


BUILDERS = {"gencdr": build_gencdr, "tiger": build_tiger, "sasrec": build_sasrec}


def measure_decoding(probe: DecodeProbe) -> dict:
    """Decode ``probe.users`` histories; milliseconds per user and peak memory."""
    import torch

    from genrec_bench.evaluation import EvalConfig

    threads = _set_threads(probe.threads)
    histories = random_histories(probe.pool, probe.users, probe.history, probe.seed)
    chunk = EvalConfig().batch_size
    chunks = [type(histories)(users=histories.users[s:s + chunk],
                              sequences=histories.sequences.select(np.arange(s, min(s + chunk, probe.users))))
              for s in range(0, probe.users, chunk)]
    memory = _baseline()   # after imports and data preparation

    torch.manual_seed(probe.seed)
    start = time.perf_counter()
    model, facts = BUILDERS[probe.method](probe.profile, probe.pool, probe.users, probe.seed)
    build_s = time.perf_counter() - start
    warm = chunks[0].sequences.select(np.arange(min(16, probe.users)))
    with torch.no_grad():
        model.recommend(type(histories)(users=chunks[0].users[:len(warm)], sequences=warm), probe.top_k)
        passes, items = [], []
        for _ in range(probe.repeats):
            start = time.perf_counter()
            items = [model.recommend(batch, probe.top_k).items for batch in chunks]
            passes.append(time.perf_counter() - start)
    peak = max_rss_mb()
    returned = torch.cat(items)                                               # [users, top_k]
    ms = [1000.0 * s / probe.users for s in passes]
    return {
        "method": probe.method, "pool": probe.pool, "users": probe.users, "history": probe.history,
        "top_k": probe.top_k, "chunk_users": chunk, "repeats": probe.repeats,
        "ms_per_user": statistics.median(ms), "ms_per_user_passes": ms, "build_s": build_s,
        "parameters": int(model.num_parameters()["total"]), **facts,
        "returned_valid_fraction": float(((returned >= 1) & (returned <= probe.pool)).float().mean()),
        "peak_rss_mb": peak - memory["baseline_rss_mb"], "peak_rss_abs_mb": peak, **memory,
        "torch_threads": threads,
    }
